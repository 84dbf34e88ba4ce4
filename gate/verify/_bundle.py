"""Sigstore bundles (v0.1–v0.3): keyless through sigstore-python's ``Verifier``, keyed by hand.

Keyless bundles go to ``Verifier.verify_dsse`` / ``verify_artifact`` with a policy that accepts any
certificate identity and records it; the identity is compared with configuration only after the
whole bundle verified, so "untrusted" always means a sound signature. sigstore-python refuses
bundles that carry a public key instead of a certificate; for those the signature is checked with
``cryptography`` against the configured keys and the log entry with sigstore's entry verifier.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gate.errors import VerificationError
from gate.evidence import DsseEnvelope, SigstoreBundle
from gate.verify import _tlog
from gate.verify._keys import digest_signature_matches, signature_matches
from gate.verify._model import INVALID, VerifiedSigner
from gate.verify._signers import key_signer, keyless_signer, trusted_key
from gate.verify._trust import TrustPolicy

if TYPE_CHECKING:  # sigstore and cryptography are imported when a bundle is read: an unsigned image never loads them
    from cryptography import x509

    from gate.verify import _certs
    from gate.verify._keys import PublicKey
    from sigstore.hashes import Hashed
    from sigstore_models.bundle.v1 import Bundle as BundleDocument
    from sigstore_models.common.v1 import MessageSignature
    from sigstore_models.intoto import Envelope


@functools.cache
def library_errors() -> tuple[type[Exception], ...]:
    """What sigstore, its models and cryptography raise for a bundle that does not parse or verify."""
    from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
    from sigstore.errors import Error as SigstoreError

    return (SigstoreError, ValueError, TypeError, KeyError, InvalidSignature, UnsupportedAlgorithm)


@dataclass(frozen=True)
class BundleResult:
    """A verified bundle: its signer and, for DSSE bundles, the envelope's payload type and payload."""

    signer: VerifiedSigner
    payload_type: str | None = None
    payload: bytes | None = None


class _RecordingPolicy:
    """A sigstore ``VerificationPolicy`` that lets every identity through and remembers it."""

    identity: _certs.CertIdentity | None = None

    def verify(self, cert: x509.Certificate) -> None:
        from sigstore.errors import VerificationError as SigstoreVerificationError

        from gate.verify import _certs

        try:
            self.identity = _certs.identity_of(cert)
        except VerificationError as exc:
            raise SigstoreVerificationError(exc.message) from exc


def verify_bundle(bundle: SigstoreBundle, trust: TrustPolicy, now: dt.datetime, *, artifact_digest: str | None = None) -> BundleResult:
    """Verify a bundle. ``artifact_digest`` (``sha256:<hex>``) is required for message-signature bundles.

    DSSE bundles are returned with their payload; checking the statement's subject is the caller's.

    Raises:
        VerificationError: ``details["status"]`` is ``untrusted`` or ``invalid``.
    """
    from sigstore_models.bundle.v1 import Bundle as BundleDocument

    try:
        document = BundleDocument.from_json(bundle.raw)
    except library_errors() as exc:
        raise VerificationError(f"{bundle.source}: not a valid Sigstore bundle: {exc}") from exc
    if document.verification_material.public_key is not None:
        return _keyed(bundle, document, trust, now, artifact_digest)
    return _keyless(bundle, trust, now, artifact_digest)


def _keyless(bundle: SigstoreBundle, trust: TrustPolicy, now: dt.datetime, artifact_digest: str | None) -> BundleResult:
    from sigstore.models import Bundle

    policy = _RecordingPolicy()
    try:
        parsed = Bundle.from_json(bundle.raw)
        verifier = trust.bundle_verifier
        if parsed._inner.dsse_envelope is not None:
            payload_type, payload = verifier.verify_dsse(parsed, policy)
        else:
            verifier.verify_artifact(_hashed(artifact_digest, bundle.source), parsed, policy)
            payload_type, payload = None, None
    except library_errors() as exc:
        raise VerificationError(f"{bundle.source}: Sigstore bundle does not verify: {exc}") from exc
    integrated = parsed.log_entry._inner.integrated_time
    if integrated:
        _tlog.integrated_at(integrated, now)
    if policy.identity is None:  # unreachable: the Verifier runs the policy before it can succeed
        raise VerificationError(f"{bundle.source}: the bundle's certificate identity was never checked")
    signer = keyless_signer(policy.identity, trust, bundle.layout, bundle.source)
    return BundleResult(signer=signer, payload_type=payload_type, payload=payload)


def _keyed(bundle: SigstoreBundle, document: BundleDocument, trust: TrustPolicy, now: dt.datetime, artifact_digest: str | None) -> BundleResult:
    if document.dsse_envelope is not None:
        envelope = dsse_envelope(document.dsse_envelope, bundle.source)
        signature, logged = envelope.signatures[0], envelope.payload
        found = trusted_key(trust, lambda key: signature_matches(key, signature=signature, data=envelope.pae()), bundle.source)
        result_payload: tuple[str | None, bytes | None] = (envelope.payload_type, envelope.payload)
    elif document.message_signature is not None:
        digest = _hashed(artifact_digest, bundle.source).digest
        signature, logged = document.message_signature.signature, None
        _check_message_digest(document.message_signature, digest, bundle.source)
        found = trusted_key(trust, lambda key: digest_signature_matches(key, signature=signature, sha256_digest=digest), bundle.source)
        result_payload = (None, None)
    else:
        raise VerificationError(f"{bundle.source}: bundle carries neither a DSSE envelope nor a message signature")
    _keyed_tlog(
        document, signature=signature, key=found.public_key, logged=logged, artifact_digest=artifact_digest,
        trust=trust, now=now, source=bundle.source,
    )
    signer = key_signer(found, trust, bundle.layout)
    return BundleResult(signer=signer, payload_type=result_payload[0], payload=result_payload[1])


def _keyed_tlog(
    document: BundleDocument, *, signature: bytes, key: PublicKey, logged: bytes | None, artifact_digest: str | None,
    trust: TrustPolicy, now: dt.datetime, source: str,
) -> None:
    """``logged`` is the DSSE payload Rekor hashed; a message signature's entry records ``artifact_digest``.

    Keyword-only: signature and logged payload are both bytes, and a swap would fail silently.
    """
    entries = document.verification_material.tlog_entries
    if not entries:
        if trust.require_tlog:
            raise VerificationError(f"{source}: keyed bundle has no transparency-log entry and trust.require_tlog is true", details={"status": INVALID})
        return
    if len(entries) != 1:
        raise VerificationError(f"{source}: expected exactly one transparency-log entry, found {len(entries)}")
    entry = entries[0]
    _tlog.verify_proof(entry, trust, now)
    digest = hashlib.sha256(logged).hexdigest() if logged is not None else str(artifact_digest).partition(":")[2]
    _tlog.check_binding(entry.canonicalized_body, signature=signature, signer=key, digest=digest)


def dsse_envelope(raw: Envelope, source: str) -> DsseEnvelope:
    """A bundle's DSSE envelope as evidence's model; it must carry exactly one signature.

    Raises:
        VerificationError: more or fewer signatures.
    """
    if len(raw.signatures) != 1:
        raise VerificationError(f"{source}: DSSE envelope must carry exactly one signature, has {len(raw.signatures)}")
    return DsseEnvelope(payload_type=raw.payload_type, payload=raw.payload, signatures=(raw.signatures[0].sig,))


def _check_message_digest(message: MessageSignature, digest: bytes, source: str) -> None:
    recorded = message.message_digest
    if recorded is not None and recorded.digest != digest:
        raise VerificationError(f"{source}: bundle's message digest is not the artifact's")


def _hashed(artifact_digest: str | None, source: str) -> Hashed:
    if artifact_digest is None or not artifact_digest.startswith("sha256:"):
        raise VerificationError(f"{source}: a message-signature bundle needs the sha256 digest of the signed artifact")
    from sigstore.hashes import Hashed
    from sigstore_models.common.v1 import HashAlgorithm

    try:
        return Hashed(algorithm=HashAlgorithm.SHA2_256, digest=bytes.fromhex(artifact_digest[7:]))
    except ValueError as exc:
        raise VerificationError(f"{source}: {artifact_digest!r} is not a sha256 digest") from exc



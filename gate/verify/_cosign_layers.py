"""cosign's annotation layouts: ``.sig`` simple-signing layers and ``.att`` DSSE layers.

Keyless: the signature verifies with the certificate's key, the Rekor SET verifies, the integrated
time lies inside the certificate's validity, the certificate chains to the trusted Fulcio CA at that
time with a valid SCT, the entry records this signature + certificate + payload digest, and only
then is the identity compared with configuration (so "untrusted" always means a sound signature).
Keyed: some configured key verifies the signature; the SET is required when ``require_tlog``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from gate.errors import VerificationError
from gate.evidence import ANNOTATION_BUNDLE, CosignAttestation, CosignMaterial, CosignSignature, Statement
from gate.verify import _tlog
from gate.verify._keys import signature_matches
from gate.verify._model import INVALID, VerifiedSigner
from gate.verify._signers import key_signer, keyless_signer, trusted_key
from gate.verify._statement import in_toto_statement, simple_signing_claim
from gate.verify._trust import TrustPolicy


@dataclass(frozen=True)
class ReferenceMatch:
    """Optionally require the signed ``docker-reference`` to name this image (containers/image's signedIdentity).

    ``exact=False``: same repository (tag and digest ignored); ``exact=True``: the same reference,
    where ``reference`` without tag or digest means ``:latest`` and a signed name without either
    never matches (cosign signs untagged names, so exact matching needs tag-recording signers).
    """

    reference: str
    exact: bool = False

    def check(self, signed: str | None, source: str) -> None:
        """Raises VerificationError when the signed reference does not match."""
        if signed is None or _normalize(signed, self.exact) != _normalize(self.reference, self.exact, default_tag="latest"):
            raise VerificationError(f"{source}: signature is for {signed!r}, not {self.reference!r}")


def verify_cosign_signature(
    signature: CosignSignature, image_digest: str, trust: TrustPolicy, now: dt.datetime, reference: ReferenceMatch | None = None
) -> VerifiedSigner:
    """Verify one ``.sig`` layer for ``image_digest``.

    Raises:
        VerificationError: ``details["status"]`` is ``untrusted`` or ``invalid``; the message says why.
    """
    claim = simple_signing_claim(signature.payload, signature.source)
    if claim.manifest_digest != image_digest:
        raise VerificationError(f"{signature.source}: signature is for {claim.manifest_digest}, not {image_digest}")
    if reference is not None:
        reference.check(claim.docker_reference, signature.source)
    return verify_material(
        signed=signature.payload, signature=signature.signature, logged_payload=signature.payload,
        material=signature.material, trust=trust, now=now, layout=signature.layout, source=signature.source,
    )


def verify_cosign_attestation(attestation: CosignAttestation, trust: TrustPolicy, now: dt.datetime) -> tuple[VerifiedSigner, Statement]:
    """Verify one ``.att`` layer; returns the signer and the in-toto statement (subject not yet checked).

    Raises:
        VerificationError: as :func:`verify_cosign_signature`.
    """
    envelope = attestation.envelope
    statement = in_toto_statement(envelope.payload_type, envelope.payload, attestation.source)
    if len(envelope.signatures) != 1:
        raise VerificationError(f"{attestation.source}: DSSE envelope must carry exactly one signature, has {len(envelope.signatures)}")
    signer = verify_material(
        signed=envelope.pae(), signature=envelope.signatures[0], logged_payload=envelope.payload,
        material=attestation.material, trust=trust, now=now, layout=attestation.layout, source=attestation.source,
    )
    return signer, statement


def verify_material(
    *, signed: bytes, signature: bytes, logged_payload: bytes, material: CosignMaterial,
    trust: TrustPolicy, now: dt.datetime, layout: str, source: str,
) -> VerifiedSigner:
    """Shared by both layouts: ``signed`` is what the signature covers, ``logged_payload`` what Rekor hashed.

    Keyword-only: signed, signature and logged payload are all bytes, and a swap would fail silently.
    """
    if material.certificate:
        return _keyless(
            certificate=material.certificate, signed=signed, signature=signature, logged_payload=logged_payload,
            material=material, trust=trust, now=now, layout=layout, source=source,
        )
    return _keyed(signed=signed, signature=signature, logged_payload=logged_payload, material=material, trust=trust, now=now, layout=layout, source=source)


def _keyless(
    *, certificate: bytes, signed: bytes, signature: bytes, logged_payload: bytes, material: CosignMaterial,
    trust: TrustPolicy, now: dt.datetime, layout: str, source: str,
) -> VerifiedSigner:
    from gate.verify import _certs  # sigstore's certificate checks load with the first certificate

    cert = _certs.load_certificate(certificate, f"{source}: certificate annotation")
    if material.rekor is None:
        raise VerificationError(f"{source}: keyless signature has no Rekor entry ({ANNOTATION_BUNDLE}); its time cannot be trusted")
    if not signature_matches(_certs.certificate_key(cert, f"{source}: certificate"), signature=signature, data=signed):
        raise VerificationError(f"{source}: signature does not verify with its certificate's key")
    signed_at = _tlog.verify_set(material.rekor, trust, now)
    _certs.check_validity(cert, signed_at, "Rekor integrated time")
    _certs.verify_fulcio_certificate(cert, _certs.load_chain(material.chain, f"{source}: chain annotation"), signed_at, trust)
    _tlog.check_binding(material.rekor.body, signature=signature, signer=cert, digest=hashlib.sha256(logged_payload).hexdigest())
    return keyless_signer(_certs.identity_of(cert), trust, layout, source)


def _keyed(
    *, signed: bytes, signature: bytes, logged_payload: bytes, material: CosignMaterial,
    trust: TrustPolicy, now: dt.datetime, layout: str, source: str,
) -> VerifiedSigner:
    key = trusted_key(trust, lambda public_key: signature_matches(public_key, signature=signature, data=signed), source)
    if material.rekor is not None:
        _tlog.verify_set(material.rekor, trust, now)
        _tlog.check_binding(material.rekor.body, signature=signature, signer=key.public_key, digest=hashlib.sha256(logged_payload).hexdigest())
    elif trust.require_tlog:
        raise VerificationError(
            f"{source}: keyed signature has no Rekor entry ({ANNOTATION_BUNDLE}) and trust.require_tlog is true",
            details={"status": INVALID},
        )
    return key_signer(key, trust, layout)


def _normalize(reference: str, exact: bool, default_tag: str = "") -> str:
    name, digest = (reference.split("@", 1) + [""])[:2]
    slash, colon = name.rfind("/"), name.rfind(":")
    tag = name[colon + 1 :] if colon > slash else ("" if digest else default_tag)
    repository = name[:colon] if colon > slash else name
    first, _, rest = repository.partition("/")
    if not rest or ("." not in first and ":" not in first and first != "localhost"):
        repository = f"docker.io/{repository if rest else 'library/' + repository}"
    repository = repository.replace("index.docker.io/", "docker.io/", 1)
    return f"{repository}:{tag}@{digest}" if exact else repository

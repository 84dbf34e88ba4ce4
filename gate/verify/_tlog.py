"""Rekor transparency-log evidence: signed entry timestamps, inclusion proofs, and entry binding.

* A SET is checked as Rekor v1 signs it: ECDSA over the RFC 8785 canonical JSON
  ``{body, integratedTime, logID, logIndex}`` with a Rekor key of the trusted root (sigstore's
  keyring does the key lookup). sigstore-python only checks SETs inside bundles that also carry an
  inclusion proof, which cosign's ``dev.sigstore.cosign/bundle`` annotation never does.
* An entry with an inclusion proof is checked by sigstore's ``TransparencyLogEntry._verify``
  (Merkle path, signed checkpoint, SET when present).
* Binding: the entry body must record this signature, this signer and this payload digest
  (``hashedrekord`` 0.0.1, ``dsse`` 0.0.1, ``intoto`` 0.0.2); without it an entry for something
  else could vouch for our signature (CVE-2022-36056).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from typing import TYPE_CHECKING, Any

from gate.errors import VerificationError
from gate.evidence import RekorSET
from gate.verify._keys import spki_der
from gate.verify._trust import TrustPolicy

if TYPE_CHECKING:  # sigstore and cryptography are imported when an entry is checked: an unsigned image never loads them
    from cryptography import x509
    from sigstore_models.rekor import v1 as rekor_v1

    from gate.verify._keys import PublicKey

    Signer = x509.Certificate | PublicKey

# Rekor and the verifier clocks may disagree a little; an entry later than this is refused.
CLOCK_SKEW = dt.timedelta(minutes=5)


def verify_set(entry: RekorSET, trust: TrustPolicy, now: dt.datetime) -> dt.datetime:
    """Check a signed entry timestamp and return the integrated time it vouches for.

    Raises:
        VerificationError: bad signature, unknown log, or an integrated time in the future.
    """
    import rfc8785
    from sigstore._utils import KeyID
    from sigstore.errors import Error as SigstoreError

    try:
        canonical = rfc8785.dumps(
            {"body": entry.body_b64, "integratedTime": entry.integrated_time, "logID": entry.log_id, "logIndex": entry.log_index}
        )
        log_id = KeyID(bytes.fromhex(entry.log_id))
        trust.rekor_keyring.verify(key_id=log_id, signature=entry.signed_entry_timestamp, data=canonical)
    except (SigstoreError, ValueError) as exc:
        raise VerificationError(f"Rekor signed entry timestamp does not verify with the trusted root's Rekor keys: {exc}") from exc
    return integrated_at(entry.integrated_time, now)


def verify_proof(entry: rekor_v1.TransparencyLogEntry, trust: TrustPolicy, now: dt.datetime) -> dt.datetime | None:
    """Check a bundle's log entry (inclusion proof + signed checkpoint, SET if present).

    Returns the integrated time when the entry carries one.

    Raises:
        VerificationError: any of those fails.
    """
    from sigstore.errors import Error as SigstoreError
    from sigstore.models import TransparencyLogEntry

    try:
        TransparencyLogEntry(entry)._verify(trust.rekor_keyring)
    except (SigstoreError, ValueError, TypeError, IndexError) as exc:
        raise VerificationError(f"transparency-log entry does not verify: {exc}") from exc
    return integrated_at(entry.integrated_time, now) if entry.integrated_time else None


def integrated_at(seconds: int, now: dt.datetime) -> dt.datetime:
    """The integrated time as a UTC datetime; refuses one after ``now`` (plus clock skew)."""
    try:
        moment = dt.datetime.fromtimestamp(int(seconds), tz=dt.timezone.utc)
    except (OverflowError, OSError, ValueError) as exc:
        raise VerificationError(f"Rekor integrated time {seconds} is not a valid time") from exc
    if moment > now + CLOCK_SKEW:
        raise VerificationError(f"Rekor integrated time {moment.isoformat()} is in the future (now {now.isoformat()})")
    return moment


def check_binding(body: bytes, *, signature: bytes, signer: Signer, digest: str) -> None:
    """The entry body must record ``signature`` by ``signer`` over a payload of sha256 ``digest`` (hex).

    The payload is what was signed for ``hashedrekord`` and the DSSE payload for ``dsse``/``intoto``.

    Raises:
        VerificationError: another kind, or any field differs.
    """
    from cryptography.exceptions import UnsupportedAlgorithm

    try:
        document = json.loads(body)
        kind, version, spec = document["kind"], document["apiVersion"], document["spec"]
        if (kind, version) == ("hashedrekord", "0.0.1"):
            ok = _hashedrekord(spec, signature=signature, signer=signer, digest=digest)
        elif (kind, version) == ("dsse", "0.0.1"):
            ok = _dsse(spec, signature=signature, signer=signer, digest=digest)
        elif (kind, version) == ("intoto", "0.0.2"):
            ok = _intoto(spec["content"], signature=signature, signer=signer, digest=digest)
        else:
            raise VerificationError(f"unsupported Rekor entry kind {kind}/{version}")
    except (ValueError, KeyError, TypeError, binascii.Error, UnsupportedAlgorithm) as exc:
        raise VerificationError(f"Rekor entry body is malformed: {exc!r}") from exc
    if not ok:
        raise VerificationError(f"Rekor {kind} entry records another signature, signer or payload than this one")


def _hashedrekord(spec: dict[str, Any], *, signature: bytes, signer: Signer, digest: str) -> bool:
    recorded = spec["signature"]
    return (
        spec["data"]["hash"] == {"algorithm": "sha256", "value": digest}
        and base64.b64decode(recorded["content"]) == signature
        and _same_signer(recorded["publicKey"]["content"], signer)
    )


def _dsse(spec: dict[str, Any], *, signature: bytes, signer: Signer, digest: str) -> bool:
    recorded = spec["signatures"]
    return spec["payloadHash"] == {"algorithm": "sha256", "value": digest} and any(
        base64.b64decode(entry["signature"]) == signature and _same_signer(entry["verifier"], signer) for entry in recorded
    )


def _intoto(content: dict[str, Any], *, signature: bytes, signer: Signer, digest: str) -> bool:
    recorded = content["envelope"]["signatures"]
    return content["payloadHash"] == {"algorithm": "sha256", "value": digest} and any(
        _b64_sig_matches(entry["sig"], signature=signature) and _same_signer(entry["publicKey"], signer) for entry in recorded
    )


def _b64_sig_matches(text: str, *, signature: bytes) -> bool:
    # intoto 0.0.2 stores the envelope's base64 signature base64-encoded once more.
    once = base64.b64decode(text)
    return once == signature or base64.b64decode(once) == signature


def _same_signer(pem_b64: str, signer: Signer) -> bool:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    pem = base64.b64decode(pem_b64)
    if isinstance(signer, x509.Certificate):
        if b"CERTIFICATE" not in pem:
            return False
        return x509.load_pem_x509_certificate(pem) == signer
    if b"CERTIFICATE" in pem:
        return spki_der(x509.load_pem_x509_certificate(pem).public_key()) == spki_der(signer)
    return spki_der(load_pem_public_key(pem)) == spki_der(signer)

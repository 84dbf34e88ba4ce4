"""Keyed DSSE signing into a Sigstore bundle v0.3, the layout ``cosign attest --key`` writes in v3.

The bundle carries the public-key hint, not the key: a consumer verifies with the verifier key it
lists. No transparency-log entry is made (``tlogEntries`` is empty): the listed key is the trust,
and a summary's content (gate's facts about a private image) is not for a public log.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding

from gate.evidence import BUNDLE_V03, INTOTO_PAYLOAD_TYPE, DsseEnvelope
from gate.verify._keys import spki_der

if TYPE_CHECKING:
    from gate.config import SigningKey

_CURVE_HASHES: dict[str, type[hashes.HashAlgorithm]] = {"secp384r1": hashes.SHA384, "secp521r1": hashes.SHA512}


def key_hint(key: SigningKey) -> str:
    """The bundle's ``publicKey.hint``: base64 of sha256 over the DER SubjectPublicKeyInfo."""
    return base64.b64encode(hashlib.sha256(spki_der(key.public_key())).digest()).decode()


def sign_statement(key: SigningKey, statement: bytes) -> bytes:
    """The bundle (JSON bytes) holding ``statement`` in a DSSE envelope signed by ``key``."""
    envelope = DsseEnvelope(payload_type=INTOTO_PAYLOAD_TYPE, payload=statement, signatures=())
    signature = _sign(key, envelope.pae())
    document = {
        "mediaType": BUNDLE_V03,
        "verificationMaterial": {"publicKey": {"hint": key_hint(key)}, "tlogEntries": []},
        "dsseEnvelope": {
            "payload": base64.b64encode(statement).decode(),
            "payloadType": INTOTO_PAYLOAD_TYPE,
            "signatures": [{"sig": base64.b64encode(signature).decode(), "keyid": ""}],
        },
    }
    return json.dumps(document, separators=(",", ":")).encode()


def _sign(key: SigningKey, data: bytes) -> bytes:
    """Sign as Sigstore's default signers do: ECDSA with the curve's hash, RSA PKCS#1 v1.5 SHA-256, pure Ed25519."""
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(data)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(data, ec.ECDSA(_CURVE_HASHES.get(key.curve.name, hashes.SHA256)()))
    return key.sign(data, padding.PKCS1v15(), hashes.SHA256())

"""Public keys: a stable key id, and signature checks for every algorithm cosign keys use.

``cryptography`` does the math; this module only picks hash and padding the way cosign does
(ECDSA: SHA-256, also the curve's own hash for P-384/P-521; RSA: PKCS#1 v1.5 or PSS with
SHA-256; Ed25519: pure). sigstore-python has no key-only verification path to reuse.
``cryptography`` is imported by the first key read: a run that configures no key and meets no
signature never loads it.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, TypeGuard

from gate.errors import VerificationError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
    from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
    from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

    PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey

    # A hash to apply to the message, or Prehashed when the message given is already its digest.
    _Algorithm = hashes.HashAlgorithm | Prehashed


def is_public_key(key: object) -> TypeGuard[PublicKey]:
    """True for the key types signatures can use: ECDSA, RSA and Ed25519."""
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    return isinstance(key, (ec.EllipticCurvePublicKey, rsa.RSAPublicKey, ed25519.Ed25519PublicKey))


def spki_der(key: PublicKeyTypes) -> bytes:
    """The key's DER SubjectPublicKeyInfo (of any key type, so a recorded key of another type compares unequal)."""
    from cryptography.hazmat.primitives import serialization

    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def key_id(key: PublicKey) -> str:
    """First 16 hex digits of sha256(DER SubjectPublicKeyInfo): stable across PEM formatting."""
    return hashlib.sha256(spki_der(key)).hexdigest()[:16]


def load_public_key(pem: bytes, what: str) -> PublicKey:
    """Load a PEM public key of a supported type.

    Raises:
        VerificationError: not PEM, or an unsupported key type.
    """
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization

    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise VerificationError(f"{what} is not a PEM public key") from exc
    if not is_public_key(key):
        raise VerificationError(f"{what} is a {type(key).__name__}; use ECDSA, RSA or Ed25519")
    return key


def signature_matches(key: PublicKey, *, signature: bytes, data: bytes) -> bool:
    """True when ``signature`` over ``data`` verifies under ``key`` with a hash cosign would use.

    Keyword-only: signature and data are both bytes, and a swap would fail silently.
    """
    return any(_verifies(key, signature=signature, data=data, algorithm=algorithm) for algorithm in _hash_choices(key))


def digest_signature_matches(key: PublicKey, *, signature: bytes, sha256_digest: bytes) -> bool:
    """Like :func:`signature_matches` for a message known only by its SHA-256 (not possible for Ed25519)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ed25519
    from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

    if isinstance(key, ed25519.Ed25519PublicKey):
        return False
    return _verifies(key, signature=signature, data=sha256_digest, algorithm=Prehashed(hashes.SHA256()))


def _hash_choices(key: PublicKey) -> list[hashes.HashAlgorithm | None]:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    curve_hashes = {"secp384r1": hashes.SHA384, "secp521r1": hashes.SHA512}
    if isinstance(key, ed25519.Ed25519PublicKey):
        return [None]
    choices: list[hashes.HashAlgorithm | None] = [hashes.SHA256()]
    if isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name in curve_hashes:
        choices.append(curve_hashes[key.curve.name]())
    return choices


def _verifies(key: PublicKey, *, signature: bytes, data: bytes, algorithm: _Algorithm | None) -> bool:
    """``algorithm`` is None only for Ed25519, which hashes internally."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    try:
        if isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, data)
        elif algorithm is None:
            return False
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, data, ec.ECDSA(algorithm))
        else:
            return _rsa_verifies(key, signature=signature, data=data, algorithm=algorithm)
    except (InvalidSignature, ValueError):
        return False
    return True


def _rsa_verifies(key: rsa.RSAPublicKey, *, signature: bytes, data: bytes, algorithm: _Algorithm) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO)
    for scheme in (padding.PKCS1v15(), pss):
        try:
            key.verify(signature, data, scheme, algorithm)
        except (InvalidSignature, ValueError):
            continue
        return True
    return False

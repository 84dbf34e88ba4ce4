"""The last step of every layout: is the signer that just verified one that configuration trusts?"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from gate.verify._model import VerifiedSigner, untrusted
from gate.verify._trust import TrustedKey, TrustPolicy

if TYPE_CHECKING:
    from gate.verify._certs import CertIdentity
    from gate.verify._keys import PublicKey


def keyless_signer(identity: CertIdentity, trust: TrustPolicy, layout: str, source: str) -> VerifiedSigner:
    """The verified keyless signer, when ``identity`` matches a configured keyless identity
    (``trust.keyless`` or an image policy's authority), with the authorities it satisfies.

    Raises:
        VerificationError: status ``untrusted``, naming the identity found.
    """
    extensions = dict(identity.extensions)
    authorities = trust.identity_authorities(issuer=identity.issuer, subject=identity.subject, extensions=extensions)
    if not authorities:
        raise untrusted(f"{source}: signed by {identity.describe()}, which matches no configured keyless identity", identity.describe())
    return VerifiedSigner(
        kind="keyless", layout=layout, issuer=identity.issuer, subject=identity.subject, extensions=identity.extensions, authorities=authorities
    )


def key_signer(found: TrustedKey, trust: TrustPolicy, layout: str) -> VerifiedSigner:
    """The verified keyed signer for a configured key, with the authorities it satisfies."""
    return VerifiedSigner(kind="key", layout=layout, key_id=found.key_id, authorities=trust.key_authorities(found.key_id))


def trusted_key(trust: TrustPolicy, verifies: Callable[[PublicKey], bool], source: str) -> TrustedKey:
    """The first configured key under which ``verifies`` holds.

    Raises:
        VerificationError: status ``untrusted``: no configured key verifies the signature.
    """
    found = next((key for key in trust.keys if verifies(key.public_key)), None)
    if found is None:
        raise untrusted(f"{source}: signature verifies with none of the {len(trust.keys)} configured keys", "an unconfigured key")
    return found

"""Who may sign, loaded once: cosign keys, keyless identities, the Sigstore trusted root.

The default trusted root is the public-good ``trusted_root.json`` shipped inside the ``sigstore``
package, read from the package data: no TUF refresh, no network. ``trust.trusted_root`` replaces
it for a private Sigstore or an air-gapped cluster.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property

from sigstore._internal.trust import KeyringPurpose
from sigstore._internal.tuf import DEFAULT_TUF_URL
from sigstore._utils import read_embedded
from sigstore.errors import Error as SigstoreError
from sigstore.models import TrustedRoot
from sigstore.verify import Verifier
from sigstore_models.trustroot import v1 as trustroot_v1

from gate.config import KeylessIdentity, TrustConfig
from gate.errors import ConfigError, VerificationError
from gate.verify._keys import PublicKey, key_id, load_public_key


@dataclass(frozen=True)
class TrustedKey:
    """A configured cosign public key and its stable id."""

    key_id: str
    public_key: PublicKey
    source: str


@dataclass(frozen=True)
class TrustPolicy:
    """Configured trust, parsed: keys, keyless identities, trusted root, and whether a tlog entry is required."""

    keys: tuple[TrustedKey, ...]
    identities: tuple[KeylessIdentity, ...]
    trusted_root: TrustedRoot
    require_tlog: bool = True

    @classmethod
    def from_config(cls, trust: TrustConfig) -> TrustPolicy:
        """Build from ``config.trust`` (reads the key and root files once, at start-up).

        Raises:
            ConfigError: a key or the trusted root does not load.
        """
        root = trust.trusted_root.read_bytes() if trust.trusted_root else None
        pems = list(zip(map(str, trust.keys), trust.key_pems()))
        return cls.from_parts(keys=pems, identities=trust.keyless, trusted_root_json=root, require_tlog=trust.require_tlog)

    @classmethod
    def from_parts(
        cls,
        *,
        keys: Iterable[tuple[str, bytes]] = (),
        identities: Iterable[KeylessIdentity] = (),
        trusted_root_json: bytes | None = None,
        require_tlog: bool = True,
    ) -> TrustPolicy:
        """Build from bytes: ``keys`` as ``(name, PEM)`` pairs, the trusted root as JSON (default: public good).

        Raises:
            ConfigError: a key or the trusted root does not load.
        """
        trusted_keys = []
        for name, pem in keys:
            try:
                public_key = load_public_key(pem, f"trust key {name}")
            except VerificationError as exc:
                raise ConfigError(exc.message, remedy="configure PEM ECDSA, RSA or Ed25519 public keys") from exc
            trusted_keys.append(TrustedKey(key_id=key_id(public_key), public_key=public_key, source=name))
        return cls(
            keys=tuple(trusted_keys),
            identities=tuple(identities),
            trusted_root=load_trusted_root(trusted_root_json),
            require_tlog=require_tlog,
        )

    @cached_property
    def rekor_keyring(self):
        """Rekor keys of the trusted root (sigstore's keyring: key-id lookup, then every key)."""
        return self.trusted_root.rekor_keyring(KeyringPurpose.VERIFY)

    @cached_property
    def ct_keyring(self):
        """Certificate-transparency log keys of the trusted root."""
        return self.trusted_root.ct_keyring(KeyringPurpose.VERIFY)

    @cached_property
    def bundle_verifier(self) -> Verifier:
        """sigstore-python's bundle verifier over this trusted root (builds no network client until asked)."""
        return Verifier(trusted_root=self.trusted_root)

    @cached_property
    def fulcio_certificates(self):
        """Every Fulcio CA certificate of the trusted root (expired ones too: signing time decides)."""
        return self.trusted_root.get_fulcio_certs()


def load_trusted_root(data: bytes | None) -> TrustedRoot:
    """Parse a ``trusted_root.json``; ``None`` means the public-good root shipped with sigstore.

    Raises:
        ConfigError: the document is not a trusted root.
    """
    if data is None:
        data = read_embedded("trusted_root.json", DEFAULT_TUF_URL)
    try:
        root = TrustedRoot(trustroot_v1.TrustedRoot.from_json(data))
        root.rekor_keyring(KeyringPurpose.VERIFY)
    except (SigstoreError, ValueError, TypeError) as exc:
        raise ConfigError(
            f"trust.trusted_root is not a usable Sigstore trusted root: {exc}",
            remedy="point trust.trusted_root at a trusted_root.json (application/vnd.dev.sigstore.trustedroot+json;version=0.1)",
        ) from exc
    return root

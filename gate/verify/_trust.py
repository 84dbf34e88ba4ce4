"""Who may sign, loaded once: cosign keys, keyless identities, the Sigstore trusted root.

The default trusted root is the public-good ``trusted_root.json`` shipped inside the ``sigstore``
package, read from the package data: no TUF refresh, no network. ``trust.trusted_root`` replaces
it for a private Sigstore or an air-gapped cluster. A configured root is parsed at start-up (a bad
file is refused there); the shipped one, and sigstore itself, are loaded when a signature first
needs them, so checking an unsigned image never imports sigstore.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from gate.config import ImagePolicy, KeylessIdentity, TrustConfig
from gate.errors import ConfigError, VerificationError
from gate.verify._keys import key_id, load_public_key

if TYPE_CHECKING:
    from cryptography import x509
    from sigstore._internal.trust import CTKeyring, RekorKeyring
    from sigstore.models import TrustedRoot
    from sigstore.verify import Verifier

    from gate.verify._keys import PublicKey


@dataclass(frozen=True)
class TrustedKey:
    """A configured cosign public key and its stable id."""

    key_id: str
    public_key: PublicKey
    source: str


@dataclass(frozen=True)
class TrustedAuthority:
    """One configured signer a signature can satisfy: ``trust.keys[i]``, ``trust.keyless[i]`` or an
    image policy's authority. ``id`` is unique across the config; ``name`` is shown to people."""

    id: str
    name: str
    key_id: str | None = None
    identity: KeylessIdentity | None = None


@dataclass(frozen=True)
class TrustPolicy:
    """Configured trust, parsed: every key and keyless identity any authority names (``trust`` and
    ``images[].authorities``), the authorities themselves, the configured trusted root (None: the
    public-good one), and whether a tlog entry is required. Verification accepts a signer any
    authority names and records which ones it satisfies; which of those count for an image is
    decided per image (``gate.verify.scope``)."""

    keys: tuple[TrustedKey, ...]
    identities: tuple[KeylessIdentity, ...]
    configured_root: TrustedRoot | None = None
    require_tlog: bool = True
    authorities: tuple[TrustedAuthority, ...] = ()

    @classmethod
    def from_config(cls, trust: TrustConfig, images: Iterable[ImagePolicy] = ()) -> TrustPolicy:
        """Build from ``config.trust`` and ``config.images`` (reads the key and root files once, at start-up).

        Raises:
            ConfigError: a key or the trusted root does not load.
        """
        root = trust.trusted_root.read_bytes() if trust.trusted_root else None
        pems = list(zip(map(str, trust.keys), trust.key_pems(), strict=True))
        scoped = [
            (entry.authority_id(index), authority.label(), authority.key.read_bytes() if authority.key else None, authority.keyless)
            for entry in images
            for index, authority in enumerate(entry.authorities)
        ]
        return cls.from_parts(keys=pems, identities=trust.keyless, trusted_root_json=root, require_tlog=trust.require_tlog, scoped=scoped)

    @classmethod
    def from_parts(
        cls,
        *,
        keys: Iterable[tuple[str, bytes]] = (),
        identities: Iterable[KeylessIdentity] = (),
        trusted_root_json: bytes | None = None,
        require_tlog: bool = True,
        scoped: Iterable[tuple[str, str, bytes | None, KeylessIdentity | None]] = (),
    ) -> TrustPolicy:
        """Build from bytes: ``keys`` as ``(name, PEM)`` pairs (``trust.keys``), ``identities``
        (``trust.keyless``), image-policy authorities as ``(id, name, PEM or None, identity or
        None)``, the trusted root as JSON (default: public good).

        Raises:
            ConfigError: a key or the trusted root does not load.
        """
        by_id: dict[str, TrustedKey] = {}
        authorities = []
        for index, (name, pem) in enumerate(keys):
            found = _trusted_key(name, pem)
            by_id.setdefault(found.key_id, found)
            authorities.append(TrustedAuthority(f"trust.keys[{index}]", name, key_id=found.key_id))
        identities = tuple(identities)
        authorities += [TrustedAuthority(f"trust.keyless[{i}]", identity.describe(), identity=identity) for i, identity in enumerate(identities)]
        for authority_id, name, scoped_pem, identity in scoped:
            if scoped_pem is not None:
                found = _trusted_key(name, scoped_pem)
                by_id.setdefault(found.key_id, found)
                authorities.append(TrustedAuthority(authority_id, name, key_id=found.key_id))
            else:
                authorities.append(TrustedAuthority(authority_id, name, identity=identity))
        return cls(
            keys=tuple(by_id.values()),
            identities=tuple(a.identity for a in authorities if a.identity is not None),
            configured_root=load_trusted_root(trusted_root_json) if trusted_root_json is not None else None,
            require_tlog=require_tlog,
            authorities=tuple(authorities),
        )

    def key_authorities(self, found_key_id: str) -> tuple[str, ...]:
        """Ids of the authorities a signature by this key satisfies."""
        return tuple(a.id for a in self.authorities if a.key_id == found_key_id)

    def identity_authorities(self, *, issuer: str, subject: str, extensions: dict[str, str]) -> tuple[str, ...]:
        """Ids of the keyless authorities a certificate with this identity satisfies (keyword-only: issuer and subject are both strings)."""
        return tuple(
            a.id for a in self.authorities if a.identity is not None and a.identity.matches(issuer=issuer, subject=subject, extensions=extensions)
        )

    @cached_property
    def trusted_root(self) -> TrustedRoot:
        """The configured trusted root, else the public-good one shipped with sigstore (read on first use).

        Raises:
            ConfigError: the shipped root does not load (a broken sigstore installation).
        """
        return self.configured_root if self.configured_root is not None else load_trusted_root(None)

    @cached_property
    def rekor_keyring(self) -> RekorKeyring:
        """Rekor keys of the trusted root (sigstore's keyring: key-id lookup, then every key)."""
        from sigstore._internal.trust import KeyringPurpose

        return self.trusted_root.rekor_keyring(KeyringPurpose.VERIFY)

    @cached_property
    def ct_keyring(self) -> CTKeyring:
        """Certificate-transparency log keys of the trusted root."""
        from sigstore._internal.trust import KeyringPurpose

        return self.trusted_root.ct_keyring(KeyringPurpose.VERIFY)

    @cached_property
    def bundle_verifier(self) -> Verifier:
        """sigstore-python's bundle verifier over this trusted root (builds no network client until asked)."""
        from sigstore.verify import Verifier

        return Verifier(trusted_root=self.trusted_root)

    @cached_property
    def fulcio_certificates(self) -> list[x509.Certificate]:
        """Every Fulcio CA certificate of the trusted root (expired ones too: signing time decides)."""
        return self.trusted_root.get_fulcio_certs()


def _trusted_key(name: str, pem: bytes) -> TrustedKey:
    try:
        public_key = load_public_key(pem, f"trust key {name}")
    except VerificationError as exc:
        raise ConfigError(exc.message, remedy="configure PEM ECDSA, RSA or Ed25519 public keys") from exc
    return TrustedKey(key_id=key_id(public_key), public_key=public_key, source=name)


def load_trusted_root(data: bytes | None) -> TrustedRoot:
    """Parse a ``trusted_root.json``; ``None`` means the public-good root shipped with sigstore.

    Raises:
        ConfigError: the document is not a trusted root.
    """
    from sigstore._internal.trust import KeyringPurpose
    from sigstore._internal.tuf import DEFAULT_TUF_URL
    from sigstore._utils import read_embedded
    from sigstore.errors import Error as SigstoreError
    from sigstore.models import TrustedRoot
    from sigstore_models.trustroot import v1 as trustroot_v1

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

"""Trust scoped to images: which ``images`` entries apply, whose signatures count, and whether each
entry's threshold and required attestations hold (docs/configuration.md, "Image policies").

Verification (``TrustPolicy``) accepts every configured authority and records which ones a signer
satisfies; this module narrows that to the authorities of the entries matching one image in one
namespace. Every matching entry must hold (AND); an image no entry matches is judged against
``trust.keys`` / ``trust.keyless`` as before. A key trusted for one entry proves nothing for an
image that entry does not match.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from gate._globs import matches_image, reference_names
from gate.config import ImagePolicy
from gate.verify._model import VerifiedSigner
from gate.verify._trust import TrustPolicy

FALLBACK_PREFIX = "trust."


@dataclass(frozen=True)
class ImageScope:
    """The image policies matching one image in one namespace, and the authorities that count for it."""

    entries: tuple[ImagePolicy, ...]
    authorities: frozenset[str]
    names: Mapping[str, str]

    @property
    def key(self) -> tuple[str, ...]:
        """The matched entries' names: two images with the same key are judged under the same trust."""
        return tuple(entry.name for entry in self.entries)

    def vouches(self, authority_ids: Iterable[str]) -> bool:
        """True when one of ``authority_ids`` counts for this image."""
        return not self.authorities.isdisjoint(authority_ids)

    def in_scope(self, authority_ids: Iterable[str]) -> list[str]:
        """Names of the authorities among ``authority_ids`` that count for this image, in config order."""
        wanted = set(authority_ids)
        return [name for authority, name in self.names.items() if authority in wanted]


def image_scope(
    images: tuple[ImagePolicy, ...], trust: TrustPolicy, reference: tuple[str, str, str | None, str | None], namespace: str | None
) -> ImageScope:
    """The scope of the image ``(registry, repository, tag, digest)`` in ``namespace`` (None: no namespace,
    so entries limited to namespaces do not apply)."""
    names = reference_names(*reference)
    entries = tuple(entry for entry in images if _applies(entry, names, namespace))
    if entries:
        wanted = {entry.authority_id(index) for entry in entries for index in range(len(entry.authorities))}
    else:
        wanted = {a.id for a in trust.authorities if a.id.startswith(FALLBACK_PREFIX)}
    ordered = {a.id: a.name for a in trust.authorities if a.id in wanted}
    return ImageScope(entries, frozenset(ordered), ordered)


def _applies(entry: ImagePolicy, names: tuple[str, ...], namespace: str | None) -> bool:
    if not any(matches_image(pattern, names) for pattern in entry.match):
        return False
    if not entry.namespaces:
        return True
    return namespace is not None and any(fnmatchcase(namespace, pattern) for pattern in entry.namespaces)


def entry_fact(
    entry: ImagePolicy, signers: Iterable[VerifiedSigner], attestations: Iterable[tuple[str, frozenset[str]]], trust: TrustPolicy
) -> dict[str, Any]:
    """The ``image_policies[]`` fact of one matching entry: which of its authorities signed (each by
    a distinct signer), which are missing, and whether each required attestation is present and
    vouched for by one of its authorities. ``attestations`` are ``(predicate type, vouching authority ids)``."""
    ids = [entry.authority_id(index) for index in range(len(entry.authorities))]
    labels = {a.id: a.name for a in trust.authorities}
    signed = _distinct_signers(ids, list(signers))
    found = list(attestations)
    required = []
    for wanted in entry.attestations:
        vouchers = [vouching for kind, vouching in found if kind == wanted.type]
        verified = any(not vouching.isdisjoint(ids) for vouching in vouchers)
        required.append({"type": wanted.type, "present": bool(vouchers), "verified": verified})
    return {
        "name": entry.name,
        "threshold": entry.required,
        "authorities": [labels[a] for a in ids],
        "signed_by": [labels[a] for a in ids if a in signed],
        "missing": [labels[a] for a in ids if a not in signed],
        "satisfied": len(signed) >= entry.required,
        "attestations": required,
    }


def _distinct_signers(authority_ids: list[str], signers: list[VerifiedSigner]) -> set[str]:
    """The authorities satisfied by pairwise distinct signers (a maximum bipartite matching), so
    one key listed twice, or one identity fitting two regexes, never counts twice toward a threshold."""
    by_signer: dict[str, set[str]] = {}
    for verified in signers:
        by_signer.setdefault(verified.name, set()).update(a for a in verified.authorities if a in authority_ids)
    owner: dict[str, str] = {}

    def assign(signer: str, seen: set[str]) -> bool:
        for authority in sorted(by_signer[signer]):
            if authority in seen:
                continue
            seen.add(authority)
            if authority not in owner or assign(owner[authority], seen):
                owner[authority] = signer
                return True
        return False

    for name in by_signer:
        assign(name, set())
    return set(owner)

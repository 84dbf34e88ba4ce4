"""Which manifests of an index a runtime could run: every one of them is judged.

containerd's ``images.Manifest`` walks nested indexes and keeps each entry whose platform is
missing or matches the node (a platform-less entry is matched on its config, which gate does not
trust to narrow anything); containers/image picks the first entry matching the node, or else the
first without a platform. So, for "any platform", every entry is a candidate except a BuildKit
attestation manifest, which is recognised by its whole shape only: platform ``unknown/unknown``,
the ``vnd.docker.reference.type: attestation-manifest`` annotation, and in-toto content (every
layer ``application/vnd.in-toto+json``). Anything else, whatever its annotations, is judged as an
image, and content that is not an image fails the evaluation. Nested indexes are walked to
``MAX_INDEX_DEPTH``; deeper nesting is refused.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from gate.engine import _platforms
from gate.errors import GateError
from gate.registry import Descriptor, Manifest, Reference, RegistryClient

MAX_INDEX_DEPTH = 3  # the top index and two levels of nesting; no builder writes more
IN_TOTO = "application/vnd.in-toto+json"


@dataclass(frozen=True)
class Runnable:
    """One image manifest a node could run, and the platform name it is reported under."""

    manifest: Manifest
    platform: str


async def runnable_manifests(client: RegistryClient, reference: Reference, index: Manifest, wanted: str | None) -> list[Runnable]:
    """Every image manifest reachable from ``index`` that a node of ``wanted`` (any node when None) could run.

    Raises:
        GateError: indexes nested deeper than ``MAX_INDEX_DEPTH``, or no runnable entry at all.
        RegistryError, EvidenceError: an entry could not be read (unknown media type, bad digest).
    """
    found: list[Runnable] = []
    await _walk(client, reference, index, wanted, None, 1, found)
    if not found:
        what = f"platform {wanted}" if wanted else "any runnable platform"
        listed = sorted({_platforms.name(e.platform) for e in index.manifests if e.platform and e.platform.get("os") != "unknown"})
        raise GateError(
            f"index {index.digest} lists no image for {what}" + (f"; it lists {', '.join(listed)}" if wanted and listed else ""),
            remedy="pick one of the listed platforms with --platform" if wanted and listed else "",
            details={"digest": index.digest, "available_platforms": listed},
        )
    return _unique(found)


async def _walk(client: RegistryClient, reference: Reference, index: Manifest, wanted: str | None,
                inherited: str | None, depth: int, found: list[Runnable]) -> None:
    if depth > MAX_INDEX_DEPTH:
        raise GateError(
            f"index {index.digest} nests indexes more than {MAX_INDEX_DEPTH} deep; gate cannot tell which image a node would run",
            remedy="flatten the index: list the platform images directly", details={"digest": index.digest},
        )
    entries = [entry for entry in index.manifests if wanted is None or not entry.platform or _platforms.matches(wanted, entry.platform)]
    manifests = await asyncio.gather(*(client.manifest(reference.with_digest(entry.digest)) for entry in entries))
    for entry, manifest in zip(entries, manifests, strict=True):
        platform = _platforms.name(entry.platform) if entry.platform else inherited or _platforms.name(None)
        if manifest.is_index:
            await _walk(client, reference, manifest, wanted, platform, depth + 1, found)
        elif not is_attestation(entry, manifest):
            found.append(Runnable(manifest, platform))


def is_attestation(entry: Descriptor, manifest: Manifest) -> bool:
    """A BuildKit attestation manifest by its full shape, never by its annotation alone."""
    platform = entry.platform or {}
    return (
        platform.get("os") == "unknown"
        and platform.get("architecture") == "unknown"
        and entry.annotations.get("vnd.docker.reference.type") == "attestation-manifest"
        and bool(manifest.layers)
        and all(layer.media_type == IN_TOTO for layer in manifest.layers)
    )


def _unique(found: list[Runnable]) -> list[Runnable]:
    """Each manifest once; a platform name listed twice gets the digest added, so reports keep both."""
    first: dict[str, Runnable] = {}
    for item in found:
        first.setdefault(item.manifest.digest, item)
    items = list(first.values())
    names = [item.platform for item in items]
    return [
        Runnable(item.manifest, f"{item.platform} ({item.manifest.digest[:19]})") if names.count(item.platform) > 1 else item
        for item in items
    ]

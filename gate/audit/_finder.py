"""The rebuild finder: which running images were built FROM a given base, or contain a component.

Both answers come from facts the engine already computed for the verdict: the provenance stages
(``evidence.provenance.stages``: each ``FROM`` with its base as written and the digest the build
pulled) and SBOM components matched by a search list parsed exactly like the
``sbom.denied-component`` deny list (purl, optional VERS range).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from gate.errors import ConfigError, GateError
from gate.evidence import DenyList
from gate.registry import Reference
from gate.report import ImageResult

_RANGE_SEPARATOR = "@vers:"


@dataclass(frozen=True)
class BuilderQuery:
    """``--uses-builder REF[@DIGEST]``: a digest matches that content in any repository (a mirror
    holds the same bytes); without one, the repository (and the tag, when given) must match."""

    name: str
    tag: str | None
    digest: str | None

    @classmethod
    def parse(cls, text: str) -> "BuilderQuery":
        """Raises ConfigError: ``text`` is not an image reference."""
        try:
            ref = Reference.parse(text)
        except GateError as exc:
            raise ConfigError(f"--uses-builder: {text!r} is not an image reference: {exc.message}") from exc
        explicit_tag = ref.tag if ref.digest is None and ":" in text.rsplit("/", 1)[-1] else None
        return cls(f"{ref.registry}/{ref.repository}", explicit_tag, ref.digest)

    def stages(self, result: ImageResult) -> list[str]:
        """The stages of ``result``'s builds that used this base, as ``[platform] FROM base (digest)``."""
        found = []
        for platform, evidence in _per_platform(result):
            for stage in (evidence.get("provenance") or {}).get("stages") or []:
                if isinstance(stage, dict) and self._matches(stage):
                    prefix = f"[{platform}] " if platform else ""
                    used = f" ({stage['digest_used']})" if stage.get("digest_used") else ""
                    found.append(f"{prefix}FROM {stage.get('base')}{used}")
        return list(dict.fromkeys(found))

    def _matches(self, stage: dict[str, Any]) -> bool:
        if stage.get("scratch") or stage.get("parent_stage"):
            return False  # FROM scratch, or FROM an earlier stage of the same build: no image
        base = _reference(str(stage.get("base") or ""))
        if self.digest is not None:
            return self.digest in (stage.get("digest_used"), base.digest if base else None)
        if base is None or f"{base.registry}/{base.repository}" != self.name:
            return False
        return self.tag is None or base.tag == self.tag


def parse_contains(text: str) -> DenyList:
    """``--contains PURL[@vers:TYPE/RANGE]``: ``pkg:npm/lodash``, ``pkg:npm/lodash@4.17.20`` or
    ``pkg:npm/lodash@vers:npm/<4.17.21`` (read as the deny list's ``purl`` and ``range``).

    Raises:
        ConfigError: the purl or range does not parse (the deny list's own checks).
    """
    purl, separator, version_range = text.partition(_RANGE_SEPARATOR)
    entry: dict[str, Any] = {"purl": purl}
    if separator:
        entry["range"] = "vers:" + version_range
    try:
        return DenyList.from_params({"deny": [entry]})
    except ConfigError as exc:
        raise ConfigError(f"--contains {text!r}: {exc.message.split(': ', 1)[-1]}") from exc


def contained(result: ImageResult) -> list[str]:
    """The matching SBOM components of ``result`` (``evidence.contains``, per platform)."""
    found = []
    for platform, evidence in _per_platform(result):
        for match in evidence.get("contains") or []:
            prefix = f"[{platform}] " if platform else ""
            found.append(f"{prefix}{match.get('purl')}")
    return list(dict.fromkeys(found))


def _per_platform(result: ImageResult) -> Iterator[tuple[str | None, dict[str, Any]]]:
    platforms = result.evidence.get("platforms")
    if isinstance(platforms, dict):
        several = len(platforms) > 1  # a single-platform image's findings need no platform named
        yield from ((name if several else None, evidence) for name, evidence in platforms.items() if isinstance(evidence, dict))
    else:
        yield None, result.evidence


def _reference(text: str) -> Reference | None:
    try:
        return Reference.parse(text)
    except GateError:
        return None  # a base the build could not name (an unset ARG) names no repository

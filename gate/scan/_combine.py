"""Combine per-layer scans into image facts: which findings are in the final filesystem and which
were deleted (or replaced) by a later layer, plus the final ``/etc/passwd``.

A path from layer N is gone after layer M > N when M whites it out (``.wh.<name>``) or whites out
one of its parents, marks a parent opaque (``.wh..wh..opq``), or puts a non-directory at the path
or at one of its parents (a file or symlink replacing a directory). Secrets that are gone are
``secret.deleted-file`` (still in layer N's blob, which anyone who can pull can read); secrets
still there are ``secret.file``. Leftovers (content.*) count only when still there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gate.scan._finding import SECRET_DELETED_FILE, SECRET_FILE, Finding
from gate.scan._history import safe_history
from gate.scan._layer_scan import SECRET, LayerHit, LayerScan
from gate.scan._matcher import default_matcher


@dataclass(frozen=True)
class ImageScan:
    """The image-level result of the layer scan."""

    findings: tuple[Finding, ...]
    passwd: str | None
    layers: int
    bytes_in: int
    bytes_out: int
    entries: int

    def facts(self) -> list[dict[str, Any]]:
        """The policy input ``findings`` items for the layer findings."""
        return [finding.to_fact() for finding in self.findings]


def _ancestors(path: str) -> list[str]:
    """Parent paths; for an archive member (``app/lib.jar!/x/.npmrc``) the archive is one of them."""
    parts = path.replace("!/", "/").split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts))]


class _Removal:
    """Answers "which later layer first removes this path?" from the layers' whiteouts and paths."""

    def __init__(self, layers: Sequence[LayerScan]):
        self.layers = layers
        self.whiteouts = [frozenset(layer.whiteouts) for layer in layers]
        self.opaque = [frozenset(layer.opaque_dirs) for layer in layers]

    def removed_in(self, index: int, path: str) -> int | None:
        ancestors = _ancestors(path)
        is_file = self.layers[index].has_file(path)  # a directory over a file replaces it; over a directory, merges
        for later in range(index + 1, len(self.layers)):
            if self._removes(later, path, ancestors) or (is_file and self.layers[later].has_directory(path)):
                return later
        return None

    def _removes(self, later: int, path: str, ancestors: list[str]) -> bool:
        whiteouts, opaque, layer = self.whiteouts[later], self.opaque[later], self.layers[later]
        if path in whiteouts or layer.has_file(path):
            return True
        return any(a in whiteouts or a in opaque or layer.has_file(a) for a in ancestors) or (
            "" in opaque and bool(ancestors or path))


def combine_layers(layers: Sequence[LayerScan], history: Sequence[Mapping[str, Any]] | None = None) -> ImageScan:
    """Classify every layer hit against the later layers and find the final ``/etc/passwd``.

    ``history`` is the config's ``history`` list: its non-empty entries are matched to layers
    when their count equals the number of layers (otherwise findings carry no history line).
    The per-image byte cap is enforced while the layers stream (``ImageBudget``), not here.
    """
    lines = _layer_history(history, len(layers))
    removal = _Removal(layers)
    findings: list[Finding] = []
    seen: set[tuple[str, str, str]] = set()
    for index, layer in enumerate(layers):
        for hit in layer.hits:
            finding = _classify(hit, index, layer, removal.removed_in(index, hit.path), lines[index])
            if finding is not None and (finding.rule, finding.detector, hit.path) not in seen:
                seen.add((finding.rule, finding.detector, hit.path))
                findings.append(finding)
    return ImageScan(
        findings=tuple(_one_per_tool(findings)), passwd=_final_passwd(layers, removal), layers=len(layers),
        bytes_in=sum(layer.bytes_in for layer in layers), bytes_out=sum(layer.bytes_out for layer in layers),
        entries=sum(layer.entries for layer in layers),
    )


def _classify(hit: LayerHit, index: int, layer: LayerScan, removed: int | None, line: str | None) -> Finding | None:
    placed = Finding(rule=hit.kind, detector=hit.detector, path=hit.path, layer=index, layer_digest=layer.digest,
                     history=line, preview=hit.preview)
    if hit.kind == SECRET:
        if removed is None:
            return placed.at(rule=SECRET_FILE)
        return placed.at(rule=SECRET_DELETED_FILE, deleted_in_layer=removed)
    return placed if removed is None else None


def _one_per_tool(findings: list[Finding]) -> list[Finding]:
    """A toolchain is reported once (``gcc``, ``gcc-12``, ``cc1`` are one C compiler)."""
    tools: set[str] = set()
    kept = []
    for finding in findings:
        if finding.rule == "content.toolchain":
            if finding.detector in tools:
                continue
            tools.add(finding.detector)
            finding = finding.at(name=finding.detector)
        kept.append(finding)
    return kept


def _final_passwd(layers: Sequence[LayerScan], removal: _Removal) -> str | None:
    for index in range(len(layers) - 1, -1, -1):
        if layers[index].has_file("etc/passwd"):
            if layers[index].passwd is None or removal.removed_in(index, "etc/passwd") is not None:
                return None
            return layers[index].passwd
    return None


def _layer_history(history: Sequence[Mapping[str, Any]] | None, count: int) -> list[str | None]:
    entries = [entry for entry in history or () if isinstance(entry, Mapping) and not entry.get("empty_layer")]
    if len(entries) != count:
        return [None] * count
    matcher = default_matcher()
    return [safe_history(matcher, str(entry.get("created_by") or "")) for entry in entries]

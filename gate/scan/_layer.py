"""Scan one layer blob: inflate, walk the tar, and record what later layers need to judge it
(a :class:`~gate.scan._layer_scan.LayerScan`, cached by digest).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from gate.config import Limits
from gate.scan._files import credential_checker, detect, is_text
from gate.scan._finding import redact
from gate.scan._inflate import inflate, new_meter
from gate.scan._layer_scan import SECRET, ImageBudget, LayerHit, LayerScan, packed_hashes, path_digest
from gate.scan._leftovers import could_be_leftover, leftover
from gate.scan._matcher import ContentMatcher
from gate.scan._nested import is_archive, members
from gate.scan._tar import entries

_WHITEOUT = ".wh."
_OPAQUE = ".wh..wh..opq"
_PASSWD = "etc/passwd"  # noqa: S105 - a path, not a password
_PASSWD_CAP = 1024 * 1024
_BATCH_BYTES = 4 * 1024 * 1024


class _Collector:
    """Accumulates one layer's hits, whiteouts and path hashes while its tar streams by."""

    def __init__(self, matcher: ContentMatcher, file_bytes: int):
        self.matcher = matcher
        self.file_bytes = file_bytes
        self.hits: list[LayerHit] = []
        self.whiteouts: list[str] = []
        self.opaque: list[str] = []
        self.hashes = bytearray()
        self.dir_hashes = bytearray()
        self.passwd: str | None = None
        self.skipped = {"binary": 0, "oversize": 0, "special": 0}
        self.by_path: dict[str, list[LayerHit]] = {}
        self.leftovers: set[tuple[str, str]] = set()
        self.pending: list[tuple[str, bytes]] = []
        self.pending_bytes = 0

    def add(self, path: str, kind: str, link: str, content: bytes | None, size: int) -> None:
        slash = path.rfind("/")
        if path.startswith(_WHITEOUT, slash + 1):
            directory, name = path[: max(slash, 0)], path[slash + 1 :]
            if name == _OPAQUE:
                self.opaque.append(directory)
            else:
                self.whiteouts.append(f"{directory}/{name[len(_WHITEOUT):]}".lstrip("/"))
            return
        digest = path_digest(path)
        if kind == "file":
            self.hashes += digest
            self._file(path, content, size)
        elif kind == "dir":
            self.dir_hashes += digest
        else:
            self.hashes += digest
            if kind == "hardlink":
                self.flush()
                self._link(path, link)
            elif kind in ("device", "fifo", "other"):
                self.skipped["special"] += 1
        if could_be_leftover(path):
            found = leftover(path, kind)
            if found is not None and (found[1], found[2]) not in self.leftovers:
                self.leftovers.add((found[1], found[2]))
                self.hits.append(LayerHit(found[0], found[1], found[2]))

    def _file(self, path: str, content: bytes | None, size: int) -> None:
        if content is None:
            self.skipped["oversize"] += 1
            self._secrets(path, detect(self.matcher, path, None, False))
            return
        text = is_text(content)
        if not text:
            self.skipped["binary"] += 1
        if path == _PASSWD and size <= _PASSWD_CAP:
            self.passwd = content.decode("utf-8", "surrogateescape")  # names compare byte for byte, as moby/sys user does
        if text and credential_checker(path) is None:
            self.pending.append((path, content))
            self.pending_bytes += len(content)
            if self.pending_bytes >= _BATCH_BYTES:
                self.flush()
        else:
            self._secrets(path, detect(self.matcher, path, content, text))
        if is_archive(path):
            for inner, data in members(path, content, self.file_bytes):
                self._secrets(inner, detect(self.matcher, inner, data))

    def flush(self) -> None:
        """Scan the batched text files (one hyperscan call for many small files)."""
        if not self.pending:
            return
        for (path, content), hits in zip(self.pending, self.matcher.prefilter_many([c for _, c in self.pending]), strict=True):
            if hits:  # most files have no prefilter hit and no credential-file name: nothing to do
                self._secrets(path, detect(self.matcher, path, content, True, hits))
        self.pending.clear()
        self.pending_bytes = 0

    def _link(self, path: str, link: str) -> None:
        """A hard link holds its target's bytes: it carries the target's hits, and a credential-file
        name is reported by name alone (the bytes were checked under the target's name only)."""
        hits = [LayerHit(h.kind, h.detector, path, h.preview) for h in self.by_path.get(link, ())]
        checker = credential_checker(path)
        if checker is not None and all(hit.detector != checker[0] for hit in hits):
            hits.append(LayerHit(SECRET, checker[0], path))
        self._record(path, hits)

    def _secrets(self, path: str, found: list[tuple[str, str]]) -> None:
        self._record(path, [LayerHit(SECRET, detector, path, redact(secret) if secret else None)
                            for detector, secret in found])

    def _record(self, path: str, hits: list[LayerHit]) -> None:
        if hits:
            self.hits.extend(hits)
            self.by_path[path] = hits


class LayerScanner:
    """Scans layer blobs with one compiled matcher. ``scan`` is CPU-bound and synchronous; run it in
    a worker thread. Thread-safe: hyperscan scratch space is per thread."""

    def __init__(self, limits: Limits, matcher: ContentMatcher | None = None):
        self.limits = limits
        self.matcher = matcher or ContentMatcher()

    def scan(
        self,
        chunks: Iterable[bytes],
        media_type: str,
        index: int,
        digest: str,
        *,
        progress: Callable[[int], None] | None = None,
        budget: ImageBudget | None = None,
    ) -> LayerScan:
        """Scan one layer from its compressed chunks (the whole blob, in order).

        Raises:
            EvidenceError: corrupt or truncated compression or tar, or a path escaping the root.
            LimitExceeded: per-layer or per-image byte caps, entry cap, or a decompression bomb.
        """
        label = f"layer {index} ({digest})"
        meter = new_meter(label, self.limits.scan_bytes_per_layer, progress)
        compression, plain = inflate(chunks, meter)
        if budget is not None:
            plain = _charged(plain, budget, label)
        collector = _Collector(self.matcher, self.limits.file_bytes)
        count = 0
        for entry, content in entries(plain, label, want=self.limits.file_bytes,
                                      max_entries=self.limits.entries_per_layer):
            count += 1
            collector.add(entry.path, entry.kind, entry.link, content, entry.size)
        collector.flush()
        return LayerScan(
            digest=digest, media_type=media_type, compression=compression, bytes_in=meter.bytes_in,
            bytes_out=meter.bytes_out, entries=count, hits=tuple(collector.hits),
            whiteouts=tuple(collector.whiteouts), opaque_dirs=tuple(collector.opaque), passwd=collector.passwd,
            skipped=collector.skipped, present=packed_hashes(collector.hashes), directories=packed_hashes(collector.dir_hashes),
        )


def _charged(chunks: Iterable[bytes], budget: ImageBudget, label: str) -> Iterator[bytes]:
    for chunk in chunks:
        budget.charge(len(chunk), label)
        yield chunk

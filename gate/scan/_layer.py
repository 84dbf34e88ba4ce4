"""Scan one layer blob: inflate, walk the tar, and record what later layers need to judge it.

A ``LayerScan`` depends only on the layer's bytes (never on its position in an image), so it is
cached by digest and shared by every image that uses the layer. It keeps the raw hits (secrets,
leftovers), the layer's whiteouts and opaque directories, and a sorted set of 64-bit hashes of its
non-directory paths, which is how ``combine_layers`` knows that a later layer replaced a file.
"""

from __future__ import annotations

import base64
import hashlib
import sys
import threading
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from gate.config import Limits
from gate.errors import EvidenceError, LimitExceeded
from gate.scan._files import credential_checker, detect, is_text
from gate.scan._finding import redact
from gate.scan._inflate import inflate, new_meter
from gate.scan._leftovers import could_be_leftover, leftover
from gate.scan._matcher import ContentMatcher
from gate.scan._nested import is_archive, members
from gate.scan._tar import entries

SCANNER_VERSION = "3"  # bump whenever a layer's scan result can change: the disk cache keys on it
SECRET = "secret"  # noqa: S105 - the finding kind, not a password
_WHITEOUT = ".wh."
_OPAQUE = ".wh..wh..opq"
_PASSWD = "etc/passwd"  # noqa: S105 - a path, not a password
_PASSWD_CAP = 1024 * 1024
_BATCH_BYTES = 4 * 1024 * 1024
_blake2b = hashlib.blake2b


def path_hash(path: str) -> int:
    """Stable 64-bit hash of a normalised path (stable across processes, for the disk cache)."""
    return int.from_bytes(_path_digest(path), "little")


def _path_digest(path: str) -> bytes:
    """``path_hash`` as its 8 little-endian bytes (a layer keeps these in one buffer while it streams)."""
    return _blake2b(path.encode("utf-8", "surrogateescape"), digest_size=8).digest()


@dataclass(frozen=True)
class LayerHit:
    """A raw finding in one layer: ``kind`` is ``secret`` or a content.* rule ID; preview is redacted."""

    kind: str
    detector: str
    path: str
    preview: str | None = None


@dataclass(frozen=True)
class LayerScan:
    """What one layer holds, independent of the image it is in (cacheable by ``digest``)."""

    digest: str
    media_type: str
    compression: str
    bytes_in: int
    bytes_out: int
    entries: int
    hits: tuple[LayerHit, ...] = ()
    whiteouts: tuple[str, ...] = ()
    opaque_dirs: tuple[str, ...] = ()
    passwd: str | None = None
    skipped: dict[str, int] = field(default_factory=dict)
    present: bytes = b""
    directories: bytes = b""

    def has_file(self, path: str) -> bool:
        """True when this layer holds a non-directory entry at ``path`` (hash set; collisions ~2^-64)."""
        return _in_hashes(self.present, path)

    def has_directory(self, path: str) -> bool:
        """True when this layer holds a directory entry at ``path`` (it replaces a file there)."""
        return _in_hashes(self.directories, path)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": SCANNER_VERSION, "digest": self.digest, "media_type": self.media_type,
            "compression": self.compression, "bytes_in": self.bytes_in, "bytes_out": self.bytes_out,
            "entries": self.entries, "hits": [vars(hit) for hit in self.hits], "whiteouts": list(self.whiteouts),
            "opaque_dirs": list(self.opaque_dirs), "passwd": self.passwd, "skipped": dict(self.skipped),
            "present": base64.b64encode(self.present).decode(),
            "directories": base64.b64encode(self.directories).decode(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "LayerScan":
        """Rebuild from ``to_json``; raises EvidenceError on a different scanner version or bad data."""
        if data.get("version") != SCANNER_VERSION:
            raise EvidenceError("cached layer scan is from another scanner version")
        try:
            return cls(
                digest=data["digest"], media_type=data["media_type"], compression=data["compression"],
                bytes_in=int(data["bytes_in"]), bytes_out=int(data["bytes_out"]), entries=int(data["entries"]),
                hits=tuple(LayerHit(**hit) for hit in data["hits"]), whiteouts=tuple(data["whiteouts"]),
                opaque_dirs=tuple(data["opaque_dirs"]), passwd=data["passwd"], skipped=dict(data["skipped"]),
                present=base64.b64decode(data["present"]), directories=base64.b64decode(data["directories"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise EvidenceError(f"cached layer scan is malformed: {exc}") from exc


def _in_hashes(packed: bytes, path: str) -> bool:
    hashes = memoryview(packed).cast("Q")
    target = path_hash(path)
    index = bisect_left(hashes, target)
    return index < len(hashes) and hashes[index] == target


def _packed(digests: bytearray) -> bytes:
    """The sorted, distinct ``path_hash`` values of a buffer of ``_path_digest`` outputs, in native order."""
    values = array("Q")
    values.frombytes(digests)
    if sys.byteorder == "big":
        values.byteswap()
    return array("Q", sorted(set(values))).tobytes()


class ImageBudget:
    """The per-image cap on uncompressed bytes, shared (thread-safely) by that image's layer scans.

    ``used`` starts above zero in a scan worker process: the bytes the image's other layers had
    used when the job was sent (the parent charges the worker's total once more on its answer).
    """

    def __init__(self, limit: int, *, used: int = 0):
        self.limit = limit
        self.used = used
        self._lock = threading.Lock()

    def charge(self, size: int, label: str) -> None:
        with self._lock:
            self.used += size
            over = self.used > self.limit
        if over:
            raise LimitExceeded(
                f"{label}: image exceeds {self.limit} uncompressed bytes scanned",
                remedy="raise limits.scan_bytes_per_image or scan with --no-layer-scan",
                details={"layer": label, "limit": self.limit},
            )


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
        digest = _blake2b(path.encode("utf-8", "surrogateescape"), digest_size=8).digest()  # _path_digest, inlined
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
            skipped=collector.skipped, present=_packed(collector.hashes), directories=_packed(collector.dir_hashes),
        )


def _charged(chunks: Iterable[bytes], budget: ImageBudget, label: str) -> Iterator[bytes]:
    for chunk in chunks:
        budget.charge(len(chunk), label)
        yield chunk

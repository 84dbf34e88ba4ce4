"""What one layer holds once scanned: the cached result of ``gate.scan._layer``'s reader.

A ``LayerScan`` depends only on the layer's bytes (never on its position in an image), so it is
cached by digest and shared by every image that uses the layer. It keeps the raw hits (secrets,
leftovers), the layer's whiteouts and opaque directories, and a sorted set of 64-bit hashes of its
non-directory paths, which is how ``combine_layers`` knows that a later layer replaced a file. A
check whose layers are all cached reads these and never imports the tar reader or its rules.
"""

from __future__ import annotations

import base64
import hashlib
import sys
import threading
from array import array
from bisect import bisect_left
from dataclasses import dataclass, field
from typing import Any

from gate.errors import EvidenceError, LimitExceeded

SCANNER_VERSION = "3"  # bump whenever a layer's scan result can change: the disk cache keys on it
SECRET = "secret"  # noqa: S105 - the finding kind, not a password


def path_hash(path: str) -> int:
    """Stable 64-bit hash of a normalised path (stable across processes, for the disk cache)."""
    return int.from_bytes(path_digest(path), "little")


def path_digest(path: str) -> bytes:
    """``path_hash`` as its 8 little-endian bytes (a layer keeps these in one buffer while it streams)."""
    return hashlib.blake2b(path.encode("utf-8", "surrogateescape"), digest_size=8).digest()


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


def packed_hashes(digests: bytearray) -> bytes:
    """The sorted, distinct ``path_hash`` values of a buffer of ``path_digest`` outputs, in native order."""
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

"""A minimal streaming tar reader (ustar, pax ``x``, GNU ``L``/``K``) over uncompressed chunks.

Hand-written instead of ``tarfile.open(mode="r|")`` for speed and for control over hostile input:
``tarfile`` builds a ``TarInfo`` per member, copies through its own ``_Stream`` buffer and reads
through a file object; here a header is one 512-byte slice of the current chunk, file contents are
skipped without copying unless wanted, every length is capped, and every malformation becomes an
``EvidenceError`` that names the layer (bench numbers in the commit that introduced this file).
Members are read as Go's ``archive/tar`` (Docker, containerd) reads them: a pax global ``g`` header
applies to no member. Paths are normalised (leading ``/`` and ``./`` dropped); a path that climbs
out of the root with ``..`` is refused, since no runtime could unpack it safely.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass

from gate.errors import EvidenceError, LimitExceeded

BLOCK = 512
_META_CAP = 1024 * 1024
_ZERO_BLOCK = bytes(BLOCK)
_KINDS = {
    b"0": "file", b"\0": "file", b"7": "file", b"1": "hardlink", b"2": "symlink",
    b"3": "device", b"4": "device", b"5": "dir", b"6": "fifo",
}


@dataclass(slots=True)
class TarEntry:
    """One member: normalised path, kind (file/dir/symlink/hardlink/device/fifo/other), size, link."""

    path: str
    kind: str
    size: int
    link: str


class _Chunks:
    """Exact-length reads and skips over an iterator of byte chunks, copying as little as possible."""

    def __init__(self, chunks: Iterator[bytes]):
        self._chunks = chunks
        self._buffer = b""
        self._position = 0

    def read(self, size: int) -> bytes | None:
        """Exactly ``size`` bytes, or None at a clean end of input; raises on a partial read."""
        end = self._position + size
        if end <= len(self._buffer):
            data = self._buffer[self._position : end]
            self._position = end
            return data
        parts = [self._buffer[self._position :]]
        have = len(parts[0])
        while have < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                if have == 0:
                    return None
                raise _Truncated()
            need = size - have
            if len(chunk) > need:
                parts.append(chunk[:need])
                self._buffer, self._position = chunk, need
                return b"".join(parts)
            parts.append(chunk)
            have += len(chunk)
        self._buffer, self._position = b"", 0
        return b"".join(parts)

    def skip(self, size: int) -> None:
        available = len(self._buffer) - self._position
        if size <= available:
            self._position += size
            return
        size -= available
        self._buffer, self._position = b"", 0
        while size > 0:
            chunk = next(self._chunks, None)
            if chunk is None:
                raise _Truncated()
            if len(chunk) > size:
                self._buffer, self._position = chunk, size
                return
            size -= len(chunk)

    def drain(self) -> bool:
        """Consume what follows the end-of-archive marker, so the source is fully read; False when
        any of it is not zero padding."""
        rest = self._buffer[self._position :]
        self._buffer, self._position = b"", 0
        return not rest.strip(b"\0") and not any(chunk.strip(b"\0") for chunk in self._chunks)


class _Truncated(Exception):
    pass


def entries(chunks: Iterator[bytes], label: str, *, want: int, max_entries: int) -> Iterator[tuple[TarEntry, bytes | None]]:
    """Yield each member with its content when it is a regular file of at most ``want`` bytes.

    Raises:
        EvidenceError: a corrupt header, bad checksum, truncated archive, data after the end-of-archive
            marker or a path escaping the root.
        LimitExceeded: more than ``max_entries`` members, or an oversized pax/GNU name record.
    """
    stream = _Chunks(chunks)
    try:
        yield from _walk(stream, label, want, max_entries)
    except _Truncated:
        raise EvidenceError(
            f"{label}: tar archive ends in the middle of a member (truncated layer)",
            remedy="re-push the layer", details={"layer": label},
        ) from None


def _walk(stream: _Chunks, label: str, want: int, max_entries: int) -> Iterator[tuple[TarEntry, bytes | None]]:
    count = 0
    pax: dict[str, str] = {}
    long_name = long_link = None
    while True:
        block = stream.read(BLOCK)
        if block is None:
            raise _Truncated()
        if block == _ZERO_BLOCK:
            if not stream.drain():
                # Members hidden past the end are in the blob for anyone to read, but never scanned.
                raise EvidenceError(
                    f"{label}: data after the end of the tar archive", remedy="re-push the layer",
                    details={"layer": label},
                )
            return
        _check_sum(block, label)
        kind_flag = block[156:157]
        size = _number(block[124:136], label)
        if kind_flag in (b"x", b"g", b"L", b"K"):
            payload = _meta(stream, size, label)
            if kind_flag == b"x":
                pax = _pax(payload, label)
            elif kind_flag == b"g":
                # Go's archive/tar hands a global header back as a member of its own, which Docker and
                # containerd skip: it renames nothing, and ends any pending x/L/K record as a member does.
                _pax(payload, label)
                pax, long_name, long_link = {}, None, None
            elif kind_flag == b"L":
                long_name = payload.split(b"\0", 1)[0]
            else:
                long_link = payload.split(b"\0", 1)[0]
            continue
        count += 1
        if count > max_entries:
            raise LimitExceeded(
                f"{label}: more than {max_entries} tar entries", remedy="raise limits.entries_per_layer",
                details={"layer": label, "limit": max_entries},
            )
        entry = _entry(block, kind_flag, size, pax, long_name, long_link, label)
        pax, long_name, long_link = {}, None, None
        padded = (entry.size + BLOCK - 1) // BLOCK * BLOCK if kind_flag not in (b"1", b"2", b"3", b"4", b"5", b"6") else 0
        if entry.kind == "file" and entry.size <= want:
            data = stream.read(entry.size) if entry.size else b""
            if data is None:
                raise _Truncated()
            stream.skip(padded - entry.size)
            yield entry, data
        else:
            stream.skip(padded)
            yield entry, None


def _check_sum(block: bytes, label: str) -> None:
    """Verify the header checksum (sum of the header bytes, checksum field read as spaces).

    The byte sum is taken from ``zlib.adler32`` (its low half is 1 + the byte sum mod 65521), which
    is C speed; Python's ``sum()`` over 512 bytes was the largest cost per member. A header sum is
    below 131,072, so equality mod 65521 still rejects all but ~1 in 65,521 corrupt headers.
    """
    stored = block[148:156]
    try:
        expected = int(stored.replace(b"\0", b" ").strip() or b"-1", 8)
    except ValueError:
        expected = -1
    byte_sum = (zlib.adler32(block) & 0xFFFF) - 1
    if expected < 0 or (expected + sum(stored) - 8 * 32 - byte_sum) % 65521:
        raise EvidenceError(
            f"{label}: not a tar archive or a corrupt tar header (checksum mismatch)",
            remedy="re-push the layer; gate reads OCI layers as tar, optionally gzip or zstd compressed",
            details={"layer": label},
        )


def _number(field: bytes, label: str) -> int:
    """Octal, or GNU base-256 when the high bit of the first byte is set."""
    if field[:1] and field[0] & 0x80:
        value = int.from_bytes(field[1:], "big")
        if field[0] & 0x40:
            raise EvidenceError(f"{label}: negative size in a tar header", remedy="re-push the layer")
        return value
    text = field.replace(b"\0", b" ").strip()
    try:
        return int(text, 8) if text else 0
    except ValueError:
        raise EvidenceError(f"{label}: unreadable number in a tar header", remedy="re-push the layer") from None


def _meta(stream: _Chunks, size: int, label: str) -> bytes:
    if size > _META_CAP:
        raise LimitExceeded(f"{label}: pax or long-name record of {size} bytes", remedy="re-push the layer")
    data = stream.read((size + BLOCK - 1) // BLOCK * BLOCK) if size else b""
    if data is None:
        raise _Truncated()
    return data[:size]


def _pax(payload: bytes, label: str) -> dict[str, str]:
    """``<len> <key>=<value>\\n`` records; only path, linkpath and size matter here."""
    records: dict[str, str] = {}
    position = 0
    while position < len(payload):
        space = payload.find(b" ", position)
        try:
            length = int(payload[position:space])
        except ValueError:
            raise EvidenceError(f"{label}: malformed pax header", remedy="re-push the layer") from None
        if length <= 0 or space < 0:
            raise EvidenceError(f"{label}: malformed pax header", remedy="re-push the layer")
        record = payload[space + 1 : position + length - 1]
        key, _, value = record.partition(b"=")
        records[key.decode("utf-8", "replace")] = value.decode("utf-8", "surrogateescape")
        position += length
    return records


def _entry(block: bytes, flag: bytes, size: int, pax: dict[str, str], long_name: bytes | None,
           long_link: bytes | None, label: str) -> TarEntry:
    if "path" in pax:
        raw = pax["path"]
    else:
        name = long_name if long_name is not None else block[0:100].split(b"\0", 1)[0]
        if long_name is None and block[257:263] == b"ustar\0":
            prefix = block[345:500].split(b"\0", 1)[0]
            if prefix:
                name = prefix + b"/" + name
        raw = name.decode("utf-8", "surrogateescape")
    if "linkpath" in pax:
        link = pax["linkpath"]
    else:
        link = (long_link if long_link is not None else block[157:257].split(b"\0", 1)[0]).decode(
            "utf-8", "surrogateescape")
    if "size" in pax:
        if not (pax["size"].isascii() and pax["size"].isdigit()):  # int() takes "-5", " 5", "1_0"; Go refuses them
            raise EvidenceError(f"{label}: malformed pax size {pax['size']!r}", remedy="re-push the layer")
        size = int(pax["size"])
    kind = _KINDS.get(flag, "other")
    if kind == "hardlink":
        link = normalise(link, label)
    return TarEntry(normalise(raw, label), kind, size if kind == "file" or kind == "other" else 0, link)


def normalise(raw: str, label: str) -> str:
    """``/a/./b/../c/`` -> ``a/c``; raises EvidenceError when ``..`` climbs above the root."""
    if "/." not in raw and not raw.startswith((".", "/")) and "//" not in raw:
        return raw.rstrip("/")
    parts: list[str] = []
    for part in raw.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                raise EvidenceError(
                    f"{label}: tar entry {raw!r} climbs out of the root (path traversal)",
                    remedy="rebuild the layer; a layer must not hold paths with `..` above `/`",
                    details={"layer": label, "path": raw},
                )
            parts.pop()
            continue
        parts.append(part)
    return "/".join(parts)

"""A minimal streaming tar reader over uncompressed chunks that names members exactly as Go's
``archive/tar`` does.

Hand-written instead of ``tarfile.open(mode="r|")`` for speed and for control over hostile input:
``tarfile`` builds a ``TarInfo`` per member, copies through its own ``_Stream`` buffer and reads
through a file object; here a header is one 512-byte slice of the current chunk, file contents are
skipped without copying unless wanted, every length is capped, and every malformation becomes an
``EvidenceError`` that names the layer (bench numbers in the commit that introduced this file).

Equivalence: containerd and Docker unpack layers with Go's ``archive/tar`` (``Reader.Next``,
``readHeader``, ``parsePAX``, ``mergePAX`` in src/archive/tar/reader.go; ``parseNumeric``,
``parsePAXRecord`` in strconv.go; ``getFormat`` in format.go), so for every archive this reader
either yields the member names, kinds, link targets and sizes Go yields, or refuses the layer.
Go's rules followed: the header format comes from the magic (``ustar\0`` = USTAR/PAX, prefix
155 bytes, or STAR with a ``tar\0`` trailer, prefix 131 bytes; ``ustar  \0`` = GNU, no prefix
unless its atime/ctime fields do not parse and the prefix field is ASCII; anything else V7); every
numeric field must parse (octal, or base-256); pax records are ``<len> <key>=<value>\n`` with
the last value of a key winning, and an empty value leaving the header field as it is; a GNU
long name or link (``L``/``K``) replaces the pax one; the last ``x``/``L``/``K`` before a member
wins; a global ``g`` header renames nothing and drops what was pending; type ``\0`` with a name
ending in ``/`` is a directory (with no data); links, devices, directories and FIFOs carry no data
whatever their size field says. Refused where readers disagree or the content would be misread:
GNU sparse files (type ``S`` or ``GNU.sparse.*`` records), a member named by both a pax path and
a different GNU long name (or link), and anything Go itself rejects. Paths are then normalised
(leading ``/`` and ``./`` dropped); a path that climbs out of the root with ``..`` is refused,
since no runtime could unpack it safely. tests/scan/_go_tar_model.py models Go's reader from its
source, and tests/scan/test_tar_differential.py compares the two on hand-made headers and on Go's
own testdata archives.
"""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

from gate.errors import EvidenceError, LimitExceeded

BLOCK = 512
_META_CAP = 1024 * 1024  # Go's maxSpecialFileSize
_ZERO_BLOCK = bytes(BLOCK)
_KINDS = {
    b"0": "file", b"7": "file", b"1": "hardlink", b"2": "symlink",
    b"3": "device", b"4": "device", b"5": "dir", b"6": "fifo",
}
_HEADER_ONLY = frozenset(b"123456")  # Go's isHeaderOnlyType: no data section whatever the size says
_META_FLAGS = frozenset((b"x", b"g", b"L", b"K"))  # pax and GNU long-name records, which describe the next member
_PAX_NUMBERS = ("size", "uid", "gid")
_PAX_TIMES = ("atime", "mtime", "ctime")
_HIGH_BYTES = bytes(range(128))  # deleted by translate() to count bytes >= 0x80
_PLAIN_NUMBER = re.compile(rb"[ \0]*[0-7]*[ \0]*")  # what writers emit; anything else takes Go's slow rules
_OCTAL_DIGITS = b"01234567"
_OCTAL_OR_NUL = b"01234567\0"  # a numeric field made only of these always parses in Go
# Numeric fields Go parses per format: mode, uid, gid, size, mtime; devmajor, devminor; STAR atime, ctime.
_V7_NUMBERS: tuple[tuple[int, int], ...] = ((100, 108), (108, 116), (116, 124), (124, 136), (136, 148))
_USTAR_NUMBERS = (*_V7_NUMBERS, (329, 337), (337, 345))
_STAR_NUMBERS = (*_USTAR_NUMBERS, (476, 488), (488, 500))
# One unpack for what every header needs: name, the five V7 numbers, checksum, type flag, link
# name, magic, version, devmajor and devminor, the 155-byte prefix (STAR: 131 bytes, then atime and
# ctime) and the STAR trailer.
_LAYOUT = struct.Struct("100s48s8sc100s6s2s64x16s155s8x4s")


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

    def read_padded(self, size: int) -> bytes:
        """A member's ``size`` (> 0) bytes of data, then past its zero padding to the next block
        (the input may end inside the padding, as Go's tryReadFull allows); raises on a short read."""
        start = self._position
        end = start + size
        padded = end + -size % BLOCK
        if padded <= len(self._buffer):  # data and padding in the current chunk
            self._position = padded
            return self._buffer[start:end]
        data = self.read(size)
        if data is None:
            raise _Truncated()
        self.skip(-size % BLOCK, may_end=True)
        return data

    def skip(self, size: int, *, may_end: bool = False) -> None:
        """Skip ``size`` bytes; with ``may_end`` the input may end first (Go's tryReadFull of padding)."""
        available = len(self._buffer) - self._position
        if size <= available:
            self._position += size
            return
        size -= available
        self._buffer, self._position = b"", 0
        while size > 0:
            chunk = next(self._chunks, None)
            if chunk is None:
                if may_end:
                    return
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


class _Truncated(EvidenceError):
    """The stream ended inside a header or a member's data (turned into a named error below)."""

    def __init__(self) -> None:
        super().__init__("the tar stream ended early")


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


_Header = tuple[bytes, bytes, bytes, int]  # what Go's readHeader reads: type flag, name (prefix applied), link, size


@dataclass(slots=True)
class _Pending:
    """Metadata records waiting for the next member: the last pax ``x`` record set and GNU ``L``/``K``."""

    pax: dict[str, str] | None = None
    long_name: bytes = b""
    long_link: bytes = b""


def _walk(stream: _Chunks, label: str, want: int, max_entries: int) -> Iterator[tuple[TarEntry, bytes | None]]:
    count = 0
    pending: _Pending | None = None  # created only when a metadata record comes (most members have none)
    started = False
    while True:
        block = stream.read(BLOCK)
        if block is None:
            if not started:
                raise _Truncated()  # an empty blob is no archive at all: refused, though Go reads it as empty
            return  # Go's Next: input ending on a header boundary is the end of the archive
        started = True
        if block == _ZERO_BLOCK:
            if not stream.drain():
                # Members hidden past the end are in the blob for anyone to read, but never scanned.
                raise _refuse(label, "data after the end of the tar archive")
            return
        header = _header(block, label)
        if header[0] in _META_FLAGS:
            pending = pending or _Pending()
            _meta_record(header[0], _meta(stream, header[3], label), pending, label)
            continue
        count += 1
        if count > max_entries:
            raise LimitExceeded(
                f"{label}: more than {max_entries} tar entries", remedy="raise limits.entries_per_layer",
                details={"layer": label, "limit": max_entries},
            )
        entry, data_size = _entry(header, pending, label)
        pending = None
        if entry.kind == "file" and data_size <= want:
            data = stream.read_padded(data_size) if data_size else b""
        else:
            data = None
            stream.skip(data_size)
            stream.skip(-data_size % BLOCK, may_end=True)
        yield entry, data


def _meta_record(flag: bytes, payload: bytes, pending: _Pending, label: str) -> None:
    """Go's handling of ``x``, ``g``, ``L`` and ``K`` headers: each replaces what it sets."""
    if flag == b"x":
        pending.pax = _pax(payload, label)
    elif flag == b"g":
        # Go hands a global header back as a member of its own, which Docker and containerd skip: it
        # renames nothing, and ends any pending x/L/K record as a member does.
        _pax(payload, label)
        pending.pax, pending.long_name, pending.long_link = None, b"", b""
    elif flag == b"L":
        pending.long_name = payload.split(b"\0", 1)[0]
    else:
        pending.long_link = payload.split(b"\0", 1)[0]


def _refuse(label: str, what: str) -> EvidenceError:
    return EvidenceError(
        f"{label}: {what}", remedy="rebuild the layer with a standard tar writer (BuildKit, docker, tar)",
        details={"layer": label},
    )


def _header(block: bytes, label: str) -> _Header:
    """Go's ``getFormat`` and ``readHeader``: every numeric field must parse, the prefix depends on the format.

    Raises:
        EvidenceError: bad checksum or an unreadable numeric field (Go's ErrHeader).
    """
    name, numbers, stored, flag, link, magic, version, devices, prefix, trailer = _LAYOUT.unpack(block)
    _check_sum(block, stored, label)
    fields = _V7_NUMBERS
    unusual: bytes | bool = numbers.translate(None, _OCTAL_OR_NUL)
    if magic == b"ustar\0":
        if trailer == b"tar\0":
            fields = _STAR_NUMBERS
            unusual = unusual or devices.translate(None, _OCTAL_OR_NUL) or prefix[131:].translate(None, _OCTAL_OR_NUL)
            prefix = prefix[:131].partition(b"\0")[0]
        else:
            fields = _USTAR_NUMBERS
            unusual = unusual or devices.translate(None, _OCTAL_OR_NUL)
            prefix = prefix.partition(b"\0")[0]
    elif magic == b"ustar " and version == b" \0":
        fields, unusual = _USTAR_NUMBERS, unusual or devices.translate(None, _OCTAL_OR_NUL)
        prefix = _gnu_prefix(block)
    else:
        prefix = b""
    # A field of octal digits and NULs only always parses; anything else takes Go's full rules.
    size_field = numbers[24:36]
    if not unusual:  # only octal digits and NULs: Go skips leading NULs and stops at the next one
        size = int(size_field.lstrip(b"\0").partition(b"\0")[0] or b"0", 8)
    else:
        if any(_numeric(block[start:end]) is None for start, end in fields):
            raise _refuse(label, "unreadable number in a tar header (Go's archive/tar refuses it)")
        size = _numeric(size_field) or 0
        if size < 0 and flag[0] not in _HEADER_ONLY:
            raise _refuse(label, "negative size in a tar header")
    name = name.partition(b"\0")[0]
    return flag, prefix + b"/" + name if prefix else name, link.partition(b"\0")[0], size


def _gnu_prefix(block: bytes) -> bytes:
    """GNU headers have no prefix, except that Go reads one written by pre-1.8 Go writers: when the
    atime or ctime field (non-empty) does not parse, an ASCII prefix field is taken as the prefix."""
    times = (block[345:357], block[357:369])
    if all(field[0] == 0 or _numeric(field) is not None for field in times):
        return b""
    prefix = _string(block[345:500])
    return prefix if prefix.isascii() else b""


def _string(field: bytes) -> bytes:
    """Go's ``parseString``: up to the first NUL."""
    return field.split(b"\0", 1)[0]


def _numeric(field: bytes) -> int | None:
    """Go's ``parseNumeric``: base-256 when the high bit is set, else octal; None where Go errs."""
    if field and field[0] & 0x80:
        invert = 0xFF if field[0] & 0x40 else 0
        value = 0
        for index, byte in enumerate(field):
            byte ^= invert
            if index == 0:
                byte &= 0x7F
            if value >> 56:
                return None
            value = value << 8 | byte
        if value >> 63:
            return None
        return ~value if invert else value
    return _octal(field)


def _octal(field: bytes) -> int | None:
    """Go's ``parseOctal``: trim spaces and NULs, stop at a NUL, then only octal digits (no sign)."""
    text = _string(field.strip(b" \0"))
    if not text:
        return 0
    if text.strip(b"01234567"):
        return None
    value = int(text, 8)
    return value if value >> 64 == 0 else None


def _check_sum(block: bytes, stored: bytes, label: str) -> None:
    """Verify the header checksum as Go does: the unsigned or the signed byte sum, checksum field as spaces.

    ``stored`` is the checksum field, ``block[148:156]``.
    """
    if stored[6:] == b"\0 " and not stored[:6].translate(None, _OCTAL_DIGITS):  # as Go, GNU tar and tarfile write it
        expected: int | None = int(stored[:6], 8)
    elif _PLAIN_NUMBER.fullmatch(stored):
        expected = int(stored.strip(b" \0") or b"0", 8)
    else:
        expected = _octal(stored)
    if expected is not None:
        unsigned = _byte_sum(block) - sum(stored) + 8 * 32
        if expected == unsigned:
            return
        high = len((block[:148] + block[156:]).translate(None, _HIGH_BYTES))
        if expected == unsigned - 256 * high:
            return
    raise EvidenceError(
        f"{label}: not a tar archive or a corrupt tar header (checksum mismatch)",
        remedy="re-push the layer; gate reads OCI layers as tar, optionally gzip or zstd compressed",
        details={"layer": label},
    )


def _byte_sum(block: bytes) -> int:
    """The unsigned byte sum of a 512-byte block, exactly, at C speed (Python's ``sum()`` over 512
    bytes was the largest cost per member): ``zlib.adler32``'s low half is 1 + the byte sum mod
    65521, and the bytes of a 256-byte half sum to at most 65,280, below the modulus."""
    view = memoryview(block)
    return (zlib.adler32(view[:256]) & 0xFFFF) + (zlib.adler32(view[256:]) & 0xFFFF) - 2


def _meta(stream: _Chunks, size: int, label: str) -> bytes:
    if size > _META_CAP:
        raise LimitExceeded(f"{label}: pax or long-name record of {size} bytes", remedy="re-push the layer")
    data = stream.read((size + BLOCK - 1) // BLOCK * BLOCK) if size else b""
    if data is None:
        raise _Truncated()
    return data[:size]


def _pax(payload: bytes, label: str) -> dict[str, str]:
    """Go's ``parsePAX`` / ``parsePAXRecord``: ``<len> <key>=<value>\\n`` records, the last value of a key wins.

    Raises:
        EvidenceError: a malformed record (Go's ErrHeader) or a GNU sparse record (refused).
    """
    records: dict[str, str] = {}
    position = 0
    while position < len(payload):
        space = payload.find(b" ", position)
        length = _decimal(payload[position:space]) if space >= 0 else None
        end = position + length if length is not None else 0
        if length is None or length < 5 or end > len(payload) or end <= space + 1 or payload[end - 1 : end] != b"\n":
            raise _refuse(label, "malformed pax header")
        key, equals, value = payload[space + 1 : end - 1].partition(b"=")
        if not equals or not key or b"\0" in (value if key in (b"path", b"linkpath", b"uname", b"gname") else key):
            raise _refuse(label, "malformed pax record")
        if key.startswith(b"GNU.sparse."):
            raise _refuse(label, "GNU sparse file (pax GNU.sparse records); gate does not read sparse members")
        records[key.decode("utf-8", "surrogateescape")] = value.decode("utf-8", "surrogateescape")
        position = end
    return records


def _decimal(text: bytes) -> int | None:
    """Go's ``strconv.ParseInt(s, 10, 64)``: an optional sign, then ASCII digits; None where Go errs."""
    digits = text[1:] if text[:1] in (b"+", b"-") else text
    if not digits or digits.strip(b"0123456789"):
        return None
    value = int(digits) * (-1 if text[:1] == b"-" else 1)
    return value if -(1 << 63) <= value < 1 << 63 else None


def _pax_time(text: bytes) -> bool:
    """Whether Go's ``parsePAXTime`` accepts the value."""
    seconds, _, fraction = text.partition(b".")
    return _decimal(seconds) is not None and not fraction.strip(b"0123456789")


def _entry(header: _Header, pending: _Pending | None, label: str) -> tuple[TarEntry, int]:
    """Go's ``mergePAX`` and GNU long-name handling for one member; returns it and its data size."""
    flag, name, link, size = header
    if pending is not None:
        if pending.pax:
            name, link, size = _merge_pax(pending.pax, pending, name, link, size, label)
        name, link = pending.long_name or name, pending.long_link or link
    if flag == b"S":
        raise _refuse(label, "GNU sparse file (type S); gate does not read sparse members")
    if flag == b"\0":
        flag = b"5" if name.endswith(b"/") else b"0"
    data_size = 0 if flag[0] in _HEADER_ONLY else size
    if data_size < 0:
        raise _refuse(label, "negative size in a tar header")
    kind = _KINDS.get(flag, "other")
    target = link.decode("utf-8", "surrogateescape") if link else ""
    if kind == "hardlink":
        target = normalise(target, label)
    path = normalise(name.decode("utf-8", "surrogateescape"), label)
    return TarEntry(path, kind, data_size if kind in ("file", "other") else 0, target), data_size


def _merge_pax(pax: dict[str, str], pending: _Pending, name: bytes, link: bytes, size: int, label: str) -> tuple[bytes, bytes, int]:
    """Go's ``mergePAX``: non-empty records replace the header's fields, and must parse.

    Raises:
        EvidenceError: a malformed number or time, or a pax path (link) that a GNU long name (link)
            contradicts: Go takes the GNU one, older readers the pax one.
    """
    for key, value in pax.items():
        raw = value.encode("utf-8", "surrogateescape")
        if raw and (key in _PAX_NUMBERS and _decimal(raw) is None or key in _PAX_TIMES and not _pax_time(raw)):
            raise _refuse(label, f"malformed pax {key} {value!r}")
    path, linkpath = pax.get("path", "").encode("utf-8", "surrogateescape"), pax.get("linkpath", "").encode("utf-8", "surrogateescape")
    if path and pending.long_name and pending.long_name != path:
        raise _refuse(label, "a member named twice, by a pax path and a different GNU long name")
    if linkpath and pending.long_link and pending.long_link != linkpath:
        raise _refuse(label, "a link target given twice, by a pax linkpath and a different GNU long link")
    return path or name, linkpath or link, int(pax["size"]) if pax.get("size") else size


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

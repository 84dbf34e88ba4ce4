"""Turn a layer's compressed byte chunks into uncompressed chunks, with bounded memory and caps.

The format is sniffed from magic bytes (gzip ``1f 8b``, zstd ``28 b5 2f fd``, else plain tar) rather
than trusted from the media type, since registries and tools mislabel layers. gzip goes through
``isal`` (ISA-L, ~2x zlib here) when present, with the standard ``zlib`` as fallback. Every
decompression step is asked for at most ``_STEP`` bytes of output, so a bomb never materialises:
the total is checked against the per-layer cap and against a ratio cap after ``_RATIO_GRACE``.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Iterator
from types import ModuleType
from typing import IO, cast

import zstandard

from gate.errors import EvidenceError, LimitExceeded

try:
    from isal import isal_zlib

    _gzip_impl: ModuleType = isal_zlib
except ImportError:  # pragma: no cover - isal ships wheels for every platform we run on
    _gzip_impl = zlib

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_STEP = 4 * 1024 * 1024
_COALESCE = 1024 * 1024
_RATIO_GRACE = 64 * 1024 * 1024
MAX_RATIO = 1024
_ERRORS = (zlib.error, getattr(_gzip_impl, "error", zlib.error), zstandard.ZstdError)

Progress = Callable[[int], None]


class _Meter:
    """Counts compressed bytes in and uncompressed bytes out; enforces the caps."""

    def __init__(self, label: str, max_out: int, progress: Progress | None):
        self.label, self.max_out, self.progress = label, max_out, progress
        self.bytes_in = 0
        self.bytes_out = 0

    def took(self, size: int) -> None:
        self.bytes_in += size
        if self.progress is not None:
            self.progress(self.bytes_in)

    def gave(self, size: int) -> None:
        self.bytes_out += size
        if self.bytes_out > self.max_out:
            raise LimitExceeded(
                f"{self.label}: more than {self.max_out} uncompressed bytes",
                remedy="raise limits.scan_bytes_per_layer if the layer is legitimately that large",
                details={"layer": self.label, "limit": self.max_out},
            )
        if self.bytes_out > _RATIO_GRACE and self.bytes_out > MAX_RATIO * max(self.bytes_in, 1):
            raise LimitExceeded(
                f"{self.label}: decompression ratio above {MAX_RATIO}:1 (a decompression bomb)",
                remedy="rebuild the layer; gate refuses layers that expand this much",
                details={"layer": self.label, "bytes_in": self.bytes_in, "bytes_out": self.bytes_out},
            )


def sniff(head: bytes) -> str:
    """``gzip``, ``zstd`` or ``tar`` from the first bytes of a blob."""
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    return "tar"


def inflate(chunks: Iterable[bytes], meter: _Meter) -> tuple[str, Iterator[bytes]]:
    """The detected compression and an iterator of uncompressed chunks.

    Raises (from the iterator):
        EvidenceError: corrupt or truncated compressed data.
        LimitExceeded: the per-layer cap or the ratio cap was hit.
    """
    source = _coalesced(iter(chunks))
    head = b""
    while len(head) < 4:
        chunk = next(source, None)
        if chunk is None:
            break
        meter.took(len(chunk))
        head += chunk
    kind = sniff(head)
    if kind == "gzip":
        return kind, _gunzip(head, source, meter)
    if kind == "zstd":
        return kind, _unzstd(head, source, meter)
    return kind, _plain(head, source, meter)


def _coalesced(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Join small network chunks into ~1 MiB pieces.

    Each decompressor call releases the GIL; with several layers scanned in threads, every
    release can cost a thread switch interval (5 ms) to get it back, so fewer, larger calls keep
    concurrent scans from stalling one another.
    """
    pending: list[bytes] = []
    size = 0
    for chunk in chunks:
        pending.append(chunk)
        size += len(chunk)
        if size >= _COALESCE:
            yield b"".join(pending) if len(pending) > 1 else pending[0]
            pending, size = [], 0
    if pending:
        yield b"".join(pending)


def _plain(head: bytes, source: Iterator[bytes], meter: _Meter) -> Iterator[bytes]:
    if head:
        meter.gave(len(head))
        yield head
    for chunk in source:
        meter.took(len(chunk))
        meter.gave(len(chunk))
        yield chunk


def _gunzip(head: bytes, source: Iterator[bytes], meter: _Meter) -> Iterator[bytes]:
    decoder = _gzip_impl.decompressobj(31)
    pending: bytes | None = head
    try:
        while True:
            while pending:
                out = decoder.decompress(pending, _STEP)
                pending = decoder.unconsumed_tail
                if out:
                    meter.gave(len(out))
                    yield out
                if decoder.eof:
                    pending = _next_member(decoder.unused_data + pending, source, meter)
                    if pending is None:
                        return
                    decoder = _gzip_impl.decompressobj(31)
            chunk = next(source, None)
            if chunk is None:
                break
            meter.took(len(chunk))
            pending = chunk
    except _ERRORS as exc:
        raise EvidenceError(
            f"{meter.label}: corrupt gzip data: {exc}", remedy="re-push the layer", details={"layer": meter.label}
        ) from exc
    raise EvidenceError(
        f"{meter.label}: gzip stream ends early (truncated layer)", remedy="re-push the layer",
        details={"layer": meter.label},
    )


def _next_member(rest: bytes, source: Iterator[bytes], meter: _Meter) -> bytes | None:
    """After one gzip member: the next member's bytes, or None when only zero padding follows.

    A member may end exactly at a chunk boundary, or the next magic may straddle two chunks, so
    more input is read until the two magic bytes can be told apart from padding or garbage.
    """
    while len(rest) < len(GZIP_MAGIC):
        chunk = next(source, None)
        if chunk is None:
            break
        meter.took(len(chunk))
        rest += chunk
    if rest.startswith(GZIP_MAGIC):
        return rest
    _refuse_data(rest, meter)
    for chunk in source:
        meter.took(len(chunk))
        _refuse_data(chunk, meter)
    return None


def _refuse_data(padding: bytes, meter: _Meter) -> None:
    if padding.strip(b"\0"):
        raise EvidenceError(f"{meter.label}: data after the end of the gzip stream", remedy="re-push the layer")


class _ZstdFrames:
    """Walks zstd frame and block headers (RFC 8878 §3.1) as compressed bytes pass by.

    python-zstandard's bounded readers stop quietly when the input ends mid-frame; walking the
    headers (a few bytes per block of up to 128 KiB) is how a truncated layer is told apart.
    """

    def __init__(self) -> None:
        self._buffer = b""
        self._skip = 0
        self._state = "magic"
        self._checksum = False
        self.frames = 0

    @property
    def complete(self) -> bool:
        return self._state == "magic" and not self._buffer and not self._skip and self.frames > 0

    def feed(self, data: bytes) -> None:
        position = 0
        while position < len(data) or (self._buffer and len(self._buffer) >= self._need()):
            if self._skip:
                step = min(self._skip, len(data) - position)
                self._skip -= step
                position += step
                if self._skip:
                    return
                continue
            take = self._need() - len(self._buffer)
            self._buffer += data[position : position + take]
            position += min(take, len(data) - position)
            if len(self._buffer) < self._need():
                return
            header, self._buffer = self._buffer, b""
            self._advance(header)

    def _need(self) -> int:
        return {"magic": 4, "descriptor": 1, "block": 3, "checksum": 4, "skippable": 4}.get(self._state, 0) or int(
            self._state.split(":")[1]
        )

    def _advance(self, header: bytes) -> None:
        if self._state == "magic":
            if header == ZSTD_MAGIC:
                self._state = "descriptor"
            elif header[1:] == b"\x2a\x4d\x18" and header[0] & 0xF0 == 0x50:
                self._state = "skippable"
            else:
                raise zstandard.ZstdError("unknown frame magic")
        elif self._state == "descriptor":
            descriptor = header[0]
            single_segment = (descriptor >> 5) & 1
            content_size = (descriptor >> 6, single_segment)
            size_bytes = {(0, 0): 0, (0, 1): 1}.get(content_size, 1 << (descriptor >> 6))
            rest = (0 if single_segment else 1) + (0, 1, 2, 4)[descriptor & 3] + size_bytes
            self._checksum = bool((descriptor >> 2) & 1)
            self._state = f"header:{rest}" if rest else "block"
        elif self._state.startswith("header:"):
            self._state = "block"
        elif self._state == "block":
            value = int.from_bytes(header, "little")
            kind, size = (value >> 1) & 3, value >> 3
            if kind == 3:
                raise zstandard.ZstdError("reserved block type")
            self._skip = 1 if kind == 1 else size
            if value & 1:
                self._state = "checksum" if self._checksum else "magic"
                self.frames += 0 if self._checksum else 1
        elif self._state == "checksum":
            self._state, self.frames = "magic", self.frames + 1
        elif self._state == "skippable":
            self._skip, self._state = int.from_bytes(header, "little"), "magic"


class _ChunkReader:
    """A minimal file-like ``read()`` over chunks, for zstandard's bounded ``stream_reader``."""

    def __init__(self, head: bytes, source: Iterator[bytes], meter: _Meter):
        self._pending, self._source, self._meter = head, source, meter
        self.frames = _ZstdFrames()
        self.frames.feed(head)

    def read(self, size: int = -1) -> bytes:
        if not self._pending:
            chunk = next(self._source, None)
            if chunk is None:
                return b""
            self._meter.took(len(chunk))
            self.frames.feed(chunk)
            self._pending = chunk
        if size < 0 or size >= len(self._pending):
            out, self._pending = self._pending, b""
        else:
            out, self._pending = self._pending[:size], self._pending[size:]
        return out


def _unzstd(head: bytes, source: Iterator[bytes], meter: _Meter) -> Iterator[bytes]:
    reader = _ChunkReader(head, source, meter)
    # zstandard only calls read() on its source; its stubs ask for a whole IO[bytes].
    stream = zstandard.ZstdDecompressor().stream_reader(cast(IO[bytes], reader), read_size=256 * 1024, read_across_frames=True)
    try:
        while out := stream.read(_STEP):
            meter.gave(len(out))
            yield out
    except _ERRORS as exc:
        raise EvidenceError(
            f"{meter.label}: corrupt zstd data: {exc}", remedy="re-push the layer", details={"layer": meter.label}
        ) from exc
    if not reader.frames.complete:
        raise EvidenceError(
            f"{meter.label}: zstd stream ends early (truncated layer)", remedy="re-push the layer",
            details={"layer": meter.label},
        )


def new_meter(label: str, max_out: int, progress: Progress | None = None) -> _Meter:
    """The byte counter a layer scan shares between decompression and its result statistics."""
    return _Meter(label, max_out, progress)

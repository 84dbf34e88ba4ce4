"""Frames between a layer-scan worker process and its parent: a kind byte, a payload length, the payload."""

from __future__ import annotations

import os
import struct
from typing import IO

_FRAME = struct.Struct("!cQ")
JOB, CHUNK, END, RESULT, ERROR = b"S", b"C", b"E", b"R", b"X"


def write_frame(fd: int, kind: bytes, payload: bytes = b"") -> None:
    """One whole frame to ``fd`` (a pipe write may be partial: loop until all of it is out)."""
    _write_all(fd, memoryview(_FRAME.pack(kind, len(payload))))
    _write_all(fd, memoryview(payload))


def _write_all(fd: int, view: memoryview) -> None:
    while view:
        view = view[os.write(fd, view) :]


def read_frame(stream: IO[bytes]) -> tuple[bytes, bytes] | None:
    """The next frame, or None when the other side closed the pipe between frames."""
    head = stream.read(_FRAME.size)
    if not head:
        return None
    if len(head) < _FRAME.size:
        raise EOFError("pipe closed inside a frame header")
    kind, size = _FRAME.unpack(head)
    payload = stream.read(size) if size else b""
    if len(payload) < size:
        raise EOFError("pipe closed inside a frame")
    return kind, payload

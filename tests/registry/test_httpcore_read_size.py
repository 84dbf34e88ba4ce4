"""httpcore still reads HTTP/1.1 bodies in steps of its ``READ_NUM_BYTES`` class attribute, which
gate's registry transport raises to 256 KiB (gate/registry/_transport.py); when an httpcore upgrade
drops or renames it, this names the piece that moved instead of blob streaming silently slowing down."""

from __future__ import annotations

import inspect

import httpcore
from httpcore._async.http11 import AsyncHTTP11Connection

import gate.registry._transport  # noqa: F401  (sets the read size on import)


def test_gate_sets_the_read_size_httpcore_reads_with() -> None:
    assert httpcore.AsyncHTTP11Connection is AsyncHTTP11Connection
    assert AsyncHTTP11Connection.READ_NUM_BYTES == 256 * 1024
    assert "self.READ_NUM_BYTES" in inspect.getsource(AsyncHTTP11Connection._receive_event)

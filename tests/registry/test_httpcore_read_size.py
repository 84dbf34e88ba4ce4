"""httpcore still reads HTTP/1.1 bodies in steps of its ``READ_NUM_BYTES`` class attribute, which
gate's registry transport raises to 256 KiB, and 1 MiB for blocking layer reads (gate/registry/_transport.py); when an httpcore upgrade
drops or renames it, this names the piece that moved instead of blob streaming silently slowing down."""

from __future__ import annotations

import inspect

import httpcore
from httpcore._async.http11 import AsyncHTTP11Connection
from httpcore._sync.http11 import HTTP11Connection

import gate.registry._transport  # noqa: F401  (sets the read size on import)


def test_gate_sets_the_read_size_httpcore_reads_with() -> None:
    assert httpcore.AsyncHTTP11Connection is AsyncHTTP11Connection
    assert AsyncHTTP11Connection.READ_NUM_BYTES == 256 * 1024
    assert "self.READ_NUM_BYTES" in inspect.getsource(AsyncHTTP11Connection._receive_event)


def test_gate_sets_the_read_size_of_blocking_layer_reads() -> None:
    """Layer blobs are read by blocking calls in the scanning thread, 1 MiB per socket read."""
    assert httpcore.HTTP11Connection is HTTP11Connection
    assert HTTP11Connection.READ_NUM_BYTES == 1024 * 1024
    assert "self.READ_NUM_BYTES" in inspect.getsource(HTTP11Connection._receive_event)

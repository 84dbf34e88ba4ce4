"""Fixtures for the registry client tests: anyio on asyncio, and the lying proxy double."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.registry.lying_proxy_double import LyingRegistryProxyDouble
from tests.support.registry_server import RegistryServer


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def lying_proxy(registry: RegistryServer) -> Iterator[LyingRegistryProxyDouble]:
    """A LyingRegistryProxyDouble in front of the session registry, honest until told otherwise."""
    proxy = LyingRegistryProxyDouble(registry.url)
    try:
        yield proxy
    finally:
        proxy.stop()

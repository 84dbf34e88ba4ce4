"""Fixtures for the registry client tests: anyio on asyncio, and an HTTPS front with a private CA
(the lying proxy double is in tests/conftest.py)."""

from __future__ import annotations

import ssl
from collections.abc import Iterator

import pytest
import trustme

from tests.registry.lying_proxy_double import LyingRegistryProxyDouble
from tests.support.registry_server import RegistryServer


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def tls_proxy(registry: RegistryServer, ca: trustme.CA) -> Iterator[LyingRegistryProxyDouble]:
    """The session registry behind an HTTPS front whose certificate a private CA issued."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    proxy = LyingRegistryProxyDouble(registry.url, tls=context)
    try:
        yield proxy
    finally:
        proxy.stop()

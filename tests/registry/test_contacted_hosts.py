"""What gate tells about hosts it contacts: one text for every connection-level failure, and
``registries.allow`` to refuse hosts outside a list before any connection is made."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from gate.config import from_mapping
from gate.engine import Engine
from gate.errors import ConfigError, RegistryError
from gate.registry import Reference, RegistryClient
from tests.registry.lying_proxy_double import LyingRegistryProxyDouble
from tests.support.gate_config import config_for
from tests.support.images import ImageBuilder
from tests.support.registry_server import RegistryServer, free_port
from tests.support.stalling_host import StallingHostDouble

pytestmark = pytest.mark.anyio


class _Host:
    def __init__(self, host: str):
        self.host, self.credentials = host, None


@pytest.fixture
def closing_host() -> Iterator[str]:
    """A port that accepts a connection and closes it at once (reset before any answer)."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except OSError:
                continue
            connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join()
    listener.close()


async def _failure(host: str, *, insecure: bool = True, ca_file: Path | None = None) -> str:
    config = config_for(*([_Host(host)] if insecure else []), limits={"timeout_seconds": 0.5, "retries": 0})
    async with RegistryClient(config, ca_file=ca_file) as client:
        with pytest.raises(RegistryError) as caught:
            await client.manifest(Reference.parse(f"{host}/probe/image:1"))
    return caught.value.diagnostics().replace(host, "HOST")


async def test_connection_failures_read_the_same_whatever_the_port_does(
    closing_host: str, tls_proxy: LyingRegistryProxyDouble, caplog: pytest.LogCaptureFixture
) -> None:
    refused_host = f"127.0.0.1:{free_port()}"
    refused = await _failure(refused_host)
    assert any(refused_host in r.getMessage() and "ConnectError" in r.getMessage() for r in caplog.records), "the operator's log has the cause"
    with StallingHostDouble() as silent:
        stalled = await _failure(silent.host)
    reset = await _failure(closing_host)
    untrusted_tls = await _failure(tls_proxy.host, insecure=False)
    assert refused == stalled == reset == untrusted_tls
    assert "could not be reached" in refused


async def test_hosts_outside_registries_allow_are_never_contacted(registry: RegistryServer, repo: str) -> None:
    pushed = ImageBuilder().layer({"app/a": "a"}).config(user="1000").push(registry, f"{repo}:1")
    with StallingHostDouble() as other:
        config = config_for(registry, other, registries={"allow": [registry.host.upper()]})
        async with RegistryClient(config) as client:
            assert (await client.manifest(Reference.parse(pushed.ref))).digest == pushed.digest
            with pytest.raises(RegistryError, match=f"host {other.host} is not in registries.allow"):
                await client.manifest(Reference.parse(f"{other.host}/x/y:1"))
        assert other.accepted == 0


async def test_an_image_on_a_host_outside_the_list_is_an_evaluation_error(registry: RegistryServer) -> None:
    config = config_for(registry, registries={"allow": [registry.host]}, limits={"retries": 0})
    async with Engine(config) as engine:
        result = await engine.check("127.0.0.1:9/shop/api:1")
    [violation] = result.violations
    assert result.decision == "deny" and violation.rule == "evaluation.error"
    assert "host 127.0.0.1:9 is not in registries.allow" in violation.message


def test_allow_entries_are_hosts_or_domain_wildcards() -> None:
    config = from_mapping({"registries": {"allow": ["ghcr.io", "*.example.com", "127.0.0.1:5000"]}})
    assert config.registries.allows("GHCR.io") and config.registries.allows("r.example.com")
    assert config.registries.allows("a.b.example.com:443") and config.registries.allows("127.0.0.1:5000")
    assert not config.registries.allows("example.com") and not config.registries.allows("127.0.0.1:5001")
    assert not config.registries.allows("ghcr.io.evil.net")
    with pytest.raises(ConfigError, match=r"registries.allow: .*'https://ghcr.io/'"):
        from_mapping({"registries": {"allow": ["https://ghcr.io/"]}})

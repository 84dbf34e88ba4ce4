"""HTTPS by default: system trust store, an extra CA file, and no plain-HTTP token realm."""

from __future__ import annotations

import socket
import ssl
from pathlib import Path

import pytest
import trustme

from gate.errors import RegistryError
from gate.registry import Reference, RegistryClient
from gate.registry._transport import _ssl_context
from tests.registry.lying_proxy_double import LyingRegistryProxyDouble, Reply
from tests.support.gate_config import config_for
from tests.support.images import ImageBuilder
from tests.support.registry_server import RegistryServer

pytestmark = pytest.mark.anyio


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> Path:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


async def test_https_registry_with_a_private_ca(registry: RegistryServer, tls_proxy: LyingRegistryProxyDouble, ca_file: Path, repo: str) -> None:
    pushed = ImageBuilder().layer({"a": "b"}).push(registry, f"{repo}:1.0")
    async with RegistryClient(config_for(), ca_file=ca_file) as client:
        manifest = await client.manifest(Reference.parse(f"{tls_proxy.host}/{repo}:1.0"))
    assert manifest.digest == pushed.digest


async def test_unknown_ca_is_refused(tls_proxy: LyingRegistryProxyDouble, repo: str) -> None:
    async with RegistryClient(config_for(limits={"retries": 0})) as client:
        with pytest.raises(RegistryError, match=f"registry {tls_proxy.host} could not be reached"):
            await client.manifest(Reference.parse(f"{tls_proxy.host}/{repo}:1.0"))
    assert tls_proxy.seen == []


async def test_plain_http_token_realm_is_refused_for_an_https_registry(tls_proxy: LyingRegistryProxyDouble, ca_file: Path) -> None:
    challenge = 'Bearer realm="http://127.0.0.1:9/token",service="s"'
    tls_proxy.serve("/v2/", Reply(401, {"WWW-Authenticate": challenge}))
    async with RegistryClient(config_for(), ca_file=ca_file) as client:
        with pytest.raises(RegistryError, match="plain-HTTP token realm"):
            await client.manifest(Reference.parse(f"{tls_proxy.host}/shop/api:1"))
    assert len(tls_proxy.seen) == 1


def test_unreadable_ca_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match="cannot load CA file"):
        RegistryClient(config_for(), ca_file=tmp_path / "missing.pem")


def test_the_system_trust_store_is_read_before_the_first_handshake(tls_proxy: LyingRegistryProxyDouble) -> None:
    """A run that reaches only plain-HTTP registries never parses the system CAs; the first TLS
    connection reads them before its handshake, so verification is exactly the default context's."""
    context = _ssl_context(None)
    system = ssl.create_default_context()
    assert context.cert_store_stats()["x509_ca"] == 0
    assert (context.verify_mode, context.check_hostname, context.options) == (system.verify_mode, system.check_hostname, system.options)
    host, port = tls_proxy.host.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as raw:
        with pytest.raises(ssl.SSLCertVerificationError):  # the proxy's private CA is in no system store
            context.wrap_socket(raw, server_hostname=host)
    assert context.cert_store_stats()["x509_ca"] == system.cert_store_stats()["x509_ca"] > 0

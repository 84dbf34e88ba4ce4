"""Fixtures for the webhook tests: a trustme CA, the KubernetesApiDouble, and TLS paths."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from kubernetes import client as k8s

from tests.admission.kubernetes_api_double import KubernetesApiDouble


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="session")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


@pytest.fixture
def kubernetes_api(ca: trustme.CA) -> Iterator[KubernetesApiDouble]:
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    double = KubernetesApiDouble(server_context)
    try:
        yield double
    finally:
        double.stop()


@pytest.fixture
def kubernetes_client(kubernetes_api: KubernetesApiDouble, ca_file: Path) -> Iterator[k8s.ApiClient]:
    """The real kubernetes client, configured as in-cluster config would, but aimed at the double."""
    configuration = k8s.Configuration()
    configuration.host = kubernetes_api.url
    configuration.ssl_ca_cert = str(ca_file)
    configuration.api_key = {"authorization": f"Bearer {kubernetes_api.token}"}
    api_client = k8s.ApiClient(configuration)
    try:
        yield api_client
    finally:
        api_client.close()

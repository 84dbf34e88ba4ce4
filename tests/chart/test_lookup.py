"""Upgrades keep the Helm-generated CA, serving certificate and events token (`lookup`).

`helm template --dry-run=server` renders against a cluster and runs `lookup` for real; the
cluster is KubernetesLookupDouble. An upgrade is modelled as: render once against an empty
cluster (install), put the Secrets that install created into the double, render again.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from tests.chart._helm import FULLNAME, NAMESPACE, RELEASE, Rendered, render
from tests.chart.kubernetes_lookup_double import KubernetesLookupDouble

TLS_SECRET = f"{FULLNAME}-tls"
EVENTS_SECRET = f"{FULLNAME}-events"


@pytest.fixture
def cluster() -> Iterator[KubernetesLookupDouble]:
    double = KubernetesLookupDouble()
    try:
        yield double
    finally:
        double.stop()


def against(cluster: KubernetesLookupDouble, values: dict[str, Any], tmp_path: Path) -> Rendered:
    return render(values, tmp_path, "--dry-run=server", "--disable-openapi-validation", "--kubeconfig", str(cluster.kubeconfig(tmp_path)))


def _ca(scenario: Rendered) -> x509.Certificate:
    return x509.load_pem_x509_certificate(base64.b64decode(scenario.webhook["clientConfig"]["caBundle"]))


def test_upgrade_reuses_the_certificate_the_pods_serve(cluster: KubernetesLookupDouble, tmp_path: Path) -> None:
    installed = against(cluster, {}, tmp_path)
    secret = installed.one("Secret", TLS_SECRET)
    cluster.put(secret, RELEASE)
    upgraded = against(cluster, {}, tmp_path)
    assert upgraded.one("Secret", TLS_SECRET)["data"] == secret["data"]
    assert upgraded.webhook["clientConfig"]["caBundle"] == secret["data"]["ca.crt"]
    assert f"/api/v1/namespaces/{secret['metadata']['namespace']}/secrets/{TLS_SECRET}" in cluster.reads
    assert cluster.writes == []


def test_without_an_existing_secret_each_install_generates_a_new_ca(cluster: KubernetesLookupDouble, tmp_path: Path) -> None:
    """Guards the test above: the reuse comes from lookup, not from deterministic generation."""
    first, second = against(cluster, {}, tmp_path), against(cluster, {}, tmp_path)
    assert _ca(first).fingerprint(_ca(first).signature_hash_algorithm) != _ca(second).fingerprint(_ca(second).signature_hash_algorithm)


def test_new_service_names_get_a_new_certificate_from_the_same_ca(cluster: KubernetesLookupDouble, tmp_path: Path) -> None:
    """Enabling events adds a Service: the certificate must name it, and the caBundle must not move."""
    installed = against(cluster, {}, tmp_path)
    cluster.put(installed.one("Secret", TLS_SECRET), RELEASE)
    upgraded = against(cluster, {"events": {"enabled": True}}, tmp_path)
    assert upgraded.webhook["clientConfig"]["caBundle"] == installed.webhook["clientConfig"]["caBundle"]
    data = upgraded.one("Secret", TLS_SECRET)["data"]
    served = x509.load_pem_x509_certificate(base64.b64decode(data["tls.crt"]))
    served.verify_directly_issued_by(_ca(installed))
    names = served.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    assert f"{FULLNAME}-events.{NAMESPACE}.svc" in names


def test_an_incomplete_secret_is_replaced_by_a_consistent_pair(cluster: KubernetesLookupDouble, tmp_path: Path) -> None:
    secret = against(cluster, {}, tmp_path).one("Secret", TLS_SECRET)
    broken = {**secret, "data": {k: v for k, v in secret["data"].items() if k != "ca.crt"}}
    cluster.put(broken, RELEASE)
    repaired = against(cluster, {}, tmp_path)
    data = repaired.one("Secret", TLS_SECRET)["data"]
    assert data["tls.crt"] != secret["data"]["tls.crt"]
    served = x509.load_pem_x509_certificate(base64.b64decode(data["tls.crt"]))
    served.verify_directly_issued_by(_ca(repaired))


def test_upgrade_keeps_the_generated_events_token(cluster: KubernetesLookupDouble, tmp_path: Path) -> None:
    values = {"events": {"enabled": True}}
    installed = against(cluster, values, tmp_path).one("Secret", EVENTS_SECRET)
    assert against(cluster, values, tmp_path).one("Secret", EVENTS_SECRET)["data"] != installed["data"]
    cluster.put(installed, RELEASE)
    assert against(cluster, values, tmp_path).one("Secret", EVENTS_SECRET)["data"] == installed["data"]

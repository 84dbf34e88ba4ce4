"""Fixtures for the audit tests: the KubernetesApiDouble (shared with the webhook tests), a
kubeconfig aimed at it, and a lenient gate config so verdicts turn on the rules under test."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.admission.conftest import ca, ca_file, kubernetes_api, kubernetes_client  # noqa: F401 (fixtures)
from tests.admission.kubernetes_api_double import KubernetesApiDouble
from tests.audit.cluster import ClusterBuilder

# Evidence rules off, so an image's verdict depends on its user and build facts only.
LENIENT_RULES = {rule: {"action": "off"} for rule in ("signature.missing", "provenance.missing", "provenance.unverified", "sbom.missing")}


@pytest.fixture
def cluster(kubernetes_api: KubernetesApiDouble) -> ClusterBuilder:  # noqa: F811
    return ClusterBuilder(kubernetes_api)


@pytest.fixture
def kubeconfig(kubernetes_api: KubernetesApiDouble, ca_file: Path, tmp_path: Path) -> Path:  # noqa: F811
    """A kubeconfig file as kubectl writes one, pointing at the double with its CA and token."""
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "double", "cluster": {"server": kubernetes_api.url, "certificate-authority": str(ca_file)}}],
        "users": [{"name": "auditor", "user": {"token": kubernetes_api.token}}],
        "contexts": [{"name": "double", "context": {"cluster": "double", "user": "auditor"}}],
        "current-context": "double",
    }
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(document))
    return path

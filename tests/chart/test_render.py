"""The chart lints strictly, renders every option set, and renders valid Kubernetes 1.35 objects."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest

from tests.chart._helm import CHART, FULLNAME, NAMESPACE, Rendered, notes, render, render_error, run_helm
from tests.chart.conftest import IMAGE_DIGEST, OPA_DIGEST, SCENARIOS

KUBERNETES_VERSION = "1.35"
# Custom resources kubernetes-validate has no schema for: only these groups may be skipped.
CRD_KINDS = {("cert-manager.io/v1", "Certificate"), ("cert-manager.io/v1", "Issuer"), ("monitoring.coreos.com/v1", "ServiceMonitor")}


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_lint_strict(scenario: str, tmp_path: Path) -> None:
    result = run_helm("lint", "--strict", str(CHART), "--namespace", NAMESPACE, values=SCENARIOS[scenario], tmp_dir=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 chart(s) failed" in result.stdout


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_manifests_validate_against_kubernetes_schemas(scenario: str, rendered: dict[str, Rendered]) -> None:
    """Strict schemas: an unknown field (a typo in a template) fails like a wrong type does."""
    for doc in rendered[scenario].docs:
        if (doc["apiVersion"], doc["kind"]) in CRD_KINDS:
            continue
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{doc['kind']}/{doc['metadata']['name']}: {exc.message} at {list(exc.path)}")


def test_validator_catches_bad_manifests() -> None:
    """The schema check above is not vacuous: the same call rejects a wrong type and an unknown field."""
    bad_type = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"}, "spec": {"replicas": "3"}}
    unknown_field = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"}, "spec": {"prots": []}}
    for doc in (bad_type, unknown_field):
        with pytest.raises(kubernetes_validate.ValidationError):
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_every_object_is_namespaced_to_the_release_or_cluster_scoped(rendered: dict[str, Rendered]) -> None:
    cluster_scoped = {"ClusterRole", "ClusterRoleBinding", "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration", "CustomResourceDefinition"}
    for doc in rendered["everything"].docs + rendered["defaults"].docs:
        if doc["kind"] in cluster_scoped:
            assert "namespace" not in doc["metadata"]
        elif doc["kind"] not in {"Role", "RoleBinding"}:
            assert doc["metadata"]["namespace"] == NAMESPACE, doc["metadata"]


def test_defaults_render_the_core_objects(rendered: dict[str, Rendered]) -> None:
    kinds = rendered["defaults"].kinds()
    assert kinds == {
        "Deployment", "Service", "ServiceAccount", "ConfigMap", "Secret", "PodDisruptionBudget",
        "ClusterRole", "ClusterRoleBinding", "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration",
        "Role", "RoleBinding", "CustomResourceDefinition",  # the audit's Lease and PolicyReports
    }
    assert rendered["defaults"].deployment["spec"]["replicas"] == 3
    assert rendered["defaults"].one("PodDisruptionBudget")["spec"]["maxUnavailable"] == 1


def test_image_by_tag_defaults_to_app_version_and_digest_wins(rendered: dict[str, Rendered]) -> None:
    assert rendered["defaults"].container("gate")["image"] == "registry.example/platform/gate:0.1.0"
    assert rendered["digest-image"].container("gate")["image"] == f"registry.example/platform/gate@{IMAGE_DIGEST}"


def test_opa_sidecar_is_pinned_local_and_gate_points_at_it(rendered: dict[str, Rendered]) -> None:
    scenario = rendered["opa-sidecar"]
    opa = scenario.container("opa")
    assert opa["image"] == f"openpolicyagent/opa@{OPA_DIGEST}"
    assert "--addr=127.0.0.1:8181" in opa["args"]
    assert scenario.gate_config["policy"] == {"engine": "opa", "opa_url": "http://127.0.0.1:8181"}
    assert rendered["defaults"].gate_config["policy"] == {"engine": "embedded"}
    assert [c["name"] for c in rendered["defaults"].pod_spec["containers"]] == ["gate"]


def test_opa_starts_before_gate_which_pushes_its_policies_to_it(rendered: dict[str, Rendered], tmp_path: Path) -> None:
    """Native sidecar (1.29+): OPA passes its startup probe before gate starts and pushes policies."""
    spec = rendered["opa-sidecar"].pod_spec
    (opa,) = spec["initContainers"]
    assert opa["name"] == "opa" and opa["restartPolicy"] == "Always"
    assert opa["startupProbe"]["httpGet"]["path"] == "/health"
    assert "livenessProbe" not in opa  # a restart would empty OPA of the pushed policies
    older = render(SCENARIOS["opa-sidecar"], tmp_path, "--kube-version", "1.28.0").pod_spec
    assert [c["name"] for c in older["containers"]] == ["gate", "opa"]
    assert "initContainers" not in older


def test_opa_sidecar_without_digest_refuses_to_render(tmp_path: Path) -> None:
    message = render_error({"opa": {"sidecar": {"enabled": True, "image": {"digest": ""}}}}, tmp_path)
    assert "opa.sidecar.image.digest is required" in message


def test_events_token_reaches_gate_from_a_secret(rendered: dict[str, Rendered]) -> None:
    scenario = rendered["events"]
    secret = scenario.one("Secret", f"{FULLNAME}-events")
    assert len(secret["data"]["token"]) >= 48  # base64 of a 48-character random token
    env = {e["name"]: e for e in scenario.container("gate")["env"]}
    assert env["GATE_EVENTS_TOKEN"]["valueFrom"]["secretKeyRef"] == {"name": f"{FULLNAME}-events", "key": "token"}
    service = scenario.one("Service", f"{FULLNAME}-events")
    assert service["spec"]["ports"][0]["targetPort"] == "https"
    existing = rendered["everything"]
    assert not [s for s in existing.all("Secret") if s["metadata"]["name"].endswith("-events")]
    env = {e["name"]: e for e in existing.container("gate")["env"]}
    assert env["GATE_EVENTS_TOKEN"]["valueFrom"]["secretKeyRef"]["name"] == "registry-events"


def test_metrics_service_and_service_monitor_verify_gate_certificate(rendered: dict[str, Rendered]) -> None:
    scenario = rendered["service-monitor"]
    monitor = scenario.one("ServiceMonitor")
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["scheme"] == "https" and endpoint["port"] == "https-metrics"
    assert endpoint["tlsConfig"]["ca"]["secret"] == {"name": f"{FULLNAME}-tls", "key": "ca.crt"}
    assert endpoint["tlsConfig"]["serverName"] == f"{FULLNAME}-metrics.{NAMESPACE}.svc"
    assert "insecureSkipVerify" not in endpoint["tlsConfig"]
    metrics = scenario.one("Service", f"{FULLNAME}-metrics")
    assert monitor["spec"]["selector"]["matchLabels"].items() <= metrics["metadata"]["labels"].items()
    assert "ServiceMonitor" not in rendered["defaults"].kinds()


def test_service_monitor_needs_the_metrics_service(tmp_path: Path) -> None:
    values = {"metrics": {"service": {"enabled": False}, "serviceMonitor": {"enabled": True}}}
    assert "needs metrics.service.enabled" in render_error(values, tmp_path)


def test_an_existing_service_account_is_bound_instead_of_created(tmp_path: Path) -> None:
    scenario = render({"serviceAccount": {"create": False, "name": "gate-reader"}}, tmp_path)
    assert not scenario.all("ServiceAccount")
    assert scenario.pod_spec["serviceAccountName"] == "gate-reader"
    assert {binding["subjects"][0]["name"] for binding in scenario.all("ClusterRoleBinding") + scenario.all("RoleBinding")} == {"gate-reader"}


def test_network_policy_opens_only_the_webhook_port_and_needed_egress(rendered: dict[str, Rendered]) -> None:
    policy = rendered["network-policy"].one("NetworkPolicy")["spec"]
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    (ingress,) = policy["ingress"]
    assert ingress["ports"] == [{"port": 8443, "protocol": "TCP"}]
    assert ingress["from"] == [{"ipBlock": {"cidr": "192.0.2.0/24"}}]
    egress_ports = [sorted((p["port"], p["protocol"]) for p in rule["ports"]) for rule in policy["egress"]]
    assert egress_ports == [[(53, "TCP"), (53, "UDP")], [(80, "TCP"), (443, "TCP")], [(443, "TCP"), (6443, "TCP")]]
    assert policy["egress"][0]["to"][0]["podSelector"]["matchLabels"] == {"k8s-app": "kube-dns"}


def test_scheduling_and_pod_options_pass_through(rendered: dict[str, Rendered]) -> None:
    spec = rendered["full-config"].pod_spec
    assert spec["tolerations"][0]["key"] == "dedicated"
    assert spec["nodeSelector"] == {"kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64", "disktype": "ssd"}
    assert spec["priorityClassName"] == "system-cluster-critical"
    annotations = rendered["full-config"].deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["example.com/team"] == "security"
    assert {"name": "GATE_LOG_LEVEL", "value": "debug"} in rendered["full-config"].container("gate")["env"]
    defaults = rendered["defaults"].pod_spec
    assert defaults["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0]["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    assert defaults["topologySpreadConstraints"][0]["topologyKey"] == "topology.kubernetes.io/zone"


def _checksum(scenario: Rendered) -> str:
    annotations: dict[str, Any] = scenario.deployment["spec"]["template"]["metadata"]["annotations"]
    return annotations["checksum/config"]


def test_config_changes_roll_the_pods(rendered: dict[str, Rendered]) -> None:
    """A different config renders a different checksum annotation, so Kubernetes rolls the pods."""
    assert _checksum(rendered["defaults"]) == _checksum(rendered["digest-image"])  # same config
    assert _checksum(rendered["defaults"]) != _checksum(rendered["audit"])
    assert _checksum(rendered["defaults"]) != _checksum(rendered["full-config"])


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"mode": "enforce"}, ["denied the", "signature.missing", "--dry-run=server", "busybox"]),
        ({}, ["Mode: warn (chosen: no trust is configured yet)", "admitted", "Warning:"]),
        ({"mode": "warn"}, ["admitted", "Warning:"]),
        ({"mode": "audit"}, ["admitted without a message", "audit"]),
    ],
)
def test_notes_tell_how_to_test_the_install(values: dict[str, Any], expected: list[str], tmp_path: Path) -> None:
    text = notes(values, tmp_path)
    assert "kubectl run gate-smoke --image=docker.io/library/busybox" in text
    for phrase in expected:
        assert phrase in text

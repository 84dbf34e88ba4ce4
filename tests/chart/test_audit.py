"""The chart's background audit: on by default, its config, RBAC, Lease and the optional CRD."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.chart._helm import FULLNAME, NAMESPACE, Rendered, notes, render_error

CRD_NAME = "policyreports.wgpolicyk8s.io"


def gate_config(scenario: Rendered) -> dict:
    return yaml.safe_load(scenario.one("ConfigMap", f"{FULLNAME}-config")["data"]["config.yaml"])


def test_audit_is_on_by_default_and_skips_what_the_webhook_skips(rendered: dict[str, Rendered]) -> None:
    audit = gate_config(rendered["defaults"])["audit"]
    assert audit == {
        "enabled": True, "interval": "1h", "images_per_second": 2, "exclude_namespaces": ["kube-system", NAMESPACE],
        "lease_namespace": NAMESPACE, "lease_name": f"{FULLNAME}-audit", "lease_seconds": 60,
    }
    assert gate_config(rendered["audit-only"])["audit"]["interval"] == "30m"
    assert "audit" not in gate_config(rendered["no-api-access"])


def test_audit_rbac_lists_what_runs_and_writes_only_reports_and_its_lease(rendered: dict[str, Rendered]) -> None:
    role = rendered["defaults"].one("ClusterRole", f"{FULLNAME}-audit")
    assert {(rule["apiGroups"][0], rule["resources"][0]): rule["verbs"] for rule in role["rules"]} == {
        ("", "pods"): ["list"],
        ("apps", "replicasets"): ["list"],
        ("batch", "jobs"): ["list"],
        ("wgpolicyk8s.io", "policyreports"): ["get", "list", "create", "update"],
    }
    lease = rendered["defaults"].one("Role", f"{FULLNAME}-audit-lease")
    assert lease["metadata"]["namespace"] == NAMESPACE
    assert lease["rules"] == [{"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["get", "create", "update"]}]
    for kind, name in (("ClusterRoleBinding", f"{FULLNAME}-audit"), ("RoleBinding", f"{FULLNAME}-audit-lease")):
        binding = rendered["defaults"].one(kind, name)
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": FULLNAME, "namespace": NAMESPACE}]


def test_the_crd_is_installed_only_when_asked_and_kept_on_uninstall(rendered: dict[str, Rendered]) -> None:
    crd = rendered["defaults"].one("CustomResourceDefinition", CRD_NAME)
    assert crd["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    assert "v1alpha2" in [version["name"] for version in crd["spec"]["versions"] if version["served"]]
    assert not rendered["audit-crd-owned-elsewhere"].all("CustomResourceDefinition")
    assert not rendered["no-api-access"].all("CustomResourceDefinition")
    assert rendered["audit-crd-owned-elsewhere"].all("ClusterRole")  # the audit itself still runs


def test_a_bad_interval_is_refused_when_rendering(tmp_path: Path) -> None:
    assert "interval" in render_error({"audit": {"interval": "soon"}}, tmp_path)


def test_notes_say_where_the_audit_results_are(tmp_path: Path) -> None:
    assert "kubectl get polr -A -l app.kubernetes.io/managed-by=gate" in notes({}, tmp_path)
    assert "polr" not in notes({"audit": {"enabled": False}}, tmp_path)

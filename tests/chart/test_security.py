"""The chart runs gate the way a security team would accept (issue 8 §1)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.chart._helm import FULLNAME, NAMESPACE, Rendered
from tests.chart.conftest import SCENARIOS


def _containers(scenario: Rendered) -> list[dict[str, Any]]:
    return scenario.pod_spec["containers"] + scenario.pod_spec.get("initContainers", [])


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_every_container_is_locked_down(scenario: str, rendered: dict[str, Rendered]) -> None:
    pod = rendered[scenario].pod_spec["securityContext"]
    assert pod["runAsNonRoot"] is True
    assert isinstance(pod["runAsUser"], int) and pod["runAsUser"] > 0
    assert pod["seccompProfile"] == {"type": "RuntimeDefault"}
    for container in _containers(rendered[scenario]):
        context = container["securityContext"]
        assert context["runAsNonRoot"] is True, container["name"]
        assert isinstance(context["runAsUser"], int) and context["runAsUser"] > 0
        assert context["readOnlyRootFilesystem"] is True
        assert context["allowPrivilegeEscalation"] is False
        assert context["privileged"] is False
        assert context["capabilities"] == {"drop": ["ALL"]}
        assert context["seccompProfile"] == {"type": "RuntimeDefault"}
        assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]


def test_only_tmp_is_writable_and_bounded(rendered: dict[str, Rendered]) -> None:
    scenario = rendered["full-config"]
    volumes = {v["name"]: v for v in scenario.pod_spec["volumes"]}
    for mount in scenario.container("gate")["volumeMounts"]:
        if mount["mountPath"] == "/tmp":
            assert volumes[mount["name"]]["emptyDir"]["sizeLimit"]
        else:
            assert mount["readOnly"] is True, mount


def test_probes_use_https_health_endpoints(rendered: dict[str, Rendered]) -> None:
    gate = rendered["defaults"].container("gate")
    assert gate["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "https", "scheme": "HTTPS"}
    assert gate["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "https", "scheme": "HTTPS"}
    assert gate["ports"] == [{"name": "https", "containerPort": 8443, "protocol": "TCP"}]


def test_serve_command_matches_the_webhook_contract(rendered: dict[str, Rendered]) -> None:
    args = rendered["defaults"].container("gate")["args"]
    assert args == ["serve", "--config", "/etc/gate/config.yaml", "--host", "0.0.0.0", "--port", "8443",  # noqa: S104 - the rendered args, compared
                    "--tls-cert", "/tls/tls.crt", "--tls-key", "/tls/tls.key", "--log-level", "info"]
    mounts = {m["mountPath"]: m["name"] for m in rendered["defaults"].container("gate")["volumeMounts"]}
    tls_volume = next(v for v in rendered["defaults"].pod_spec["volumes"] if v["name"] == mounts["/tls"])
    assert tls_volume["secret"]["secretName"] == f"{FULLNAME}-tls"
    assert "subPath" not in str(rendered["defaults"].container("gate")["volumeMounts"])  # subPath mounts never see rotated certs


def test_rbac_is_get_only_on_secrets_and_serviceaccounts(rendered: dict[str, Rendered]) -> None:
    role = rendered["defaults"].one("ClusterRole", f"{FULLNAME}-pull-secrets")
    assert role["rules"] == [{"apiGroups": [""], "resources": ["secrets", "serviceaccounts"], "verbs": ["get"]}]
    binding = rendered["defaults"].one("ClusterRoleBinding", f"{FULLNAME}-pull-secrets")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": FULLNAME, "namespace": NAMESPACE}]
    assert binding["roleRef"]["name"] == role["metadata"]["name"]


def test_rbac_scoped_to_listed_namespaces_uses_roles_only(rendered: dict[str, Rendered]) -> None:
    scenario = rendered["scoped-rbac"]
    assert [r["metadata"]["name"] for r in scenario.all("ClusterRole")] == [f"{FULLNAME}-audit"]  # the audit lists cluster-wide
    roles = [r for r in scenario.all("Role") if r["metadata"]["name"].endswith("-pull-secrets")]
    assert sorted(r["metadata"]["namespace"] for r in roles) == ["payments", "shop"]
    assert all(r["rules"][0]["verbs"] == ["get"] for r in roles)
    bindings = [b for b in scenario.all("RoleBinding") if b["metadata"]["name"].endswith("-pull-secrets")]
    assert sorted(b["metadata"]["namespace"] for b in bindings) == ["payments", "shop"]


# What each rule may do: get secrets by name; the audit lists what runs, writes its reports and its Lease.
ALLOWED_VERBS = {
    ("", "secrets"): {"get"},
    ("", "serviceaccounts"): {"get"},
    ("", "pods"): {"list"},
    ("apps", "replicasets"): {"list"},
    ("batch", "jobs"): {"list"},
    ("wgpolicyk8s.io", "policyreports"): {"get", "list", "create", "update"},
    ("coordination.k8s.io", "leases"): {"get", "create", "update"},
}


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_no_wildcards_no_watch_and_only_the_verbs_each_resource_needs(scenario: str, rendered: dict[str, Rendered]) -> None:
    for doc in rendered[scenario].docs:
        for rule in doc.get("rules", []) if doc["kind"] in {"Role", "ClusterRole"} else []:
            assert "*" not in rule["verbs"] + rule["resources"] + rule["apiGroups"]
            for group in rule["apiGroups"]:
                for resource in rule["resources"]:
                    assert set(rule["verbs"]) <= ALLOWED_VERBS[(group, resource)], (doc["metadata"]["name"], group, resource)
    leases = [r for r in rendered[scenario].all("Role") if r["metadata"]["name"].endswith("-audit-lease")]
    assert all(r["metadata"]["namespace"] == NAMESPACE for r in leases)  # the Lease, in gate's own namespace only


def test_api_token_mounted_only_when_gate_reads_pull_secrets_or_audits(rendered: dict[str, Rendered]) -> None:
    assert rendered["defaults"].one("ServiceAccount")["automountServiceAccountToken"] is False
    assert rendered["defaults"].pod_spec["automountServiceAccountToken"] is True
    no_api = rendered["no-api-access"]
    assert no_api.pod_spec["automountServiceAccountToken"] is False
    assert not no_api.all("ClusterRole") and not no_api.all("Role")
    assert rendered["audit-only"].pod_spec["automountServiceAccountToken"] is True


def test_private_keys_and_credentials_are_owner_and_group_readable_only(rendered: dict[str, Rendered]) -> None:
    volumes = {v["name"]: v for v in rendered["full-config"].pod_spec["volumes"]}
    assert volumes["tls"]["secret"]["defaultMode"] == 0o440
    assert [item["key"] for item in volumes["tls"]["secret"]["items"]] == ["tls.crt", "tls.key"]  # never the CA key
    config = volumes["config"]["projected"]
    assert config["defaultMode"] == 0o440
    secrets = [s["secret"] for s in config["sources"] if "secret" in s]
    assert secrets == [
        {"name": "gate-attest-key", "items": [{"key": "key.pem", "path": "attest/key.pem"}]},  # only the key; its password is an env var
        {"name": "registry-creds", "items": [{"key": ".dockerconfigjson", "path": "registry/config.json"}]},
    ]


def test_rollouts_never_drop_below_desired_replicas(rendered: dict[str, Rendered]) -> None:
    strategy = rendered["defaults"].deployment["spec"]["strategy"]
    assert strategy["rollingUpdate"]["maxUnavailable"] == 0

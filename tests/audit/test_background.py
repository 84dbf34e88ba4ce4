"""The background audit of ``gate serve`` against the KubernetesApiDouble: PolicyReports that
validate against the upstream wgpolicyk8s.io v1alpha2 CRD, written only when they change, results
that follow a configuration change, metrics, and one auditing replica per Lease."""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import trustme
import yaml
from kubernetes import client as k8s

from gate.admission import create_app
from gate.admission._metrics import Metrics
from gate.admission._pull_secrets import PullSecretReader
from gate.admission._reviewer import Reviewer
from gate.audit import AuditProcess, Cluster
from gate.audit._background import Auditor
from gate.audit._lease import LeaseElector
from gate.audit._policy_report import OMITTED_ANNOTATION, report
from gate.config import Config
from gate.engine import Engine
from gate.rules import RULES
from tests.admission.webhook_server import start_webhook
from tests.audit.cluster import ClusterBuilder, pod_spec
from tests.audit.conftest import LENIENT_RULES
from tests.audit.images import plain
from tests.support.gate_config import config_for
from tests.support.registry_server import RegistryServer
from tests.support.waiting import wait_for

CRD = Path(__file__).resolve().parents[2] / "charts/gate/files/wgpolicyk8s.io_policyreports.yaml"


def strict(schema: Any) -> Any:
    """The CRD's structural schema, refusing unknown fields (the API server would silently prune
    them, so a field gate writes that the schema lacks would be lost without an error)."""
    if isinstance(schema, dict):
        schema = {key: strict(value) for key, value in schema.items() if key != "description"}
        if schema.get("type") == "object" and "properties" in schema and "additionalProperties" not in schema:
            schema["additionalProperties"] = False
        return schema
    return [strict(item) for item in schema] if isinstance(schema, list) else schema


@pytest.fixture(scope="module")
def polr_schema() -> dict[str, Any]:
    crd = yaml.safe_load(CRD.read_text())
    version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1alpha2")
    schema = strict(version["schema"]["openAPIV3Schema"])
    schema["properties"]["metadata"] = {"type": "object"}  # ObjectMeta is the API server's to check
    return schema


class MeteredAuditor(Auditor):
    """An Auditor whose results go to a webhook Metrics registry, as ``gate serve`` exports them."""

    def __init__(self, config: Config, kubernetes_client: k8s.ApiClient, identity: str) -> None:
        self.metrics = Metrics(dict)
        reviewer = Reviewer(config, Engine(config), self.metrics, PullSecretReader(kubernetes_client))
        super().__init__(reviewer, Cluster(kubernetes_client), self.metrics.record_audit, identity=identity)


def auditor(config: Config, kubernetes_client: k8s.ApiClient, identity: str = "replica-a") -> MeteredAuditor:
    return MeteredAuditor(config, kubernetes_client, identity)


def audit_config(registry: RegistryServer, **overrides: Any) -> Config:
    document: dict[str, Any] = {"rules": LENIENT_RULES, "audit": {"enabled": True, "lease_namespace": "gate-system", "images_per_second": 1000}}
    for key, value in overrides.items():
        document[key] = document.get(key, {}) | value if isinstance(value, dict) else value
    return config_for(registry, **document)


def results_of(cluster: ClusterBuilder, namespace: str) -> dict[tuple[str, str], str]:
    body = cluster.api.get(namespace, "policyreports", "gate")
    assert body is not None, f"no PolicyReport in {namespace}"
    return {(r["resources"][0]["name"], r["rule"]): r["result"] for r in body["results"]}


def seed(cluster: ClusterBuilder, registry: RegistryServer) -> None:
    root, nonroot = plain(registry, "bg/root", ""), plain(registry, "bg/nonroot", "1000")
    cluster.deployment("shop", "api", pod_spec(root))
    cluster.statefulset("shop", "db", pod_spec(nonroot))
    cluster.cronjob("batch", "nightly", pod_spec(nonroot, root, run_as_non_root=True))
    cluster.pod("sandbox", "debug", pod_spec("127.0.0.1:9/nowhere/app:1"))


def test_reports_validate_and_hold_one_result_per_workload_and_rule(
    cluster: ClusterBuilder, kubernetes_client: k8s.ApiClient, registry: RegistryServer, polr_schema: dict[str, Any]
) -> None:
    seed(cluster, registry)
    writes = asyncio.run(auditor(audit_config(registry, registries={"insecure": ["127.0.0.1:9"]}), kubernetes_client).audit_once())

    assert writes == {"batch": "created", "sandbox": "created", "shop": "created"}
    for body in cluster.api.of("policyreports"):
        jsonschema.validate(body, polr_schema)
        assert body["apiVersion"] == "wgpolicyk8s.io/v1alpha2" and body["kind"] == "PolicyReport" and body["metadata"]["name"] == "gate"
        counted = {name: sum(r["result"] == name for r in body["results"]) for name in ("pass", "fail", "warn", "error", "skip")}
        assert body["summary"] == counted
    shop = results_of(cluster, "shop")
    assert {workload for workload, _ in shop} == {"api", "db"} and len(shop) == 2 * len(RULES)
    assert shop[("api", "user.root")] == "fail" and shop[("db", "user.root")] == "pass"
    assert shop[("api", "signature.missing")] == "skip"  # off in the configuration
    assert results_of(cluster, "batch")[("nightly", "user.root")] == "pass"  # runAsNonRoot enforced by the CronJob's pods
    assert results_of(cluster, "sandbox")[("debug", "evaluation.error")] == "error"
    api = next(r for r in cluster.api.get("shop", "policyreports", "gate")["results"] if r["rule"] == "user.root" and r["resources"][0]["name"] == "api")
    assert api["resources"][0]["kind"] == "Deployment" and api["resources"][0]["apiVersion"] == "apps/v1" and api["resources"][0]["uid"]
    assert api["policy"] == "gate" and api["severity"] == "high" and "root" in api["message"]


def test_an_unchanged_audit_writes_nothing_and_a_config_change_flips_results(
    cluster: ClusterBuilder, kubernetes_client: k8s.ApiClient, registry: RegistryServer
) -> None:
    cluster.deployment("shop", "api", pod_spec(plain(registry, "bg/flip", "")))
    relaxed = audit_config(registry, rules={"user.root": {"action": "off"}})
    first = auditor(relaxed, kubernetes_client)
    assert asyncio.run(first.audit_once()) == {"shop": "created"}
    version = cluster.api.get("shop", "policyreports", "gate")["metadata"]["resourceVersion"]
    assert results_of(cluster, "shop")[("api", "user.root")] == "skip"

    assert asyncio.run(first.audit_once()) == {"shop": "unchanged"}
    assert cluster.api.get("shop", "policyreports", "gate")["metadata"]["resourceVersion"] == version
    assert [call.split()[0] for call in cluster.api.writes("policyreports")] == ["POST"]

    # The key is removed (the chart rolls the pods with the new ConfigMap): the next audit flips the result.
    assert asyncio.run(auditor(audit_config(registry), kubernetes_client).audit_once()) == {"shop": "updated"}
    assert results_of(cluster, "shop")[("api", "user.root")] == "fail"


def test_a_namespace_without_workloads_keeps_no_stale_verdict(
    cluster: ClusterBuilder, kubernetes_client: k8s.ApiClient, registry: RegistryServer
) -> None:
    pods = cluster.deployment("shop", "api", pod_spec(plain(registry, "bg/gone", "")))
    config = audit_config(registry)
    asyncio.run(auditor(config, kubernetes_client).audit_once())
    for pod in pods:
        del cluster.api.objects[("shop", "pods", pod["metadata"]["name"])]
    assert asyncio.run(auditor(config, kubernetes_client).audit_once()) == {"shop": "updated"}
    body = cluster.api.get("shop", "policyreports", "gate")
    assert body["results"] == [] and set(body["summary"].values()) == {0}


def test_metrics_count_results_and_the_last_audit(cluster: ClusterBuilder, kubernetes_client: k8s.ApiClient, registry: RegistryServer) -> None:
    cluster.deployment("shop", "api", pod_spec(plain(registry, "bg/metrics", "")))
    audit = auditor(audit_config(registry), kubernetes_client)
    before = dt.datetime.now(dt.timezone.utc).timestamp()
    asyncio.run(audit.audit_once())
    text = audit.metrics.exposition().decode()
    assert 'gate_audit_results{namespace="shop",result="fail",rule="user.root"} 1.0' in text
    assert 'gate_audit_results{namespace="shop",result="skip",rule="signature.missing"} 1.0' in text
    completed = float(next(line.split()[1] for line in text.splitlines() if line.startswith("gate_audit_last_completed_timestamp_seconds ")))
    assert completed >= before


def test_an_oversized_report_keeps_the_failures_and_counts_everything(polr_schema: dict[str, Any]) -> None:
    def result(index: int, outcome: str) -> dict[str, Any]:
        return {
            "policy": "gate", "rule": "user.root", "result": outcome, "message": "x" * 200,
            "resources": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": f"w{index}", "namespace": "big"}],
            "timestamp": {"seconds": 1, "nanos": 0},
        }

    results = [result(index, "pass" if index % 10 else "fail") for index in range(2000)]
    body = report("big", results, "sha256:abc", max_bytes=128 * 1024)
    assert len(json.dumps(body, separators=(",", ":"))) <= 128 * 1024
    assert body["summary"] == {"pass": 1800, "fail": 200, "warn": 0, "error": 0, "skip": 0}
    kept = [r["result"] for r in body["results"]]
    assert kept.count("fail") == 200 and 0 < kept.count("pass") < 1800
    assert int(body["metadata"]["annotations"][OMITTED_ANNOTATION]) == 2000 - len(kept)
    jsonschema.validate(body, polr_schema)


def run_replicas(audits: list[Auditor], until: Callable[[], bool], seconds: float = 30.0) -> None:
    async def scenario() -> None:
        for audit in audits:
            audit.start()
        deadline = asyncio.get_running_loop().time() + seconds
        while not until() and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)  # time for a second audit to start, were the Lease not exclusive
        for audit in audits:
            await audit.stop()

    asyncio.run(scenario())


def test_two_replicas_one_lease_only_one_audits(cluster: ClusterBuilder, kubernetes_client: k8s.ApiClient, registry: RegistryServer) -> None:
    cluster.deployment("shop", "api", pod_spec(plain(registry, "bg/lease", "1000")))
    config = audit_config(registry, audit={"interval": 0.2, "lease_seconds": 30})
    replicas = [auditor(config, kubernetes_client, "replica-a"), auditor(config, kubernetes_client, "replica-b")]
    run_replicas(replicas, until=lambda: sum(r.audits for r in replicas) >= 3)

    counts = sorted(r.audits for r in replicas)
    assert counts[0] == 0 and counts[1] >= 3
    lease = cluster.api.get("gate-system", "leases", "gate-audit")
    assert lease is not None and lease["spec"]["leaseTransitions"] == 0
    # Released at shutdown, so a successor need not wait out the lease duration.
    assert lease["spec"].get("holderIdentity") is None


def test_a_lease_is_taken_over_only_after_it_went_unrenewed_for_its_duration(cluster: ClusterBuilder, kubernetes_client: k8s.ApiClient) -> None:
    now = [0.0]
    leader = LeaseElector(Cluster(kubernetes_client), "gate-system", "gate-audit", "a", 15, clock=lambda: now[0])
    follower = LeaseElector(Cluster(kubernetes_client), "gate-system", "gate-audit", "b", 15, clock=lambda: now[0])
    assert leader.try_acquire() and not follower.try_acquire()
    now[0] = 10.0
    assert leader.try_acquire() and not follower.try_acquire()  # renewed: the follower starts counting again
    now[0] = 20.0
    assert not follower.try_acquire()  # only 10 s unchanged as the follower saw it
    now[0] = 26.0
    assert follower.try_acquire() and not leader.try_acquire()
    spec = cluster.api.get("gate-system", "leases", "gate-audit")["spec"]
    assert spec["holderIdentity"] == "b" and spec["leaseTransitions"] == 1


def test_concurrent_takeovers_let_exactly_one_replica_win(cluster: ClusterBuilder, kubernetes_client: k8s.ApiClient) -> None:
    stale = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "gate-audit", "namespace": "gate-system"},
             "spec": {"holderIdentity": "gone", "leaseDurationSeconds": 1, "renewTime": "2020-01-01T00:00:00.000000Z"}}
    cluster.api.add(copy.deepcopy(stale))
    now = [0.0]
    electors = [LeaseElector(Cluster(kubernetes_client), "gate-system", "gate-audit", f"r{i}", 15, clock=lambda: now[0]) for i in range(4)]
    assert not any(e.try_acquire() for e in electors)  # first sight: the holder may still be alive
    now[0] = 100.0
    snapshot = copy.deepcopy(cluster.api.get("gate-system", "leases", "gate-audit"))
    for elector in electors:  # every replica read the same resourceVersion before any wrote
        elector.cluster.lease = lambda namespace, name: copy.deepcopy(snapshot)  # type: ignore[method-assign]
    winners = [elector.identity for elector in electors if elector.try_acquire()]
    assert len(winners) == 1


def test_the_webhook_app_runs_the_audit_in_a_child_process(
    cluster: ClusterBuilder, kubeconfig: Path, registry: RegistryServer, ca: trustme.CA, tmp_path: Path
) -> None:
    cluster.deployment("shop", "api", pod_spec(plain(registry, "bg/app", "")))
    config = audit_config(registry)
    server = start_webhook(create_app(config, audit=AuditProcess(config, kubeconfig)), config, ca, tmp_path)
    try:
        wait_for(lambda: cluster.api.get("shop", "policyreports", "gate") is not None, timeout=60, what="the first PolicyReport")
        assert results_of(cluster, "shop")[("api", "user.root")] == "fail"
        metric = 'gate_audit_results{namespace="shop",result="fail",rule="user.root"} 1.0'
        wait_for(lambda: metric in server.client.get("/metrics").text, timeout=10, what="the audit's counts in the webhook's metrics")
    finally:
        server.stop()
    assert cluster.api.get("gate-system", "leases", "gate-audit")["spec"].get("holderIdentity") is None  # released on shutdown

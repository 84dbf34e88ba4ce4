"""The audit's verdict on a running workload is the webhook's verdict on the same object: the
same Pods (and their owning Deployment/CronJob objects) are sent to the real webhook over TLS as
AdmissionReviews and to ``gate audit``, and decisions and per-image rules must agree."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from kubernetes import client as k8s

from gate.admission import create_app
from gate.audit import Cluster, audit_cluster
from gate.config import Config
from gate.rules import RULES
from tests.admission.webhook_server import WebhookServer, start_webhook
from tests.audit.cluster import ClusterBuilder, pod_spec
from tests.audit.conftest import LENIENT_RULES
from tests.audit.images import from_alpine, plain
from tests.support.gate_config import config_for
from tests.support.registry_server import RegistryServer


@pytest.fixture
def parity_config(registry: RegistryServer) -> Config:
    return config_for(
        registry,
        rules=LENIENT_RULES,
        namespaces={"dev": {"rules": {"user.root": {"action": "warn"}}}},
        exemptions=[{"reason": "sandbox", "namespaces": ["sandbox"], "rules": sorted(RULES)}],
    )


@pytest.fixture
def webhook(parity_config: Config, ca: trustme.CA, tmp_path: Path) -> Iterator[WebhookServer]:
    server = start_webhook(create_app(parity_config), parity_config, ca, tmp_path)
    try:
        yield server
    finally:
        server.stop()


def admission(webhook: WebhookServer, obj: dict[str, Any]) -> tuple[bool, set[frozenset[str]]]:
    """The webhook's answer on ``obj``: allowed, and the rule:action set of each image."""
    meta = obj["metadata"]
    request = {
        "uid": str(uuid.uuid4()), "kind": {"group": "", "version": "v1", "kind": obj["kind"]},
        "namespace": meta["namespace"], "name": meta["name"], "operation": "CREATE", "object": obj,
    }
    answer = webhook.review({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}).json()["response"]
    images = [json.loads(value) for key, value in answer.get("auditAnnotations", {}).items() if key.startswith("image-")]
    return answer["allowed"], {frozenset(image["rules"]) for image in images}


def test_audit_and_webhook_agree_on_the_same_workloads(
    cluster: ClusterBuilder, kubernetes_client: k8s.ApiClient, registry: RegistryServer, parity_config: Config, webhook: WebhookServer
) -> None:
    root, nonroot = plain(registry, "parity/root", ""), plain(registry, "parity/nonroot", "1000")
    floating = from_alpine(registry, "parity/floating", "4.17.21")
    cluster.deployment("shop", "root", pod_spec(root))
    cluster.deployment("shop", "enforced", pod_spec(root, run_as_non_root=True))
    cluster.statefulset("shop", "mixed", pod_spec(nonroot, floating))
    cluster.cronjob("dev", "root-in-dev", pod_spec(root))
    cluster.pod("sandbox", "anything", pod_spec(root, floating))
    cluster.daemonset("shop", "fine", pod_spec(nonroot))

    outcome = asyncio.run(audit_cluster(parity_config, Cluster(kubernetes_client), None))

    by_name = {verdict.workload.name: verdict for verdict in outcome.verdicts}
    assert set(by_name) == {"root", "enforced", "mixed", "root-in-dev", "anything", "fine"}
    decisions = set()
    for pod in cluster.api.of("pods"):
        name = next(v.workload.name for v in outcome.verdicts if _owns(v, pod, cluster))
        verdict = by_name[name]
        allowed, rules = admission(webhook, pod | {"apiVersion": "v1", "kind": "Pod"})
        audited = {frozenset(f"{v.rule}:{v.action}" for v in result.violations) for result in verdict.results}
        assert allowed == (verdict.decision("enforce") == "allow"), name
        assert rules == (set() if verdict.exempt else audited), name
        decisions.add((name, allowed))
    # The owners the API server admitted the Pods through answer the same.
    for kind, resource in (("Deployment", "deployments"), ("CronJob", "cronjobs"), ("StatefulSet", "statefulsets")):
        for owner in cluster.api.of(resource):
            allowed, _ = admission(webhook, owner | {"kind": kind})
            assert allowed == (by_name[owner["metadata"]["name"]].decision("enforce") == "allow"), owner["metadata"]["name"]
    assert decisions == {("root", False), ("enforced", True), ("mixed", False), ("root-in-dev", True), ("anything", True), ("fine", True)}


def _owns(verdict: Any, pod: dict[str, Any], cluster: ClusterBuilder) -> bool:
    """Whether ``pod`` belongs to ``verdict``'s workload, following ReplicaSet and Job owners."""
    meta = pod["metadata"]
    owner = (meta.get("ownerReferences") or [{"kind": "Pod", "name": meta["name"]}])[0]
    if owner["kind"] in ("ReplicaSet", "Job"):
        parent = cluster.api.get(meta["namespace"], owner["kind"].lower() + "s", owner["name"])
        owner = parent["metadata"].get("ownerReferences", [owner])[0] if parent else owner
    return (verdict.workload.namespace, verdict.workload.kind, verdict.workload.name) == (meta["namespace"], owner["kind"], owner["name"])

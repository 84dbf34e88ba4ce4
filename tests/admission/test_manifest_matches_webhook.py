"""`gate check manifest` and the webhook (real TLS) judge the same workloads the same way.

Twelve workloads of every pod-template kind, in namespaces with overrides and exemptions, with
security contexts that change `user.root`, an image volume and an image that cannot be read: each
is sent to the webhook as a CREATE AdmissionReview and, all in one manifest, to the CLI.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
import yaml

from gate import config as config_module
from gate.admission import create_app
from gate.cli import main
from gate.rules import RULES
from tests.admission.webhook_server import WebhookServer, start_webhook
from tests.support.images import ImageBuilder
from tests.support.registry_server import RegistryServer

RECENT = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
PASSWD = "root:x:0:0:root:/root:/bin/sh\napp:x:10001:10001::/home/app:/sbin/nologin\n"
GROUPS = {"Pod": "", "PodTemplate": "", "ReplicationController": "", "Job": "batch", "CronJob": "batch"}
TEMPLATE = {"Pod": (), "PodTemplate": ("template",), "CronJob": ("spec", "jobTemplate", "spec", "template")}


def _image(user: str) -> ImageBuilder:
    image = ImageBuilder()
    image.layer({"etc/passwd": PASSWD, "app/server": "#!/bin/sh\n"}, created_by="COPY app /app # buildkit")
    return image.config(user=user, created=RECENT)


def _workload(kind: str, name: str, namespace: str, spec: dict[str, Any]) -> dict[str, Any]:
    """An object of ``kind`` carrying ``spec`` as its pod spec."""
    obj: dict[str, Any] = {"apiVersion": "v1", "kind": kind, "metadata": {"name": name, "namespace": namespace}}
    path = TEMPLATE.get(kind, ("spec", "template"))
    node = obj
    for part in path:
        node = node.setdefault(part, {})
    node["spec"] = spec
    return obj


def _containers(*images: str, **pod: Any) -> dict[str, Any]:
    return {"containers": [{"name": f"c{n}", "image": image} for n, image in enumerate(images)], **pod}


@pytest.fixture(scope="module")
def images(registry: RegistryServer) -> dict[str, str]:
    return {
        "root": _image("0").push(registry, "t/manifest-parity/root:1").ref,
        "app": _image("10001").push(registry, "t/manifest-parity/app:1").ref,
        "named": _image("app").push(registry, "t/manifest-parity/named:1").ref,
        "missing": f"{registry.host}/t/manifest-parity/missing:1",
    }


@pytest.fixture(scope="module")
def config_path(registry: RegistryServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("parity") / "gate.yaml"
    everything = sorted(RULES)
    document = {
        "registries": {"insecure": [registry.host]},
        "rules": {rule: {"action": "off"} for rule in ("signature.missing", "provenance.missing", "sbom.missing")},
        "namespaces": {"relaxed": {"rules": {"user.root": {"action": "warn"}}}},
        "exemptions": [
            {"reason": "legacy estate", "rules": everything, "namespaces": ["legacy"]},
            {"reason": "vendor image", "rules": ["user.root"], "images": [f"{registry.host}/t/manifest-parity/root"], "namespaces": ["vendor"]},
        ],
    }
    path.write_text(yaml.safe_dump(document))
    return path


@pytest.fixture(scope="module")
def webhook(config_path: Path, ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebhookServer]:
    config = config_module.load(config_path)
    server = start_webhook(create_app(config), config, ca, tmp_path_factory.mktemp("tls"))
    try:
        yield server
    finally:
        server.stop()


def _workloads(images: dict[str, str]) -> list[dict[str, Any]]:
    root, app, named, missing = images["root"], images["app"], images["named"], images["missing"]
    return [
        _workload("Pod", "root-pod", "shop", _containers(root)),
        _workload("Pod", "root-but-non-root", "shop", _containers(root, securityContext={"runAsNonRoot": True})),
        _workload("Deployment", "app", "shop", _containers(app, app)),
        _workload("StatefulSet", "forced-root", "shop", {"containers": [{"name": "db", "image": app, "securityContext": {"runAsUser": 0}}]}),
        _workload("DaemonSet", "agent", "shop", {"initContainers": [{"name": "init", "image": root}], "containers": [{"name": "a", "image": named}]}),
        _workload("Job", "relaxed-root", "relaxed", _containers(root)),
        _workload("CronJob", "legacy-root", "legacy", _containers(root, missing)),
        _workload("ReplicaSet", "vendor-root", "vendor", _containers(root)),
        _workload("ReplicationController", "unreadable", "shop", _containers(missing)),
        _workload("PodTemplate", "template-root", "shop", _containers(root)),
        _workload("Pod", "volume", "shop", _containers(app, volumes=[{"name": "data", "image": {"reference": root}}])),
        _workload("Deployment", "user-override", "shop", _containers(root, securityContext={"runAsUser": 10001})),
    ]


def _admission(webhook: WebhookServer, obj: dict[str, Any]) -> dict[str, Any]:
    kind = obj["kind"]
    group = GROUPS.get(kind, "apps")
    request = {
        "uid": str(uuid.uuid4()),
        "kind": {"group": group, "version": "v1", "kind": kind},
        "resource": {"group": group, "version": "v1", "resource": kind.lower() + "s"},
        "namespace": obj["metadata"]["namespace"],
        "name": obj["metadata"]["name"],
        "operation": "CREATE",
        "userInfo": {"username": "tester"},
        "object": obj,
        "oldObject": None,
    }
    response = webhook.review({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request})
    assert response.status_code == 200
    return response.json()["response"]


def _webhook_verdict(response: dict[str, Any]) -> tuple[bool, list[tuple[str, str, tuple[str, ...]]]]:
    """Whether it was admitted, and per image: reference, decision, rule:action pairs."""
    annotations = response.get("auditAnnotations", {})
    images = [json.loads(value) for key, value in annotations.items() if key.startswith("image-")]
    return response["allowed"], sorted((i["image"], i["decision"], tuple(i["rules"])) for i in images)


def _cli_verdict(results: list[dict[str, Any]]) -> tuple[bool, list[tuple[str, str, tuple[str, ...]]]]:
    if results and all("exempt" in r["workload"] for r in results):
        return True, []  # the webhook admits an exempt namespace without judging (no image annotations)
    per_image = sorted(
        (r["reference"], r["decision"], tuple(sorted({f"{v['rule']}:{v['action']}" for v in r["violations"]}))) for r in results
    )
    return all(r["decision"] == "allow" for r in results), per_image


def test_check_manifest_agrees_with_the_webhook(
    webhook: WebhookServer, images: dict[str, str], config_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    workloads = _workloads(images)
    manifest = tmp_path / "all.yaml"
    manifest.write_text(yaml.safe_dump_all([{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "ignored"}}, *workloads]))
    code = main(["check", "manifest", str(manifest), "--config", str(config_path), "--output", "json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 2, "the unreadable image is an evaluation error"
    by_workload: dict[str, list[dict[str, Any]]] = {}
    for result in report["results"]:
        by_workload.setdefault(result["workload"]["name"], []).append(result)
    assert set(by_workload) == {w["metadata"]["name"] for w in workloads}, "the Service is not judged, every workload is"

    compared = {}
    for obj in workloads:
        name = obj["metadata"]["name"]
        webhook_side = _webhook_verdict(_admission(webhook, obj))
        cli_side = _cli_verdict(by_workload[name])
        assert cli_side == webhook_side, name
        compared[name] = webhook_side[0]
    # The set exercises both verdicts and each feature, not twelve copies of one case.
    assert compared == {
        "root-pod": False, "root-but-non-root": True, "app": True, "forced-root": True, "agent": False,
        "relaxed-root": True, "legacy-root": True, "vendor-root": True, "unreadable": False,
        "template-root": False, "volume": True, "user-override": True,
    }


def test_manifest_from_stdin_and_namespace_default(
    images: dict[str, str], config_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    obj = _workload("Deployment", "api", "shop", _containers(images["root"]))
    del obj["metadata"]["namespace"]
    import io

    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(json.dumps(obj).encode())))
    code = main(["check", "manifest", "-", "--config", str(config_path), "--output", "json", "--namespace", "relaxed"])
    (result,) = json.loads(capsys.readouterr().out)["results"]
    assert (code, result["decision"], result["workload"]["namespace"]) == (0, "allow", "relaxed")
    assert sorted((v["rule"], v["action"]) for v in result["violations"]) == [("image.mutable-reference", "warn"), ("user.root", "warn")]
    assert result["workload"]["locations"] == ['spec.template.spec.containers[0] "c0"']


def test_check_image_namespace_applies_overrides(images: dict[str, str], config_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "image", images["root"], "--config", str(config_path), "--output", "json"]) == 1
    capsys.readouterr()
    assert main(["check", "image", images["root"], "--config", str(config_path), "--output", "json", "--namespace", "relaxed"]) == 0
    (violation,) = json.loads(capsys.readouterr().out)["results"][0]["violations"]
    assert (violation["rule"], violation["action"]) == ("user.root", "warn")


def test_manifest_without_workloads_is_a_usage_error(tmp_path: Path, config_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = tmp_path / "svc.yaml"
    manifest.write_text("kind: Service\nmetadata: {name: a}\n---\n")
    assert main(["check", "manifest", str(manifest), "--config", str(config_path)]) == 2
    assert "no workload" in capsys.readouterr().err

"""``gate audit`` against the KubernetesApiDouble serving a cluster's Pods, ReplicaSets, Jobs and
their owners, with images in the real registry: grouping, one judgement per image, exit codes,
and the rebuild finder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gate.cli import main
from tests.audit.cluster import ClusterBuilder, pod_spec
from tests.audit.conftest import LENIENT_RULES
from tests.audit.images import (
    GOLANG,
    GOLANG_OTHER,
    PASSWD,
    from_alpine,
    from_golang,
    plain,
)
from tests.registry.lying_proxy_double import LyingRegistryProxyDouble
from tests.support.images import ImageBuilder
from tests.support.registry_server import RegistryServer


def write_config(tmp_path: Path, *hosts: str, **extra: object) -> Path:
    path = tmp_path / "gate.yaml"
    path.write_text(json.dumps({"registries": {"insecure": list(hosts)}, "rules": LENIENT_RULES, **extra}))
    return path


def audit(capsys: pytest.CaptureFixture[str], kubeconfig: Path, config: Path, *args: str) -> tuple[int, dict]:
    code = main(["audit", "--kubeconfig", str(kubeconfig), "--config", str(config), "--output", "json", *args])
    return code, json.loads(capsys.readouterr().out)


def listed(document: dict) -> list[tuple[str, str, str, int]]:
    return [(w["namespace"], w["kind"], w["name"], w["pods"]) for w in document["workloads"]]


def test_pods_are_grouped_by_their_owning_workload(
    cluster: ClusterBuilder, kubeconfig: Path, registry: RegistryServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    image = plain(registry, "audit/group", "1000")
    spec = pod_spec(image)
    cluster.deployment("shop", "api", spec, replicas=3)
    cluster.statefulset("shop", "db", spec, replicas=2)
    cluster.daemonset("infra", "agent", spec, nodes=2)
    cluster.cronjob("shop", "nightly", spec)
    cluster.job("shop", "migrate", spec)
    cluster.job("shop", "done", spec, phase="Succeeded")  # finished: not running
    cluster.pod("shop", "debug", spec)
    orphan_rs = cluster._owned("ReplicaSet", "infra", "bare-rs", spec, None, ("template",))  # a ReplicaSet without a Deployment
    cluster.pod("infra", "bare-rs-abcde", spec, orphan_rs)

    code, document = audit(capsys, kubeconfig, write_config(tmp_path, registry.host))

    assert listed(document) == [
        ("infra", "DaemonSet", "agent", 2),
        ("infra", "ReplicaSet", "bare-rs", 1),
        ("shop", "CronJob", "nightly", 1),
        ("shop", "Deployment", "api", 3),
        ("shop", "Job", "migrate", 1),
        ("shop", "Pod", "debug", 1),
        ("shop", "StatefulSet", "db", 2),
    ]
    assert code == 0 and {w["decision"] for w in document["workloads"]} == {"allow"}
    assert document["summary"] == {"workloads": 7, "denied": 0, "images": 1, "matched": 0}


def test_namespace_flag_lists_only_that_namespace(
    cluster: ClusterBuilder, kubeconfig: Path, registry: RegistryServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    image = plain(registry, "audit/ns", "1000")
    cluster.deployment("shop", "api", pod_spec(image))
    cluster.deployment("infra", "agent", pod_spec(image))
    _, document = audit(capsys, kubeconfig, write_config(tmp_path, registry.host), "--namespace", "infra")
    assert listed(document) == [("infra", "Deployment", "agent", 2)]
    assert not [path for path in cluster.api.requests if "/namespaces/shop" in path or path.startswith("/api/v1/pods")]


def test_each_distinct_image_is_fetched_once_and_judged_in_each_context(
    cluster: ClusterBuilder,
    kubeconfig: Path,
    registry: RegistryServer,
    lying_proxy: LyingRegistryProxyDouble,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = plain(registry, "audit/once-root", "").replace(registry.host, lying_proxy.host)  # read through the counting proxy
    other = plain(registry, "audit/once-other", "1000").replace(registry.host, lying_proxy.host)
    for index in range(6):
        cluster.deployment(f"team{index % 3}", f"app{index}", pod_spec(root, other, run_as_non_root=index % 2 == 0 or None))

    code, document = audit(capsys, kubeconfig, write_config(tmp_path, lying_proxy.host))

    manifests = [seen.path for seen in lying_proxy.seen if seen.method == "GET" and "/manifests/1" in seen.path]
    assert sorted(manifests) == ["/v2/audit/once-other/manifests/1", "/v2/audit/once-root/manifests/1"]
    blob_reads = [seen.path for seen in lying_proxy.seen if seen.method == "GET" and "/blobs/" in seen.path]
    assert len(blob_reads) == len(set(blob_reads)) == 4  # each image's config and layer, once
    verdicts = {w["name"]: w["decision"] for w in document["workloads"]}
    # The root image passes only where the pod enforces runAsNonRoot: the context is each workload's.
    assert verdicts == {f"app{index}": "allow" if index % 2 == 0 else "deny" for index in range(6)}
    assert code == 1


def test_a_moved_tag_is_judged_at_the_digest_the_pods_run(
    cluster: ClusterBuilder, kubeconfig: Path, registry: RegistryServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    started = ImageBuilder().layer({"etc/passwd": PASSWD, "app/v1": "1"}).config(user="").push(registry, "audit/moved:1")
    ImageBuilder().layer({"etc/passwd": PASSWD, "app/v2": "2"}).config(user="1000").push(registry, "audit/moved:1")  # the tag moves
    image = f"{registry.host}/audit/moved:1"
    for pod in cluster.deployment("shop", "old", pod_spec(image)):
        pod["status"]["containerStatuses"] = [{"name": "c0", "imageID": f"{registry.host}/audit/moved@{started.digest}"}]
    cluster.deployment("shop", "new", pod_spec(image))  # not started yet: judged by its reference, as admission would
    restarted = cluster.pod("shop", "config-id", pod_spec(image))
    restarted["status"]["containerStatuses"] = [{"name": "c0", "imageID": "sha256:" + "e" * 64}]  # a config ID names no manifest

    _, document = audit(capsys, kubeconfig, write_config(tmp_path, registry.host))

    by_name = {w["name"]: w for w in document["workloads"]}
    assert by_name["old"]["decision"] == "deny" and by_name["old"]["images"][0]["reference"] == f"{image}@{started.digest}"
    assert "user.root" in [v["rule"] for v in by_name["old"]["images"][0]["violations"]]
    assert by_name["new"]["decision"] == "allow" and by_name["new"]["images"][0]["reference"] == image
    assert by_name["config-id"]["images"][0]["reference"] == image


def test_unreachable_registry_is_exit_2_and_a_bad_pod_is_reported(
    cluster: ClusterBuilder, kubeconfig: Path, registry: RegistryServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cluster.deployment("shop", "gone", pod_spec("127.0.0.1:9/nowhere/app:1"))
    pod = cluster.pod("shop", "broken", pod_spec(plain(registry, "audit/broken", "1000")))
    pod["spec"]["containers"] = "not a list"
    code, document = audit(capsys, kubeconfig, write_config(tmp_path, registry.host, "127.0.0.1:9"))
    assert code == 2
    by_name = {w["name"]: w for w in document["workloads"]}
    assert by_name["broken"]["decision"] == "deny" and "containers must be a list" in by_name["broken"]["problem"]
    assert [v["rule"] for v in by_name["gone"]["images"][0]["violations"]] == ["evaluation.error"]


def test_rebuild_finder_uses_builder_digest_and_repository(
    cluster: ClusterBuilder, kubeconfig: Path, registry: RegistryServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cluster.deployment("shop", "api", pod_spec(from_golang(registry, "audit/find-api", GOLANG, "4.17.20")))
    cluster.cronjob("shop", "report", pod_spec(from_golang(registry, "audit/find-report", GOLANG_OTHER, "4.17.21")))
    cluster.deployment("web", "front", pod_spec(from_alpine(registry, "audit/find-front", "4.17.21")))
    cluster.pod("web", "plain", pod_spec(plain(registry, "audit/find-plain", "1000")))
    config = write_config(tmp_path, registry.host)

    _, by_digest = audit(capsys, kubeconfig, config, "--uses-builder", f"golang@sha256:{GOLANG}")
    assert listed(by_digest) == [("shop", "Deployment", "api", 2)]
    assert by_digest["workloads"][0]["images"][0]["matches"] == [f"FROM golang:1.22@sha256:{GOLANG} (sha256:{GOLANG})"]

    _, by_repository = audit(capsys, kubeconfig, config, "--uses-builder", "docker.io/library/golang")
    assert listed(by_repository) == [("shop", "CronJob", "report", 1), ("shop", "Deployment", "api", 2)]

    _, by_tag = audit(capsys, kubeconfig, config, "--uses-builder", "alpine:3.19")
    assert listed(by_tag) == [("web", "Deployment", "front", 2)]
    _, other_tag = audit(capsys, kubeconfig, config, "--uses-builder", "alpine:3.20")
    assert listed(other_tag) == [] and other_tag["summary"]["matched"] == 0


def test_rebuild_finder_contains_a_component_in_a_version_range(
    cluster: ClusterBuilder, kubeconfig: Path, registry: RegistryServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cluster.deployment("shop", "old", pod_spec(from_golang(registry, "audit/sbom-old", GOLANG, "4.17.20")))
    cluster.deployment("shop", "new", pod_spec(from_alpine(registry, "audit/sbom-new", "4.17.21")))
    cluster.pod("shop", "none", pod_spec(plain(registry, "audit/sbom-none", "1000")))
    config = write_config(tmp_path, registry.host)

    code, in_range = audit(capsys, kubeconfig, config, "--contains", "pkg:npm/lodash@vers:npm/<4.17.21")
    assert listed(in_range) == [("shop", "Deployment", "old", 2)]
    assert in_range["workloads"][0]["images"][0]["matches"] == ["pkg:npm/lodash@4.17.20"]
    # Finding a component is not a verdict: no deny list is configured, so nothing is denied for it.
    assert "sbom.denied-component" not in [v["rule"] for v in in_range["workloads"][0]["images"][0]["violations"]]
    assert code == 1  # "new" is built FROM a floating alpine tag (builder.unpinned)

    _, any_version = audit(capsys, kubeconfig, config, "--contains", "pkg:npm/lodash")
    assert [w["name"] for w in any_version["workloads"]] == ["new", "old"]
    _, exact = audit(capsys, kubeconfig, config, "--contains", "pkg:npm/lodash@4.17.21")
    assert [w["name"] for w in exact["workloads"]] == ["new"]


def test_bad_finder_queries_are_usage_errors(kubeconfig: Path, registry: RegistryServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path, registry.host)
    assert main(["audit", "--kubeconfig", str(kubeconfig), "--config", str(config), "--contains", "pkg:npm/lodash@vers:npm/<<x"]) == 2
    assert "--contains" in capsys.readouterr().err
    assert main(["audit", "--kubeconfig", str(kubeconfig), "--config", str(config), "--uses-builder", "UPPER/Case@sha256:zz"]) == 2
    assert "--uses-builder" in capsys.readouterr().err


def test_table_output_names_workloads_and_rules(
    cluster: ClusterBuilder, kubeconfig: Path, registry: RegistryServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cluster.deployment("shop", "api", pod_spec(plain(registry, "audit/table", "")))
    code = main(["audit", "--kubeconfig", str(kubeconfig), "--config", str(write_config(tmp_path, registry.host))])
    out = capsys.readouterr().out
    assert code == 1
    assert "DENY    shop/Deployment/api (2 pod(s))" in out and "user.root" in out
    assert out.strip().endswith("0 of 1 workload(s) allowed, 1 image(s) judged")

"""Pure parts of the audit: owner resolution, running digests, and the rebuild finder's matching."""

from __future__ import annotations

import pytest

from gate.admission._workloads import image_uses
from gate.audit._finder import BuilderQuery, contained, parse_contains
from gate.audit._inventory import group_pods
from gate.audit._running import pinned_to_running
from gate.errors import ConfigError
from gate.report import ImageResult

DIGEST = "sha256:" + "ab" * 32
OTHER = "sha256:" + "cd" * 32


def pod(name: str, owner: tuple[str, str] | None = None, phase: str = "Running", image: str = "app:1", namespace: str = "shop") -> dict:
    meta: dict = {"name": name, "namespace": namespace, "uid": f"uid-{name}"}
    if owner is not None:
        meta["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": owner[0], "name": owner[1], "controller": True}]
    return {"metadata": meta, "spec": {"containers": [{"name": "c", "image": image}]}, "status": {"phase": phase}}


def owned(kind: str, name: str, owner_kind: str, owner_name: str) -> dict:
    return {"metadata": {"name": name, "namespace": "shop", "ownerReferences": [
        {"apiVersion": "apps/v1", "kind": owner_kind, "name": owner_name, "controller": True}]}}


def test_owners_are_followed_through_replicasets_and_jobs_only_by_controller_references() -> None:
    pods = [
        pod("api-1", ("ReplicaSet", "api-5d")),
        pod("api-2", ("ReplicaSet", "api-5d")),
        pod("gone-1", ("ReplicaSet", "gone-7f")),  # its ReplicaSet is not listed (being deleted)
        pod("report-1", ("Job", "report-29")),
        pod("finished", ("Job", "report-28"), phase="Succeeded"),
        pod("pending", ("StatefulSet", "db"), phase="Pending"),
        pod("lonely"),
        pod("other-ns", ("ReplicaSet", "api-5d"), namespace="web"),  # same names, another namespace
    ]
    pods[6]["metadata"]["ownerReferences"] = [{"apiVersion": "v1", "kind": "Node", "name": "n1"}]  # not a controller
    replicasets = [owned("ReplicaSet", "api-5d", "Deployment", "api")]
    jobs = [owned("Job", "report-29", "CronJob", "report")]
    grouped = {(w.ref.namespace, w.ref.kind, w.ref.name): w.pod_count for w in group_pods(pods, replicasets, jobs)}
    assert grouped == {
        ("shop", "Deployment", "api"): 2,
        ("shop", "ReplicaSet", "gone-7f"): 1,
        ("shop", "CronJob", "report"): 1,
        ("shop", "StatefulSet", "db"): 1,
        ("shop", "Pod", "lonely"): 1,
        ("web", "ReplicaSet", "api-5d"): 1,
    }


def test_pods_with_the_same_images_are_judged_once_and_different_ones_each() -> None:
    same = [pod(f"api-{n}", ("ReplicaSet", "api-5d")) for n in range(5)]
    rolled = pod("api-new", ("ReplicaSet", "api-5d"), image="app:2")
    (workload,) = group_pods([*same, rolled], [], [])
    assert workload.pod_count == 6 and [p["metadata"]["name"] for p in workload.pods] == ["api-0", "api-new"]


def test_a_started_container_is_pinned_to_the_repository_digest_it_runs() -> None:
    spec_pod = {
        "spec": {"initContainers": [{"name": "init", "image": "tools:1"}], "containers": [{"name": "app", "image": "app:1"}, {"name": "side", "image": f"side@{OTHER}"}]},
        "status": {
            "initContainerStatuses": [{"name": "init", "imageID": "docker-pullable://tools@" + DIGEST}],
            "containerStatuses": [{"name": "app", "imageID": "sha256:" + "ee" * 32}, {"name": "side", "imageID": f"side@{DIGEST}"}],
        },
    }
    images = [use.image for use in pinned_to_running(image_uses("Pod", spec_pod), spec_pod)]
    assert images == [f"tools:1@{DIGEST}", "app:1", f"side@{OTHER}"]  # a config ID and a written digest stay


def stage_result(*stages: dict) -> ImageResult:
    return ImageResult("app:1", DIGEST, evidence={"provenance": {"stages": list(stages)}})


def test_uses_builder_matches_digests_anywhere_and_repositories_by_name_and_tag() -> None:
    golang = {"base": f"golang:1.22@{DIGEST}", "digest_used": DIGEST}
    floating = {"base": "mirror.example/library/golang:1.22", "digest_used": OTHER}
    scratch = {"base": "scratch", "scratch": True, "digest_used": None}
    result = stage_result(golang, floating, scratch)
    assert BuilderQuery.parse(f"golang@{DIGEST}").stages(result) == [f"FROM golang:1.22@{DIGEST} ({DIGEST})"]
    assert BuilderQuery.parse(f"elsewhere.example/golang@{OTHER}").stages(result) == [f"FROM mirror.example/library/golang:1.22 ({OTHER})"]
    assert len(BuilderQuery.parse("docker.io/library/golang").stages(result)) == 1
    assert BuilderQuery.parse("golang:1.21").stages(result) == []
    assert BuilderQuery.parse("scratch").stages(result) == []


def test_uses_builder_never_matches_a_from_of_an_earlier_stage() -> None:
    """`FROM golang AS build` then `FROM build`: the second names a stage, not docker.io/library/build."""
    image = {"base": f"golang:1.22@{DIGEST}", "digest_used": DIGEST}
    stage = {"base": "build", "digest_used": None, "parent_stage": "build"}
    result = stage_result(image, stage)
    assert BuilderQuery.parse("docker.io/library/build").stages(result) == []
    assert BuilderQuery.parse("docker.io/library/golang").stages(result) == [f"FROM golang:1.22@{DIGEST} ({DIGEST})"]


def test_matches_name_each_platform_of_an_index() -> None:
    evidence = {"platforms": {
        "linux/amd64": {"provenance": {"stages": [{"base": "alpine:3.19", "digest_used": DIGEST}]}, "contains": [{"purl": "pkg:npm/a@1"}]},
        "linux/arm64": {"provenance": {"stages": [{"base": "alpine:3.19", "digest_used": OTHER}]}, "contains": []},
    }}
    result = ImageResult("app:1", DIGEST, evidence=evidence)
    assert BuilderQuery.parse(f"alpine@{OTHER}").stages(result) == [f"[linux/arm64] FROM alpine:3.19 ({OTHER})"]
    assert contained(result) == ["[linux/amd64] pkg:npm/a@1"]


@pytest.mark.parametrize("text", ["pkg:npm/lodash@vers:pypi/<1", "not-a-purl", "pkg:npm/lodash@vers:npm/<<"])
def test_contains_refuses_what_the_deny_list_would(text: str) -> None:
    with pytest.raises(ConfigError, match="--contains"):
        parse_contains(text)


def test_contains_reads_purl_and_range_as_the_deny_list_does() -> None:
    (entry,) = parse_contains("pkg:npm/%40scope/pkg@vers:npm/>=1.0.0|<1.2.0").entries
    assert (entry.purl.namespace, entry.purl.name, entry.text_range) == ("@scope", "pkg", "vers:npm/>=1.0.0|<1.2.0")

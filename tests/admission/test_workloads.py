"""Image extraction from every workload kind, container list and image volume (pure functions)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from gate.admission._review import BadReview, parse_review
from gate.admission._workloads import POD_SPEC_PATHS, ImageUse, WorkloadError, changed_uses, image_uses
from tests.admission import vectors
from tests.admission.reviews import workload

CONNAISSEUR = [case for case in vectors.index("connaisseur")["requests"] if case.get("kind")]
KUBEWARDEN = vectors.index("kubewarden")["request_catalog"]
GATEKEEPER_PODS = [case for case in vectors.index("gatekeeper-library")["cases"] if case["object_kind"] == "Pod"]
LIST_OF_MESSAGE = {"initContainer": "initContainers", "container": "containers", "ephemeralContainer": "ephemeralContainers"}


def by_list(uses: list[ImageUse]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for use in uses:
        list_name = use.location.rsplit(".", 1)[-1].split("[", 1)[0]
        found.setdefault(list_name, []).append(use.image)
    return found


def readable(case: dict[str, Any]) -> bool:
    return bool(case["images"]) and case.get("upstream_expectation", {}).get("error") is None


@pytest.mark.parametrize("case", [c for c in CONNAISSEUR if readable(c)], ids=vectors.case_id)
def test_connaisseur_images_per_container_list(case: dict[str, Any]) -> None:
    request = parse_review(vectors.json_bytes(vectors.as_v1_review(vectors.load("connaisseur", case["file"]))))
    assert by_list(image_uses(request.kind, request.object)) == case["images"]
    if case["old_images"]:
        assert by_list(image_uses(request.kind, request.old_object)) == case["old_images"]


@pytest.mark.parametrize("case", [c for c in CONNAISSEUR if c.get("upstream_expectation", {}).get("error")], ids=vectors.case_id)
def test_connaisseur_objects_without_a_pod_spec_are_refused(case: dict[str, Any]) -> None:
    """Upstream: "unknown workload kind" errors; gate: no uid (HTTP 400) or WorkloadError (deny)."""
    document = vectors.load("connaisseur", case["file"])
    request = document["request"]
    if "uid" not in request:
        with pytest.raises(BadReview, match="uid"):
            parse_review(vectors.json_bytes(document))
        return
    with pytest.raises(WorkloadError):
        image_uses(request["kind"]["kind"], request["object"])


@pytest.mark.parametrize("case", [c for c in KUBEWARDEN if c["operation"] != "DELETE"], ids=vectors.case_id)
def test_kubewarden_requests_yield_images(case: dict[str, Any]) -> None:
    request = parse_review(vectors.json_bytes(vectors.wrap_request(vectors.load("kubewarden", case["file"]))))
    assert request.kind == case["kind"] and request.operation == case["operation"]
    uses = image_uses(request.kind, request.object)
    assert uses, "every kubewarden workload sample runs at least one image"
    assert ("ephemeralContainers" in by_list(uses)) == case["has_ephemeral_containers"]


@pytest.mark.parametrize("case", GATEKEEPER_PODS, ids=vectors.case_id)
def test_gatekeeper_pods_expose_every_flagged_container_list(case: dict[str, Any]) -> None:
    """Where upstream counts violations per list (its messages name initContainer/container/
    ephemeralContainer), gate must see at least that many images in the list."""
    pod = vectors.load("gatekeeper-library", case["object"])
    found = by_list(image_uses("Pod", pod))
    for assertion in case["assertions"]:
        list_name = LIST_OF_MESSAGE.get(assertion.get("message", ""))
        count = assertion.get("violations")
        if list_name and isinstance(count, int) and not isinstance(count, bool):
            assert len(found.get(list_name, [])) >= count


def pod_spec() -> dict[str, Any]:
    return {
        "securityContext": {"runAsNonRoot": True, "runAsUser": 1000},
        "initContainers": [{"name": "init", "image": "reg.example/init:1"}],
        "containers": [
            {"name": "app", "image": "reg.example/app:1"},
            {"name": "root", "image": "reg.example/side:1", "securityContext": {"runAsNonRoot": False, "runAsUser": 0}},
        ],
        "ephemeralContainers": [{"name": "debug", "image": "reg.example/debug:1"}],
        "volumes": [{"name": "models", "image": {"reference": "reg.example/models:1"}}, {"name": "tmp", "emptyDir": {}}],
    }


@pytest.mark.parametrize("kind", sorted(POD_SPEC_PATHS))
def test_every_kind_every_list_and_image_volumes(kind: str) -> None:
    uses = image_uses(kind, workload(kind, pod_spec()))
    assert [use.image for use in uses] == [
        "reg.example/init:1", "reg.example/app:1", "reg.example/side:1", "reg.example/debug:1", "reg.example/models:1",
    ]
    prefix = ".".join(POD_SPEC_PATHS[kind])
    assert uses[0].location == f'{prefix}.initContainers[0] "init"'
    assert uses[4].location == f'{prefix}.volumes[0] "models"'


def test_container_security_context_overrides_the_pod() -> None:
    init, app, side, debug, volume = image_uses("Pod", workload("Pod", pod_spec()))
    assert (app.run_as_non_root, app.run_as_user) == (True, 1000)
    assert (side.run_as_non_root, side.run_as_user) == (False, 0)
    assert (debug.run_as_non_root, debug.run_as_user) == (True, 1000)
    assert volume.run_as_non_root is True, "image volumes are mounted, never run"


def test_no_security_context_means_unknown() -> None:
    (use,) = image_uses("Pod", {"spec": {"containers": [{"name": "a", "image": "x"}]}})
    assert (use.run_as_non_root, use.run_as_user) == (None, None)


@pytest.mark.parametrize(
    "spec, field",
    [
        ({"containers": {"name": "a"}}, "containers must be a list"),
        ({"containers": [{"name": "a", "image": 5}]}, "containers[0].image must be a string"),
        ({"containers": [], "volumes": [{"name": "v", "image": {}}]}, "volumes[0].image.reference"),
        ({"containers": [], "securityContext": "root"}, "spec.securityContext must be an object"),
    ],
)
def test_malformed_pod_specs_name_the_field(spec: dict[str, Any], field: str) -> None:
    with pytest.raises(WorkloadError, match=field.replace("[", r"\[").replace("]", r"\]")):
        image_uses("Pod", {"spec": spec})


def test_kind_without_pod_spec_is_refused() -> None:
    with pytest.raises(WorkloadError, match="Role carries no pod spec"):
        image_uses("Role", {"rules": []})
    with pytest.raises(WorkloadError, match=r"Deployment object has no spec.template"):
        image_uses("Deployment", {"spec": {"replicas": 1}})


def test_update_judges_only_changed_images_and_contexts() -> None:
    old = workload("Deployment", pod_spec())
    new = copy.deepcopy(old)
    assert changed_uses("Deployment", new, old) == []
    spec = new["spec"]["template"]["spec"]
    spec["containers"][0]["image"] = "reg.example/app:2"
    spec["initContainers"][0]["securityContext"] = {"runAsNonRoot": False}
    assert [use.image for use in changed_uses("Deployment", new, old)] == ["reg.example/init:1", "reg.example/app:2"]


def test_ephemeral_container_subresource_update_judges_the_new_container() -> None:
    """``pods/ephemeralcontainers`` arrives as an UPDATE carrying the whole Pod."""
    old = {"spec": {"containers": [{"name": "app", "image": "reg.example/app:1"}]}}
    new = copy.deepcopy(old)
    new["spec"]["ephemeralContainers"] = [{"name": "debugger", "image": "reg.example/debug:1"}]
    assert [use.location for use in changed_uses("Pod", new, old)] == ['spec.ephemeralContainers[0] "debugger"']


def test_unreadable_old_object_means_judge_everything() -> None:
    new = {"spec": {"containers": [{"name": "app", "image": "reg.example/app:1"}]}}
    assert [use.image for use in changed_uses("Pod", new, None)] == ["reg.example/app:1"]

"""POST /mutate end to end: uvicorn over real TLS, the real Engine, images in the real registry.

Patches are applied with the ``jsonpatch`` library to the object that was sent, as the API server
would, and the result is compared with the object expected.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonpatch
import pytest
import trustme

from gate.admission import create_app
from gate.admission._workloads import POD_SPEC_PATHS
from gate.config import Config
from gate.engine import Engine
from gate.report import ImageResult
from gate.rules import RULES
from tests.admission.reviews import containers, review
from tests.admission.test_webhook import PASSWD, RELAXED_RULES, answer
from tests.admission.webhook_server import WebhookServer, start_webhook
from tests.registry.lying_proxy_double import LyingRegistryProxyDouble
from tests.support.artifacts import push_index
from tests.support.gate_config import config_for
from tests.support.images import ImageBuilder, PushedImage
from tests.support.registry_server import RegistryServer


def nonroot(marker: str) -> ImageBuilder:
    return ImageBuilder().layer({"etc/passwd": PASSWD, "app/marker": marker}).config(user="1000")


@pytest.fixture
def serve(ca: trustme.CA, tmp_path: Path, lying_proxy: LyingRegistryProxyDouble) -> Iterator[Any]:
    servers: list[WebhookServer] = []

    def run(**overrides: Any) -> WebhookServer:
        config: Config = config_for(lying_proxy, **({"rules": RELAXED_RULES} | overrides))
        server = start_webhook(create_app(config), config, ca, tmp_path)
        servers.append(server)
        return server

    yield run
    for server in servers:
        server.stop()


def mutate(server: WebhookServer, sent: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The answer of /mutate and its decoded JSONPatch (empty when none)."""
    response = answer(server.client.post("/mutate", json=sent), sent)
    assert response["allowed"] is True, "the mutating webhook never denies"
    if "patch" not in response:
        return response, []
    assert response["patchType"] == "JSONPatch"
    return response, json.loads(base64.b64decode(response["patch"]))


def patched(sent: dict[str, Any], patch: list[dict[str, Any]]) -> dict[str, Any]:
    """The review with its object as the API server stores it after the patch."""
    mutated = copy.deepcopy(sent)
    mutated["request"]["object"] = jsonpatch.apply_patch(sent["request"]["object"], patch)
    return mutated


def manifest_gets(lying_proxy: LyingRegistryProxyDouble, tag: str) -> int:
    return sum(1 for seen in lying_proxy.seen if seen.method == "GET" and seen.path.endswith(f"/manifests/{tag}"))


def test_a_deployment_by_tag_is_pinned_and_its_validation_needs_no_further_registry_request(
    serve: Any, registry: RegistryServer, lying_proxy: LyingRegistryProxyDouble
) -> None:
    app = nonroot("app").push(registry, "pin/app:1")
    multi = push_index(registry, "pin/multi:1", [nonroot("amd"), ImageBuilder(platform="linux/arm64").layer({"etc/passwd": PASSWD}).config(user="1000")])
    app_ref, multi_ref = f"{lying_proxy.host}/pin/app:1", f"{lying_proxy.host}/pin/multi:1"
    server = serve()
    sent = review("Deployment", {**containers(app_ref, multi_ref), "initContainers": [{"name": "init", "image": app_ref}]})
    response, patch = mutate(server, sent)
    assert manifest_gets(lying_proxy, "1") == 2, "one tag round trip per distinct tag"
    assert json.loads(response["auditAnnotations"]["pinned"]) == {app_ref: f"{app_ref}@{app.digest}", multi_ref: f"{multi_ref}@{multi.digest}"}
    mutated = patched(sent, patch)
    spec = mutated["request"]["object"]["spec"]["template"]["spec"]
    assert [c["image"] for c in spec["containers"]] == [f"{app_ref}@{app.digest}", f"{multi_ref}@{multi.digest}"], "an index stays the index"
    assert spec["initContainers"][0]["image"] == f"{app_ref}@{app.digest}"

    before = len(lying_proxy.seen)
    verdict = answer(server.review(mutated), mutated)
    assert verdict["allowed"] is True
    assert len(lying_proxy.seen) == before, [seen.path for seen in lying_proxy.seen[before:]]
    assert not any("image.mutable-reference" in text for text in verdict.get("warnings", []))

    # The tag moves to an image gate never judged; what the patched object names does not.
    nonroot("moved").push(registry, "pin/app:1")
    again = copy.deepcopy(mutated)
    again["request"]["uid"] = "after-the-tag-moved"
    verdict = answer(server.review(again), again)
    judged = [json.loads(value) for key, value in verdict["auditAnnotations"].items() if key.startswith("image-")]
    assert {item["digest"] for item in judged} == {app.digest, multi.digest}


def test_pinned_references_are_left_alone_and_unresolvable_ones_are_denied_by_validation(
    serve: Any, registry: RegistryServer, lying_proxy: LyingRegistryProxyDouble
) -> None:
    pushed = nonroot("pinned").push(registry, "pin/pinned:1")
    server = serve()
    pinned = review("Pod", containers(f"{lying_proxy.host}/pin/pinned@{pushed.digest}", f"{lying_proxy.host}/pin/pinned:1@{pushed.digest}"))
    assert mutate(server, pinned)[1] == []
    missing = review("Pod", containers(f"{lying_proxy.host}/pin/absent:1"))
    response, patch = mutate(server, missing)
    assert patch == [] and "auditAnnotations" not in response
    verdict = answer(server.review(missing), missing)
    assert verdict["allowed"] is False and "[evaluation.error]" in verdict["status"]["message"]


def test_nothing_is_patched_where_nothing_is_judged(serve: Any, registry: RegistryServer, lying_proxy: LyingRegistryProxyDouble) -> None:
    nonroot("quiet").push(registry, "pin/quiet:1")
    image = f"{lying_proxy.host}/pin/quiet:1"
    server = serve()
    for operation in ("DELETE", "CONNECT"):
        assert mutate(server, review("Pod", containers(image), operation=operation))[1] == []
    config_map = review("Pod", containers(image))
    config_map["request"]["kind"] = {"group": "", "version": "v1", "kind": "ConfigMap"}
    config_map["request"]["object"] = {"kind": "ConfigMap", "data": {"image": image}}
    assert mutate(server, config_map)[1] == []
    unchanged = review("Deployment", containers(image), operation="UPDATE", old_spec=containers(image))
    assert mutate(server, unchanged)[1] == [], "an UPDATE that keeps its images causes no rollout"
    assert lying_proxy.seen == []
    off = serve(mutate=False)
    assert mutate(off, review("Pod", containers(image)))[1] == []
    assert lying_proxy.seen == []


def full_spec(tagged: str, pinned: str) -> dict[str, Any]:
    """A pod spec using ``tagged`` in every place an image can be, and ``pinned`` once."""
    return {
        "initContainers": [{"name": "init", "image": tagged}],
        "containers": [{"name": "pinned", "image": pinned}, {"name": "app", "image": f" {tagged} "}],
        "ephemeralContainers": [{"name": "debug", "image": tagged}],
        "volumes": [{"name": "config", "configMap": {"name": "c"}}, {"name": "data", "image": {"reference": tagged, "pullPolicy": "IfNotPresent"}}],
    }


@pytest.mark.parametrize("kind", sorted(POD_SPEC_PATHS))
def test_every_kind_and_every_image_field_is_pinned_at_its_json_path(
    serve: Any, registry: RegistryServer, lying_proxy: LyingRegistryProxyDouble, kind: str
) -> None:
    pushed: PushedImage = nonroot("kinds").push(registry, "pin/kinds:1")
    tagged, pinned = f"{lying_proxy.host}/pin/kinds:1", f"{lying_proxy.host}/pin/kinds@{pushed.digest}"
    sent = review(kind, full_spec(tagged, pinned))
    _, patch = mutate(serve(), sent)
    expected = review(kind, full_spec(f"{tagged}@{pushed.digest}", pinned))["request"]["object"]
    expected_spec = expected
    for part in POD_SPEC_PATHS[kind]:
        expected_spec = expected_spec[part]
    expected_spec["containers"][1]["image"] = f"{tagged}@{pushed.digest}"  # written without the stray blanks
    assert jsonpatch.apply_patch(sent["request"]["object"], patch) == expected
    assert len(patch) == 4 and all(op["op"] == "replace" for op in patch)


def test_a_tag_that_reaches_validation_is_warned_with_the_pinned_reference_to_write(
    serve: Any, registry: RegistryServer, lying_proxy: LyingRegistryProxyDouble
) -> None:
    pushed = nonroot("unpinned").push(registry, "pin/unpinned:1")
    tagged = f"{lying_proxy.host}/pin/unpinned:1"
    server = serve(mutate=False)
    sent = review("Pod", containers(tagged))
    verdict = answer(server.review(sent), sent)
    assert verdict["allowed"] is True, "a warn-level rule admits"
    warned = [text for text in verdict["warnings"] if "[image.mutable-reference]" in text]
    assert len(warned) == 1 and f"`{tagged}@{pushed.digest}`" in warned[0] and not warned[0].startswith("would deny")
    pinned = review("Pod", containers(f"{tagged}@{pushed.digest}"))
    verdict = answer(server.review(pinned), pinned)
    assert not any("image.mutable-reference" in text for text in verdict.get("warnings", []))
    assert "image.mutable-reference" not in json.dumps(verdict["auditAnnotations"])


def test_warn_mode_warnings_fit_kubernetes_limits_and_keep_each_remedy(
    serve: Any, registry: RegistryServer, lying_proxy: LyingRegistryProxyDouble
) -> None:
    """3 images with 7 findings each (4 deny-level, 3 warn-level): nothing past 256 characters or
    4096 in total, every remedy readable, and only deny-level findings say "would deny"."""
    images = []
    for name in ("api", "worker", "migrate"):
        builder = ImageBuilder(created="2020-01-01T00:00:00Z").layer({"etc/passwd": PASSWD, "app/name": name})
        builder.config(env=[f"AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCY{name.upper()}EXAMPLEKEY"])
        builder.push(registry, f"warn/{name}:1")
        images.append(f"{lying_proxy.host}/warn/{name}:1")
    server = serve(mode="warn", mutate=False, rules={})
    sent = review("Deployment", containers(*images))
    verdict = answer(server.review(sent), sent)
    shown, last = verdict["warnings"][:-1], verdict["warnings"][-1]
    assert verdict["allowed"] is True
    assert all(len(text) <= 256 for text in verdict["warnings"]) and sum(map(len, verdict["warnings"])) <= 4096
    left_out = int(last.split()[1])
    assert last.startswith("… ") and len(shown) + left_out >= 15, "every finding is shown or counted"
    assert sent["request"]["uid"] in last and "gate check manifest" in last
    for text in shown:
        rule = text.split("[", 1)[1].split("]", 1)[0]
        assert text.startswith("would deny: ") is (RULES[rule].default_action == "deny"), text
        assert text.endswith(REMEDIES[rule]) or re.search(REMEDIES[rule], text), text
    assert {text.split("[", 1)[1].split("]", 1)[0] for text in shown} >= set(REMEDIES) - {"image.mutable-reference"}


REMEDIES = {
    "user.root": "set `USER 10001` (numeric, non-root) in the final stage",
    "secret.env": "inject it at run time from a Kubernetes Secret",
    "signature.missing": "configure the signer in `trust`",
    "provenance.missing": "(`cosign attest --type slsaprovenance`)",
    "image.stale": "so base-image and dependency fixes reach it",
    "sbom.missing": "`cosign attest --type cyclonedx`)",
    "image.mutable-reference": r"write `[^`]+:1@sha256:[0-9a-f]{64}`",
}


class RecordedLines(logging.Handler):
    """Keeps the records a logger hands to its handlers."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_each_review_is_one_structured_log_line_with_digests_and_rules(
    serve: Any, registry: RegistryServer, lying_proxy: LyingRegistryProxyDouble
) -> None:
    pushed = nonroot("logged").push(registry, "pin/logged:1")
    server = serve()
    lines = RecordedLines()
    logger = logging.getLogger("gate.admission")
    logger.addHandler(lines)
    try:
        sent = review("Deployment", containers(f"{lying_proxy.host}/pin/logged:1"))
        answer(server.review(sent), sent)
    finally:
        logger.removeHandler(lines)
    [line] = [record for record in lines.records if record.getMessage() == "admission review answered"]
    assert line.levelno == logging.INFO, "allowed reviews log at info"
    assert (line.uid, line.namespace, line.workload, line.decision) == (sent["request"]["uid"], "shop", "Deployment/w", "allow")
    assert line.images == [{"image": f"{lying_proxy.host}/pin/logged:1", "digest": pushed.digest, "decision": "allow",
                            "rules": ["image.mutable-reference:warn", "image.stale:warn", "sbom.missing:warn"]}]


def test_metrics_name_the_build_and_count_no_expected_absence_as_an_error(
    serve: Any, registry: RegistryServer, lying_proxy: LyingRegistryProxyDouble
) -> None:
    nonroot("metrics").push(registry, "pin/metrics:1")
    server = serve()
    sent = review("Pod", containers(f"{lying_proxy.host}/pin/metrics:1"))
    answer(server.review(patched(sent, mutate(server, sent)[1])), sent)
    metrics = server.client.get("/metrics").text
    digest = server.state.engine.policy_digest
    assert f'gate_build_info{{policy_digest="{digest}",version="0.1.0"}} 1.0' in metrics
    assert "_created" not in metrics
    assert "gate_images_pinned_total 1.0" in metrics
    assert any(seen.path.endswith(".sig") for seen in lying_proxy.seen), "discovery asked for the cosign tag, which is absent"
    assert 'gate_registry_requests_total{status="absent"}' in metrics
    assert 'gate_registry_requests_total{status="404"} 0.0' in metrics or 'status="404"' not in metrics


def test_gate_check_image_means_the_tag_and_never_reports_image_mutable_reference(
    registry: RegistryServer, lying_proxy: LyingRegistryProxyDouble
) -> None:
    nonroot("asked").push(registry, "pin/asked:1")

    async def check_image() -> ImageResult:
        async with Engine(config_for(lying_proxy, rules=RELAXED_RULES)) as engine:
            return await engine.check(f"{lying_proxy.host}/pin/asked:1")

    result = asyncio.run(check_image())
    assert result.evaluated and result.digest
    assert "image.mutable-reference" not in {violation.rule for violation in result.violations}

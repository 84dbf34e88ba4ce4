"""The webhook end to end: uvicorn over real TLS, the real Engine, images in the real registry."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme

from gate.admission import create_app
from gate.config import Config
from tests.admission.reviews import containers, review
from tests.admission.webhook_server import WebhookServer, start_webhook
from tests.registry.lying_proxy_double import LyingRegistryProxyDouble
from tests.support.gate_config import config_for
from tests.support.images import ImageBuilder
from tests.support.registry_server import RegistryServer
from tests.support.waiting import wait_for

PASSWD = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n"
# The engine's evidence rules are not under test here: what an image is judged on is user.root.
RELAXED_RULES = {
    "signature.missing": {"action": "off"},
    "provenance.missing": {"action": "off"},
    "provenance.unverified": {"action": "off"},
    "sbom.missing": {"action": "warn"},
}

Start = Callable[..., WebhookServer]


@pytest.fixture(scope="module")
def images(registry: RegistryServer) -> dict[str, str]:
    """A root image and a non-root one in the session registry."""
    built = {}
    for name, user in (("root", ""), ("nonroot", "1000")):
        image = ImageBuilder().layer({"etc/passwd": PASSWD, f"app/{name}": name}).config(user=user)
        image.push(registry, f"admission/{name}:1")
        built[name] = f"{registry.host}/admission/{name}:1"
    return built


@pytest.fixture
def start(ca: trustme.CA, tmp_path: Path) -> Iterator[Start]:
    servers: list[WebhookServer] = []

    def run(config: Config, *, tls: bool = True, **app_args: Any) -> WebhookServer:
        server = start_webhook(create_app(config, **app_args), config, ca if tls else None, tmp_path)
        servers.append(server)
        return server

    yield run
    for server in servers:
        server.stop()


def relaxed(*registries: Any, **overrides: Any) -> Config:
    return config_for(*registries, rules=RELAXED_RULES, **overrides)


def answer(response: httpx.Response, sent: dict[str, Any]) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["apiVersion"] == "admission.k8s.io/v1" and body["kind"] == "AdmissionReview"
    assert body["response"]["uid"] == sent["request"]["uid"]
    return body["response"]


def test_health_ready_and_metrics_over_tls(start: Start, registry: RegistryServer) -> None:
    server = start(relaxed(registry))
    assert server.url.startswith("https://")
    assert server.client.get("/healthz").text == "ok"
    assert server.client.get("/readyz").status_code == 200
    server.review(review("Pod", containers("127.0.0.1:1/none:1"), operation="DELETE"))
    metrics = server.client.get("/metrics").text
    assert 'gate_admission_reviews_total{decision="allow",kind="Pod"} 1.0' in metrics
    assert "gate_admission_review_seconds_bucket" in metrics
    assert 'gate_registry_requests_total{status="200"}' not in metrics, "nothing was fetched yet"


def test_metrics_count_images_violations_and_registry_responses(start: Start, registry: RegistryServer, images: dict[str, str]) -> None:
    server = start(relaxed(registry), tls=False)
    sent = review("Pod", containers(images["root"]))
    assert answer(server.review(sent), sent)["allowed"] is False
    metrics = server.client.get("/metrics").text
    assert 'gate_admission_reviews_total{decision="deny",kind="Pod"} 1.0' in metrics
    assert 'gate_admission_images_total{decision="deny"} 1.0' in metrics
    assert 'gate_violations_total{action="deny",rule="user.root"} 1.0' in metrics
    assert 'gate_registry_requests_total{status="200"}' in metrics
    assert 'gate_cache_lookups_total{cache="verdicts",result="miss"} 1.0' in metrics
    assert answer(server.review(sent), sent)["allowed"] is False
    assert 'gate_cache_lookups_total{cache="verdicts",result="hit"} 1.0' in server.client.get("/metrics").text


@pytest.mark.parametrize(
    "body, status",
    [
        (b"{not json", 400),
        (b"null", 400),
        (b'{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}', 400),
        (b'{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":{"uid":"u","operation":"CREATE"}}', 400),
        (b'{"apiVersion":"v1","kind":"Pod"}', 400),
        (b"x" * (8 * 1024 * 1024 + 1), 413),
    ],
)
def test_client_mistakes_are_4xx_with_a_reason(start: Start, registry: RegistryServer, body: bytes, status: int) -> None:
    server = start(relaxed(registry), tls=False)
    response = server.client.post("/validate", content=body, headers={"content-type": "application/json"})
    assert response.status_code == status and response.json()["error"]


def test_root_image_denied_non_root_allowed_with_locations(start: Start, registry: RegistryServer, images: dict[str, str]) -> None:
    server = start(relaxed(registry))
    sent = review("Deployment", containers(images["nonroot"], images["root"]))
    denied = answer(server.review(sent), sent)
    assert denied["allowed"] is False and denied["status"]["code"] == 403
    message = denied["status"]["message"]
    assert message.startswith("gate denied 1 of 2 image(s):")
    assert f'- {images["root"]} (spec.template.spec.containers[1] "c1"): [user.root]' in message
    assert json.loads(denied["auditAnnotations"]["image-0"])["decision"] == "allow"
    assert "user.root:deny" in json.loads(denied["auditAnnotations"]["image-1"])["rules"]


@pytest.mark.parametrize("kind", ["Pod", "Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job", "CronJob", "ReplicationController", "PodTemplate"])
def test_run_as_non_root_admits_a_root_image_in_every_kind(start: Start, registry: RegistryServer, images: dict[str, str], kind: str) -> None:
    server = start(relaxed(registry), tls=False)
    sent = review(kind, containers(images["root"], securityContext={"runAsNonRoot": True}))
    assert answer(server.review(sent), sent)["allowed"] is True
    sent = review(kind, {"initContainers": [{"name": "init", "image": images["root"]}], "containers": []})
    response = answer(server.review(sent), sent)
    assert response["allowed"] is False and "initContainers[0]" in response["status"]["message"]


def test_update_judges_only_changed_images_delete_and_connect_are_allowed(
    start: Start, registry: RegistryServer, images: dict[str, str]
) -> None:
    proxy = LyingRegistryProxyDouble(registry.url)
    try:
        server = start(relaxed(proxy), tls=False)
        root = images["root"].replace(registry.host, proxy.host)
        unchanged = review("Deployment", containers(root), operation="UPDATE", old_spec=containers(root))
        assert answer(server.review(unchanged), unchanged)["allowed"] is True
        for operation in ("DELETE", "CONNECT"):
            sent = review("Pod", None, operation=operation, old_spec=containers(root))
            assert answer(server.review(sent), sent)["allowed"] is True
        assert proxy.seen == [], "nothing changed, so nothing was fetched"
        nonroot = images["nonroot"].replace(registry.host, proxy.host)
        changed = review("Deployment", containers(root), operation="UPDATE", old_spec=containers(nonroot))
        assert answer(server.review(changed), changed)["allowed"] is False
    finally:
        proxy.stop()


def test_ephemeral_container_subresource_and_dry_run_are_judged(start: Start, registry: RegistryServer, images: dict[str, str]) -> None:
    server = start(relaxed(registry), tls=False)
    pod = containers(images["nonroot"])
    debug = {**pod, "ephemeralContainers": [{"name": "debugger", "image": images["root"]}]}
    sent = review("Pod", debug, operation="UPDATE", old_spec=pod, sub_resource="ephemeralcontainers", dry_run=True)
    response = answer(server.review(sent), sent)
    assert response["allowed"] is False
    assert 'spec.ephemeralContainers[0] "debugger"' in response["status"]["message"]


def test_warn_and_audit_modes_admit(start: Start, registry: RegistryServer, images: dict[str, str]) -> None:
    sent = review("Pod", containers(images["root"]))
    warned = answer(start(relaxed(registry, mode="warn"), tls=False).review(sent), sent)
    assert warned["allowed"] is True and any(w.startswith("would deny: ") and "[user.root]" in w for w in warned["warnings"])
    audited = answer(start(relaxed(registry, mode="audit"), tls=False).review(sent), sent)
    assert audited["allowed"] is True and "warnings" not in audited
    assert audited["auditAnnotations"]["decision"] == "audit:deny"


def test_fully_exempt_namespace_is_admitted_without_evaluation(start: Start, registry: RegistryServer) -> None:
    from gate.rules import RULES

    exemption = {"reason": "cluster add-ons", "namespaces": ["kube-system"], "rules": sorted(RULES)}
    server = start(relaxed(registry, exemptions=[exemption]), tls=False)
    sent = review("DaemonSet", containers("127.0.0.1:1/unreachable:1"), namespace="kube-system")
    response = answer(server.review(sent), sent)
    assert response["allowed"] is True and "cluster add-ons" in response["auditAnnotations"]["reason"]


def test_a_namespace_exemption_of_every_catalogue_rule_does_not_skip_custom_rules(
    start: Start, registry: RegistryServer, images: dict[str, str], tmp_path: Path
) -> None:
    """An exemption waives only the rules it lists (docs/rules.md); a site policy's rule is not
    among the catalogue's, so the namespace must still be evaluated and the custom rule apply."""
    from gate.rules import RULES

    site = tmp_path / "site-policies"
    site.mkdir()
    (site / "registry.rego").write_text(
        "package gate.rules.acme_registry\nimport rego.v1\n"
        'violations contains {"rule": "acme.registry", "message": "only the internal registry is allowed"} if true\n'
    )
    exemption = {"reason": "cluster add-ons", "namespaces": ["kube-system"], "rules": sorted(RULES)}
    server = start(relaxed(registry, exemptions=[exemption], policy={"dirs": [str(site)]}), tls=False)
    sent = review("DaemonSet", containers(images["nonroot"]), namespace="kube-system")
    response = answer(server.review(sent), sent)
    assert response["allowed"] is False and "[acme.registry] only the internal registry is allowed" in response["status"]["message"]


def test_unknown_kinds_and_unreadable_objects_are_denied_not_500(start: Start, registry: RegistryServer) -> None:
    server = start(relaxed(registry), tls=False)
    role = review("Pod", containers("x"))
    role["request"]["kind"]["kind"] = "Role"
    assert "carries no pod spec" in answer(server.review(role), role)["status"]["message"]
    made_up = review("Pod", containers("x"))
    made_up["request"]["kind"]["kind"] = "Kind-d41d8cd98f00"
    answer(server.review(made_up), made_up)
    metrics = server.client.get("/metrics").text
    assert 'gate_admission_reviews_total{decision="deny",kind="other"} 2.0' in metrics
    assert "Role" not in metrics and "d41d8cd98f00" not in metrics, "a client must not create metric series at will"
    broken = review("Pod", {"containers": [{"name": "a", "image": 7}]})
    response = answer(server.review(broken), broken)
    assert response["allowed"] is False and response["status"]["code"] == 400


@pytest.mark.parametrize("fail_open", [False, True])
def test_a_stalling_registry_gets_an_answer_before_the_deadline(
    start: Start, registry: RegistryServer, images: dict[str, str], fail_open: bool
) -> None:
    proxy = LyingRegistryProxyDouble(registry.url)
    proxy.stall_seconds = 5.0
    try:
        server = start(relaxed(proxy, limits={"deadline_seconds": 1.0}, fail_open=fail_open), tls=False)
        sent = review("Pod", containers(images["nonroot"].replace(registry.host, proxy.host)))
        began = time.monotonic()
        response = answer(server.review(sent), sent)
        assert time.monotonic() - began < 4.0  # the 1 s deadline, not the 5 s stall; slack for a loaded machine
        assert response["allowed"] is fail_open
        text = response["warnings"][0] if fail_open else response["status"]["message"]
        assert "[evaluation.error]" in text and "evaluation in progress" in text  # warnings are clipped to 120 characters
        assert fail_open or "retry in about" in text
    finally:
        proxy.stop()


def test_concurrent_identical_reviews_share_one_evaluation(start: Start, registry: RegistryServer, images: dict[str, str]) -> None:
    """16 identical reviews at once cause exactly the registry traffic of one evaluation."""
    proxy = LyingRegistryProxyDouble(registry.url)
    proxy.stall_seconds = 0.2  # keep the first evaluation running while the others arrive
    image = images["nonroot"].replace(registry.host, proxy.host)

    def burst(server: WebhookServer, count: int) -> list[bool]:
        results: list[bool] = []

        def one() -> None:
            sent = review("Pod", containers(image))
            results.append(answer(httpx.post(f"{server.url}/validate", json=sent, timeout=30), sent)["allowed"])

        threads = [threading.Thread(target=one) for _ in range(count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return results

    try:
        assert burst(start(relaxed(proxy), tls=False), 1) == [True]
        single = len(proxy.seen)
        proxy.seen.clear()
        assert burst(start(relaxed(proxy), tls=False), 16) == [True] * 16
        assert single > 0 and len(proxy.seen) == single, [s.path for s in proxy.seen]
    finally:
        proxy.stop()


def test_private_images_are_read_with_the_pods_pull_secrets(
    start: Start, basic_auth_registry: RegistryServer, kubernetes_api: Any, kubernetes_client: Any
) -> None:
    """Credentials exist only as a Secret the pod names; the KubernetesApiDouble serves it."""
    from gate.admission._pull_secrets import PullSecretReader

    ImageBuilder().layer({"etc/passwd": PASSWD}).config(user="1000").push(basic_auth_registry, "private/app:1")
    image = f"{basic_auth_registry.host}/private/app:1"
    user, password = basic_auth_registry.credentials or ("", "")
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    kubernetes_api.docker_secret("shop", "regcred", {basic_auth_registry.host: {"auth": auth}})
    server = start(relaxed(basic_auth_registry), tls=False, pull_secrets=PullSecretReader(kubernetes_client))
    with_secret = review("Pod", containers(image, imagePullSecrets=[{"name": "regcred"}]))
    assert answer(server.review(with_secret), with_secret)["allowed"] is True
    without = review("Pod", containers(image))
    response = answer(server.review(without), without)
    assert response["allowed"] is False and "[evaluation.error]" in response["status"]["message"]


def test_shutdown_lets_an_in_flight_review_finish(start: Start, registry: RegistryServer, images: dict[str, str]) -> None:
    proxy = LyingRegistryProxyDouble(registry.url)
    proxy.stall_seconds = 0.5
    try:
        server = start(relaxed(proxy, limits={"deadline_seconds": 3.0}), tls=False)
        sent = review("Pod", containers(images["nonroot"].replace(registry.host, proxy.host)))
        outcome: list[httpx.Response] = []
        worker = threading.Thread(target=lambda: outcome.append(httpx.post(f"{server.url}/validate", json=sent, timeout=30)))
        worker.start()
        wait_for(lambda: proxy.seen, what="the review to reach the registry")  # in flight, stalled by the proxy
        server.server.should_exit = True
        worker.join()
        assert answer(outcome[0], sent)["allowed"] is True
        server.thread.join(timeout=10)
        assert not server.thread.is_alive() and server.state.serving is False
    finally:
        proxy.stop()


@pytest.mark.parametrize("path", ["/validate", "/registry/events"])
def test_deeply_nested_json_is_a_400_not_a_500(start: Start, registry: RegistryServer, path: str) -> None:
    server = start(relaxed(registry, events_token="a-long-enough-events-token"), tls=False)
    headers = {"content-type": "application/json", "authorization": "Bearer a-long-enough-events-token"}
    for depth in (200, 100_000):  # past gate's bound, and past Python's own recursion limit
        body = b'{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":' + b"[" * depth + b"]" * depth + b"}"
        response = server.client.post(path, content=body, headers=headers)
        assert response.status_code == 400 and "nested deeper" in response.json()["error"]
    sent = review("Pod", containers("127.0.0.1:1/none:1"), operation="DELETE")
    assert answer(server.review(sent), sent)["allowed"] is True


def test_control_characters_from_the_image_are_escaped_in_the_denial(start: Start, registry: RegistryServer) -> None:
    hostile = "app/\x1b[1A\x1b[2K\nadmitted\u202e/.npmrc"
    files = {"etc/passwd": PASSWD, hostile: "//registry.npmjs.org/:_authToken=npm_" + "a1B2c3D4e5" * 3 + "f6G7h8\n"}
    ImageBuilder().layer(files).config(user="1000").push(registry, "admission/ctl:1")
    server = start(relaxed(registry), tls=False)
    sent = review("Pod", containers(f"{registry.host}/admission/ctl:1"))
    message = answer(server.review(sent), sent)["status"]["message"]
    assert "[secret.file]" in message and "\\x1b[1A\\x1b[2K\\x0aadmitted\\u202e" in message
    assert "\x1b" not in message and "\u202e" not in message and "\nadmitted" not in message

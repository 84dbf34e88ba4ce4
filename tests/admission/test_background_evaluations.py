"""Evaluations that outlive the admission request, and replicas that share what they judged.

The webhook runs for real (uvicorn over HTTP on loopback) in front of a registry lying_proxy that streams
layers slowly, as a large image from a distant registry would. The API server's retry is a second
AdmissionReview for the same pod.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from gate.admission import create_app
from gate.config import Config
from tests.admission.reviews import containers, review
from tests.admission.webhook_server import WebhookServer, start_webhook
from tests.registry.lying_proxy_double import LyingRegistryProxyDouble
from tests.support.gate_config import config_for
from tests.support.images import ImageBuilder
from tests.support.redis_server import RedisServer
from tests.support.registry_server import RegistryServer
from tests.support.waiting import wait_for

PASSWD = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n"
RULES = {rule: {"action": "off"} for rule in ("signature.missing", "provenance.missing", "provenance.unverified", "sbom.missing", "image.stale")}
LAYER_BYTES = 1536 * 1024  # random: as large compressed; at 512 KiB/s a scan takes ~3 s, past the 1 s deadline


@pytest.fixture
def webhooks() -> Iterator[list[WebhookServer]]:
    servers: list[WebhookServer] = []
    yield servers
    for server in servers:
        server.stop()


def _serve(webhooks: list[WebhookServer], config: Config) -> WebhookServer:
    server = start_webhook(create_app(config), config, None, None)
    webhooks.append(server)
    return server


def _push(registry: RegistryServer, lying_proxy: LyingRegistryProxyDouble, repository: str, user: str = "1000") -> str:
    image = ImageBuilder().layer({"etc/passwd": PASSWD, "app/data": os.urandom(LAYER_BYTES)}).config(user=user)
    image.push(registry, f"{repository}:1")
    return f"{lying_proxy.host}/{repository}:1"


def _answer(server: WebhookServer, image: str) -> dict[str, Any]:
    sent = review("Pod", containers(image))
    response = server.review(sent)
    assert response.status_code == 200, response.text
    return response.json()["response"]


def _metric(server: WebhookServer, name: str) -> float:
    text = httpx.get(f"{server.url}/metrics").text
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(name))


def test_a_slow_image_is_answered_in_progress_and_the_retry_gets_the_verdict_without_registry_requests(
    registry: RegistryServer, lying_proxy: LyingRegistryProxyDouble, webhooks: list[WebhookServer], repo: str
) -> None:
    image = _push(registry, lying_proxy, repo, user="")  # root: the real verdict is a denial for user.root
    server = _serve(webhooks, config_for(lying_proxy, rules=RULES, limits={"deadline_seconds": 1.0}))
    lying_proxy.blob_bytes_per_second = 512 * 1024

    began = time.monotonic()
    first = _answer(server, image)
    assert time.monotonic() - began < 3.0, "answered at the 1 s deadline, not after the ~3 s scan"
    message = first["status"]["message"]
    assert first["allowed"] is False and "[evaluation.error]" in message
    assert "evaluation in progress: retry in about" in message and "MB of layers read" in message
    assert _metric(server, "gate_evaluation_timeouts_total") == 1

    wait_for(lambda: server.state.engine.evaluations_in_progress == 0, what="the evaluation to finish in the background")
    lying_proxy.seen.clear()
    retry = _answer(server, image)
    assert retry["allowed"] is False and "[user.root]" in retry["status"]["message"]
    assert "in progress" not in retry["status"]["message"]
    assert lying_proxy.seen == [], "the retry was answered from the verdict cache"


def test_evaluations_beyond_background_evaluations_queue_and_are_counted(
    registry: RegistryServer, lying_proxy: LyingRegistryProxyDouble, webhooks: list[WebhookServer], repo: str
) -> None:
    first, second = _push(registry, lying_proxy, f"{repo}-a"), _push(registry, lying_proxy, f"{repo}-b")
    limits = {"deadline_seconds": 0.5, "background_evaluations": 1}
    server = _serve(webhooks, config_for(lying_proxy, rules=RULES, limits=limits))
    lying_proxy.blob_bytes_per_second = 1024 * 1024

    assert "in progress" in _answer(server, first)["status"]["message"]
    queued = _answer(server, second)["status"]["message"]
    assert "waiting for a free slot (position 1)" in queued
    assert _metric(server, 'gate_background_evaluations{state="queued"}') == 1
    assert _metric(server, "gate_background_evaluations_queued_total") == 1

    wait_for(lambda: server.state.engine.evaluations_in_progress == 0, what="both evaluations to finish")
    assert _answer(server, first)["allowed"] is True and _answer(server, second)["allowed"] is True
    assert _metric(server, 'gate_background_evaluations{state="queued"}') == 0


def test_an_evaluation_past_evaluation_seconds_ends_in_a_cached_error(
    registry: RegistryServer, lying_proxy: LyingRegistryProxyDouble, webhooks: list[WebhookServer], repo: str
) -> None:
    image = _push(registry, lying_proxy, repo)
    limits = {"deadline_seconds": 0.5, "evaluation_seconds": 1.0}
    server = _serve(webhooks, config_for(lying_proxy, rules=RULES, limits=limits))
    lying_proxy.blob_bytes_per_second = 256 * 1024  # ~6 s: past the 1 s bound

    assert "in progress" in _answer(server, image)["status"]["message"]
    wait_for(lambda: server.state.engine.evaluations_in_progress == 0, what="the bound to end the evaluation")
    retry = _answer(server, image)
    assert retry["allowed"] is False and "took longer than limits.evaluation_seconds (1s)" in retry["status"]["message"]


def test_a_verdict_of_replica_a_admits_on_replica_b_without_a_layer_request(
    registry: RegistryServer, lying_proxy: LyingRegistryProxyDouble, webhooks: list[WebhookServer], redis_server: RedisServer, repo: str
) -> None:
    image = _push(registry, lying_proxy, repo)
    config = config_for(lying_proxy, rules=RULES, cache={"url": redis_server.url})
    a, b = _serve(webhooks, config), _serve(webhooks, config)
    assert _answer(a, image)["allowed"] is True
    lying_proxy.seen.clear()
    assert _answer(b, image)["allowed"] is True
    assert not [seen.path for seen in lying_proxy.seen if "/blobs/" in seen.path]
    assert _metric(b, 'gate_cache_lookups_total{cache="shared_verdicts",result="hit"}') == 1
    assert _metric(b, "gate_shared_cache_fallbacks_total") == 0


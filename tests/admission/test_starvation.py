"""Admission cannot be starved: floods against a host that never answers leave other reviews correct.

Real parts only: the webhook over HTTP on loopback, Debian's registry for the honest images, and a
StallingHostDouble (a TCP server that accepts and never answers) for the hostile host. No timing
assertions beyond the deadline: a flood's images time out as ``evaluation.error``, while a review
of a healthy registry made meanwhile gets its real verdict, not a timeout.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gate.admission import create_app
from gate.config import Config
from tests.admission.reviews import containers, review
from tests.admission.webhook_server import WebhookServer, start_webhook
from tests.support.gate_config import config_for
from tests.support.images import ImageBuilder
from tests.support.registry_server import RegistryServer
from tests.support.stalling_host import StallingHostDouble
from tests.support.waiting import wait_for

PASSWD = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n"
RELAXED = {"signature.missing": {"action": "off"}, "provenance.missing": {"action": "off"},
           "provenance.unverified": {"action": "off"}, "sbom.missing": {"action": "off"}}
FLOOD_IMAGES = 60  # within limits.images_per_review; two floods exceed the old single pool of 100


@pytest.fixture(scope="module")
def honest(registry: RegistryServer) -> dict[str, str]:
    built = {}
    for name, user in (("root", ""), ("nonroot", "1000")):
        ImageBuilder().layer({"etc/passwd": PASSWD, f"app/{name}": name}).config(user=user).push(registry, f"starve/{name}:1")
        built[name] = f"{registry.host}/starve/{name}:1"
    return built


@pytest.fixture
def stalling() -> Iterator[StallingHostDouble]:
    with StallingHostDouble() as host:
        yield host


def _serve(config: Config, tmp_path: Path) -> WebhookServer:
    return start_webhook(create_app(config), config, None, tmp_path)


def _flood(host: str, name: str) -> dict[str, Any]:
    return review("Deployment", containers(*(f"{host}/{name}/app{n}:1" for n in range(FLOOD_IMAGES))))


def _post(server: WebhookServer, sent: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(f"{server.url}/validate", json=sent, timeout=60)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()["response"]
    assert answer["uid"] == sent["request"]["uid"]
    return answer


def test_normal_reviews_keep_their_verdicts_while_floods_stall(
    registry: RegistryServer, honest: dict[str, str], stalling: StallingHostDouble, tmp_path: Path
) -> None:
    # Long registry timeouts: each stalled request holds its connection for the whole flood.
    config = config_for(registry, stalling, rules=RELAXED, limits={"deadline_seconds": 3.0, "timeout_seconds": 60.0})
    server = _serve(config, tmp_path)
    try:
        floods = [_flood(stalling.host, f"flood{n}") for n in range(2)]
        flood_answers: list[dict[str, Any]] = []
        workers = [threading.Thread(target=lambda f=f: flood_answers.append(_post(server, f))) for f in floods]
        for worker in workers:
            worker.start()
        wait_for(lambda: stalling.accepted >= config.limits.connections_per_host, what="the floods to reach the stalling host")

        nonroot = review("Pod", containers(honest["nonroot"]))
        assert _post(server, nonroot)["allowed"] is True
        root = review("Pod", containers(honest["root"]))
        denied = _post(server, root)
        assert denied["allowed"] is False
        assert "[user.root]" in denied["status"]["message"] and "evaluation.error" not in denied["status"]["message"]

        for worker in workers:
            worker.join()
        for answer in flood_answers:
            assert answer["allowed"] is False
            assert "[evaluation.error]" in answer["status"]["message"] and "in progress" in answer["status"]["message"]
        assert stalling.accepted <= config.limits.connections_per_host, "one host gets a bounded share of connections"
    finally:
        server.stop()


def test_a_review_naming_too_many_distinct_images_is_refused(registry: RegistryServer, honest: dict[str, str], tmp_path: Path) -> None:
    config = config_for(registry, rules=RELAXED, limits={"images_per_review": 3})
    server = _serve(config, tmp_path)
    try:
        many = review("Pod", containers(*(f"{honest['nonroot'][:-2]}:{n}" for n in range(4))))
        refused = _post(server, many)
        assert refused["allowed"] is False
        assert "4 distinct images" in refused["status"]["message"] and "limits.images_per_review" in refused["status"]["message"]
        repeated = review("Pod", containers(*([honest["nonroot"]] * 5)))  # one distinct image used five times
        assert _post(server, repeated)["allowed"] is True
    finally:
        server.stop()

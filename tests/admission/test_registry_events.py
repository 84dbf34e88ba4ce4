"""POST /registry/events: Debian's registry, configured to notify gate, pushes; gate judges ahead."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from gate.admission import create_app
from tests.admission.reviews import containers, review
from tests.admission.webhook_server import WebhookServer, start_webhook
from tests.support.gate_config import config_for
from tests.support.images import ImageBuilder
from tests.support.registry_server import RegistryServer, free_port, start_registry
from tests.support.waiting import wait_for

TOKEN = "push-events-token"


def events_seen(server: WebhookServer, outcome: str) -> float:
    return server.state.metrics.registry.get_sample_value("gate_registry_events_total", {"outcome": outcome}) or 0.0


def notifications(endpoint: str, token: str) -> dict:
    """The registry's ``notifications`` section: POST push events to ``endpoint`` with the bearer token."""
    return {
        "endpoints": [
            {
                "name": "gate",
                "url": endpoint,
                "headers": {"Authorization": [f"Bearer {token}"]},
                "timeout": "2s",
                "threshold": 3,
                "backoff": "200ms",
                "ignore": {"actions": ["pull"]},
            }
        ]
    }


@pytest.fixture
def notified(ca: trustme.CA, ca_file: Path, tmp_path: Path) -> Iterator[tuple[WebhookServer, RegistryServer]]:
    """A TLS webhook with an events token, and a registry that notifies it on every push.

    The registry names the webhook's URL and the webhook's config names the registry, so the
    webhook's port is chosen first; the registry trusts the test CA through ``SSL_CERT_FILE``.
    """
    port = free_port()
    endpoint = f"https://127.0.0.1:{port}/registry/events"
    registry = start_registry(
        tmp_path / "registry", extra_config={"notifications": notifications(endpoint, TOKEN)}, env={"SSL_CERT_FILE": str(ca_file)}
    )
    try:
        config = config_for(registry, events_token=TOKEN,
                            rules={"signature.missing": {"action": "off"}, "provenance.missing": {"action": "off"}})
        server = start_webhook(create_app(config), config, ca, tmp_path, port=port)
    except Exception:
        registry.stop()
        raise
    try:
        yield server, registry
    finally:
        server.stop()
        registry.stop()


def test_pushed_manifests_are_judged_in_the_background(notified: tuple[WebhookServer, RegistryServer]) -> None:
    server, registry = notified
    ImageBuilder().layer({"etc/passwd": "app:x:1000:1000::/:/bin/sh\n"}).config(user="1000").push(registry, "events/app:1")
    wait_for(lambda: events_seen(server, "judged") + events_seen(server, "failed") >= 1)
    assert events_seen(server, "failed") == 0
    assert events_seen(server, "unauthorized") == 0
    sent = review("Pod", containers(f"{registry.host}/events/app:1"))
    response = server.review(sent).json()["response"]
    assert response["uid"] == sent["request"]["uid"]


def test_admission_after_a_push_is_a_cache_hit(notified: tuple[WebhookServer, RegistryServer]) -> None:
    server, registry = notified
    ImageBuilder().layer({"etc/passwd": "app:x:1000:1000::/:/bin/sh\n"}).config(user="1000").push(registry, "events/warm:1")
    wait_for(lambda: events_seen(server, "judged") >= 1)
    before = server.state.engine.client.request_count
    sent = review("Pod", containers(f"{registry.host}/events/warm:1"))
    assert server.review(sent).status_code == 200
    assert server.state.engine.client.request_count == before, "the verdict came from the warmed cache"


@pytest.mark.parametrize(
    "headers, body, status",
    [
        ({}, b'{"events": []}', 401),
        ({"Authorization": "Bearer wrong"}, b'{"events": []}', 401),
        ({"Authorization": f"Bearer {TOKEN}"}, b"{", 400),
        ({"Authorization": f"Bearer {TOKEN}"}, b'{"events": {}}', 400),
        ({"Authorization": f"Bearer {TOKEN}"}, b'{"events": []}', 200),
    ],
)
def test_events_need_the_token_and_an_envelope(
    ca: trustme.CA, tmp_path: Path, headers: dict[str, str], body: bytes, status: int
) -> None:
    config = config_for(events_token=TOKEN)
    server = start_webhook(create_app(config), config, ca, tmp_path)
    try:
        response = server.client.post("/registry/events", content=body, headers=headers)
        assert response.status_code == status
        if status == 200:
            assert response.json() == {"queued": 0, "dropped": 0, "ignored": 0}
    finally:
        server.stop()


def test_events_are_refused_when_no_token_is_configured(ca: trustme.CA, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GATE_EVENTS_TOKEN", raising=False)
    config = config_for()
    server = start_webhook(create_app(config), config, ca, tmp_path)
    try:
        response = server.client.post("/registry/events", content=json.dumps({"events": []}), headers={"Authorization": "Bearer x"})
        assert response.status_code == 503 and "GATE_EVENTS_TOKEN" in response.json()["error"]
    finally:
        server.stop()


def test_a_push_moves_the_tag_at_once(notified: tuple[WebhookServer, RegistryServer]) -> None:
    """Tags are trusted for up to 30 s; a push event for the tag must end that trust immediately."""
    server, registry = notified
    image = f"{registry.host}/events/moving:prod"
    passwd = "root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/:/bin/sh\n"
    ImageBuilder().layer({"etc/passwd": passwd, "app/v": "1"}).config(user="1000").push(registry, "events/moving:prod")
    wait_for(lambda: events_seen(server, "judged") >= 1)
    honest = review("Pod", containers(image))
    assert server.review(honest).json()["response"]["allowed"] is True
    queued = events_seen(server, "queued")
    ImageBuilder().layer({"etc/passwd": passwd, "app/v": "2"}).config(user="0").push(registry, "events/moving:prod")
    wait_for(lambda: events_seen(server, "queued") > queued, what="the push event of the moved tag")
    moved = review("Pod", containers(image))
    answer = server.review(moved).json()["response"]
    assert answer["allowed"] is False and "[user.root]" in answer["status"]["message"]

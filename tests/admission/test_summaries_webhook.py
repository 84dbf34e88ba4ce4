"""Verification summaries in the webhook: a gate with `attest.key` attests what the registry tells it
was pushed; a gate with `trust.verifiers` admits that image without fetching its layers."""

from __future__ import annotations

import json
import time
from pathlib import Path

import trustme
from cryptography.hazmat.primitives.asymmetric import ec

from gate.admission import create_app
from tests.admission.reviews import containers, review
from tests.admission.test_registry_events import TOKEN, events_seen, notifications
from tests.admission.webhook_server import start_webhook
from tests.registry.lying_proxy_double import LyingRegistryProxyDouble
from tests.support.artifacts import referrers_tag
from tests.support.gate_config import config_for
from tests.support.images import ImageBuilder
from tests.support.push import client_for
from tests.support.registry_server import free_port, start_registry
from tests.support.summaries import VERIFIER, VSA, image_blob_gets, write_key
from tests.support.waiting import wait_for

EVIDENCE_OFF = {rule: {"action": "off"} for rule in ("signature.missing", "provenance.missing", "sbom.missing")}


def test_pushed_image_is_attested_and_admitted_elsewhere_from_its_summary(ca: trustme.CA, ca_file: Path, tmp_path: Path) -> None:
    private, public = write_key(tmp_path / "ci.key", ec.generate_private_key(ec.SECP256R1()))
    port = free_port()
    registry = start_registry(
        tmp_path / "registry",
        extra_config={"notifications": notifications(f"https://127.0.0.1:{port}/registry/events", TOKEN)},
        env={"SSL_CERT_FILE": str(ca_file)},
    )
    proxy = LyingRegistryProxyDouble(registry.url)
    for directory in ("ci", "cluster"):
        (tmp_path / directory).mkdir()
    attesting = consuming = None
    try:
        ci = config_for(registry, events_token=TOKEN, rules=EVIDENCE_OFF, attest={"key": str(private), "verifier_id": VERIFIER})
        attesting = start_webhook(create_app(ci), ci, ca, tmp_path / "ci", port=port)
        pushed = ImageBuilder().layer({"etc/passwd": "app:x:1000:1000::/:/bin/sh\n"}).config(user="1000").push(registry, "events/attested:1")
        # the image's push, then gate's own pushes (the summary manifest, the referrers tag index):
        # those are judged too, but never attested, so attesting cannot feed itself
        wait_for(lambda: events_seen(attesting, "judged") + events_seen(attesting, "failed") >= 3, what="three push events judged")
        time.sleep(1.0)  # room for a fourth push, which a gate attesting its own summaries would make
        assert events_seen(attesting, "queued") == 3
        index = client_for(registry).get_manifest("events/attested", referrers_tag(pushed.digest))
        assert index is not None
        summaries = [m for m in json.loads(index[0])["manifests"] if m.get("annotations", {}).get("dev.sigstore.bundle.predicateType") == VSA]
        assert len(summaries) == 1

        cluster = config_for(proxy, rules=EVIDENCE_OFF, trust={"verifiers": [{"key": str(public), "id": VERIFIER}]})
        consuming = start_webhook(create_app(cluster), cluster, ca, tmp_path / "cluster")
        sent = review("Pod", containers(f"{proxy.host}/events/attested:1", securityContext={"runAsNonRoot": True}))
        response = consuming.review(sent).json()["response"]
        assert response["allowed"] is True, response
        assert image_blob_gets(proxy, pushed) == []
    finally:
        for server in (consuming, attesting):
            if server is not None:
                server.stop()
        proxy.stop()
        registry.stop()

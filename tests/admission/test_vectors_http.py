"""Every third-party AdmissionReview sample through the running webhook (TLS, real engine).

Offline, the public images these samples name cannot be fetched, so gate must fail closed on
each one it judges: a denial listing every judged image with ``[evaluation.error]``. What the
samples test beyond that is *which* images are judged and that every answer is well formed:

- connaisseur (index ``upstream_expectation``): null/uid-less reviews are HTTP 400; objects
  without a pod spec are denied; an UPDATE whose images did not change is admitted (upstream
  agrees for 28; for 29 upstream re-validates a Deployment marked for deletion, gate re-judges only
  changed images, so it admits); v1beta1 reviews are refused as sent and judged once re-labelled v1.
- kubewarden (index ``request_catalog``): DELETE admitted, everything else judged.
- gatekeeper-library (index ``cases``, plain Pods): every image of every container list judged.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import trustme

from gate.admission import create_app
from tests.admission import vectors
from tests.admission.webhook_server import WebhookServer, start_webhook
from tests.support.gate_config import config_for

CONNAISSEUR = vectors.index("connaisseur")["requests"]
KUBEWARDEN = vectors.index("kubewarden")["request_catalog"]


@pytest.fixture(scope="module")
def server(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebhookServer]:
    config = config_for(limits={"deadline_seconds": 0.3})
    running = start_webhook(create_app(config), config, ca, tmp_path_factory.mktemp("vectors-tls"))
    try:
        yield running
    finally:
        running.stop()


def denied_images(response: dict[str, Any]) -> set[str]:
    lines = response["status"]["message"].splitlines()[1:]
    assert all("[evaluation.error]" in line for line in lines), lines
    return {line[2:].split(" (", 1)[0] for line in lines}


def flat(images: dict[str, list[str]] | None) -> set[str]:
    return {image for listed in (images or {}).values() for image in listed}


@pytest.mark.parametrize("case", CONNAISSEUR, ids=vectors.case_id)
def test_connaisseur(server: WebhookServer, case: dict[str, Any]) -> None:
    document = vectors.load("connaisseur", case["file"])
    request = document.get("request") if isinstance(document, dict) else None
    if not isinstance(request, dict) or "uid" not in request:
        assert server.client.post("/validate", json=document).status_code == 400
        return
    if document["apiVersion"] != "admission.k8s.io/v1":
        assert server.client.post("/validate", json=document).status_code == 400
        document = vectors.as_v1_review(document)
    http = server.client.post("/validate", json=document)
    assert http.status_code == 200
    response = http.json()["response"]
    assert response["uid"] == request["uid"]
    to_judge = flat(case["images"]) - flat(case["old_images"]) if case["operation"] == "UPDATE" else flat(case["images"])
    if not case["images"]:
        assert response["allowed"] is False and response["status"]["message"].startswith("gate: ")
    elif not to_judge:
        assert response["allowed"] is True
    else:
        assert response["allowed"] is False and denied_images(response) == to_judge


@pytest.mark.parametrize("case", KUBEWARDEN, ids=vectors.case_id)
def test_kubewarden(server: WebhookServer, case: dict[str, Any]) -> None:
    request = vectors.load("kubewarden", case["file"])
    http = server.client.post("/validate", json=vectors.wrap_request(request))
    assert http.status_code == 200
    response = http.json()["response"]
    assert response["uid"] == request["uid"]
    if case["operation"] == "DELETE":
        assert response["allowed"] is True
    elif case["operation"] == "CREATE":
        assert response["allowed"] is False and denied_images(response)


GATEKEEPER_PODS = [case for case in vectors.index("gatekeeper-library")["cases"] if case["object_kind"] == "Pod"]


@pytest.mark.parametrize("case", GATEKEEPER_PODS, ids=vectors.case_id)
def test_gatekeeper_pods(server: WebhookServer, case: dict[str, Any]) -> None:
    """gator wraps plain objects as CREATE; every image of every list is judged (and, offline, denied)."""
    pod = vectors.load("gatekeeper-library", case["object"])
    sent = vectors.pod_review(pod, uid=f"gatekeeper-{case['case']}")
    http = server.client.post("/validate", json=sent)
    assert http.status_code == 200
    response = http.json()["response"]
    assert response["uid"] == sent["request"]["uid"] and response["allowed"] is False
    spec = pod["spec"]
    listed = {c["image"] for name in ("initContainers", "containers", "ephemeralContainers") for c in spec.get(name, [])}
    assert denied_images(response) == listed

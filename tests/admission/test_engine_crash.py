"""An engine that crashes on an image denies it under enforce, with a message, never an allow.

The webhook runs for real (HTTP on loopback, Debian's registry); the crash is a fault injected into
the real engine's ``check`` for one image, since no honest input makes it raise.
"""

from __future__ import annotations

from pathlib import Path

import httpx

from gate.admission import create_app
from gate.engine import Engine
from tests.admission.reviews import containers, review
from tests.admission.webhook_server import start_webhook
from tests.support.gate_config import config_for
from tests.support.images import ImageBuilder
from tests.support.registry_server import RegistryServer

QUIET = {rule: {"action": "off"} for rule in ("signature.missing", "provenance.missing", "provenance.unverified", "sbom.missing", "image.stale")}


def test_a_crash_in_the_engine_denies_that_image_and_judges_the_others(registry: RegistryServer, repo: str, tmp_path: Path) -> None:
    for name in ("fine", "crashing"):
        ImageBuilder().layer({"etc/passwd": "app:x:1000:1000::/:/bin/sh\n", f"app/{name}": name}).config(user="1000").push(registry, f"{repo}/{name}:1")
    fine, crashing = f"{registry.host}/{repo}/fine:1", f"{registry.host}/{repo}/crashing:1"
    config = config_for(registry, rules=QUIET)
    engine = Engine(config)
    real_check = engine.check

    async def check(reference: str, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        if reference == crashing:
            raise RuntimeError("a defect")
        return await real_check(reference, *args, **kwargs)  # type: ignore[arg-type]

    engine.check = check  # type: ignore[method-assign]
    server = start_webhook(create_app(config, engine=engine), config, None, tmp_path)
    try:
        answer = httpx.post(f"{server.url}/validate", json=review("Pod", containers(fine, crashing)), timeout=60).json()["response"]
    finally:
        server.stop()
    assert answer["allowed"] is False
    message = answer["status"]["message"]
    assert f"internal error evaluating {crashing}" in message and "[evaluation.error]" in message
    assert fine not in message, "the healthy image was judged and passed"

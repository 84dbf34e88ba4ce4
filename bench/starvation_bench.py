"""Admission under a flood against a host that never answers: do normal reviews keep their latency?

Run: ``.venv/bin/python bench/starvation_bench.py [--reviews 30] [--floods 4] [--flood-images 60]``.

Everything is real and local: Debian's registry on 127.0.0.1 holding fresh non-root images,
``gate serve`` in its own process over TLS, and a StallingHostDouble (accepts TCP connections and
never answers). Each normal review is a single-image Pod naming an image not judged before (a
cold evaluation: manifest, config, signatures, attestations; layer scan off), sent one after
another on one keep-alive connection.

1. baseline: ``--reviews`` normal reviews with nothing else running.
2. flooded: the same number of normal reviews (other fresh images) while ``--floods``
   connections keep sending Deployments of ``--flood-images`` distinct images on the stalling
   host (each answered with ``evaluation.error`` at the deadline, then sent again with new names).

Reported: p50 / max latency of each phase, the ratio flooded/baseline, how many normal reviews
got their real verdict (allowed) rather than a timeout, and how many flood answers came back.
The report is JSON on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import ssl
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import uvloop  # noqa: E402

from bench.webhook_bench import Connection, push_images, review_body, serving  # noqa: E402
from tests.support.registry_server import start_registry  # noqa: E402
from tests.support.stalling_host import StallingHostDouble  # noqa: E402

CLIENT_TIMEOUT = 30.0  # the API server's longest webhook timeoutSeconds


async def normal_reviews(port: int, context: ssl.SSLContext, images: list[str]) -> dict[str, Any]:
    latencies, allowed, unanswered = [], 0, 0
    connection: Connection | None = None
    for image in images:
        began = time.perf_counter()
        try:
            connection = connection or await asyncio.wait_for(Connection.open(port, context), CLIENT_TIMEOUT)
            status, body = await asyncio.wait_for(connection.post(review_body("Pod", [image])), CLIENT_TIMEOUT)
        except (TimeoutError, OSError):  # the API server would have given up long before: count it, reconnect
            unanswered += 1
            if connection is not None:
                connection.close()
            connection, status, body = None, 0, b""
        latencies.append(time.perf_counter() - began)
        allowed += status == 200 and json.loads(body)["response"]["allowed"] is True
    if connection is not None:
        connection.close()
    return {"reviews": len(images), "allowed": allowed, f"unanswered_in_{CLIENT_TIMEOUT:g}s": unanswered,
            "p50_ms": round(statistics.median(latencies) * 1000, 1), "max_ms": round(max(latencies) * 1000, 1)}


async def flood(port: int, context: ssl.SSLContext, host: str, name: str, images: int, stop: asyncio.Event) -> int:
    """Send flood reviews until ``stop``; return how many were answered."""
    connection = await Connection.open(port, context)
    answered, round_ = 0, 0
    while not stop.is_set():
        refs = [f"{host}/{name}-{round_}/app{n}:1" for n in range(images)]
        sending = asyncio.ensure_future(connection.post(review_body("Deployment", refs)))
        await asyncio.wait([sending, asyncio.ensure_future(stop.wait())], return_when=asyncio.FIRST_COMPLETED)
        if not sending.done():
            sending.cancel()
            break
        answered += sending.result()[0] == 200
        round_ += 1
    connection.close()
    return answered


async def flooded(port: int, context: ssl.SSLContext, host: str, images: list[str], floods: int, flood_images: int) -> dict[str, Any]:
    stop = asyncio.Event()
    flooding = [asyncio.ensure_future(flood(port, context, host, f"flood{n}", flood_images, stop)) for n in range(floods)]
    await asyncio.sleep(1.0)  # the floods hold the stalling host's connections before normal reviews start
    result = await normal_reviews(port, context, images)
    stop.set()
    result["flood_answers"] = sum(await asyncio.gather(*flooding))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reviews", type=int, default=30)
    parser.add_argument("--floods", type=int, default=4)
    parser.add_argument("--flood-images", type=int, default=60)
    args = parser.parse_args()
    uvloop.install()
    with tempfile.TemporaryDirectory(prefix="gate-bench-") as tmp:
        workdir = Path(tmp)
        registry = start_registry(workdir / "registry")
        stalling = StallingHostDouble()
        try:
            before = [f"{registry.host}/{ref}" for ref in push_images(registry, args.reviews, "base")]
            during = [f"{registry.host}/{ref}" for ref in push_images(registry, args.reviews, "flooded")]
            config = {"registries": {"insecure": [registry.host, stalling.host]}, "scan": {"layers": False},
                      "rules": {"signature.missing": {"action": "off"}, "provenance.missing": {"action": "off"},
                                "provenance.unverified": {"action": "off"}, "sbom.missing": {"action": "off"}}}
            with serving(workdir, config) as (gate, _):
                port, context = gate.port, gate.context
                report: dict[str, Any] = {"baseline": asyncio.run(normal_reviews(port, context, before))}
                report["flooded"] = asyncio.run(flooded(port, context, stalling.host, during, args.floods, args.flood_images))
                report["flooded"]["stalling_host_connections"] = stalling.accepted  # before shutdown cancels the floods
            report["p50_ratio"] = round(report["flooded"]["p50_ms"] / report["baseline"]["p50_ms"], 2)
            print(json.dumps(report, indent=2))
        finally:
            stalling.stop()
            registry.stop()

if __name__ == "__main__":
    main()

"""Registry requests per image for a cold admission, by discovery layout and kind, and how long it takes.

Run: ``.venv/bin/python bench/requests_bench.py [-v]`` (or ``python -m bench requests_bench``). Starts
Debian's registry on loopback, pushes small never-seen images of every layout gate discovers
evidence in (``tests/support/discovery_layouts.py``: a single manifest; cosign ``.sig``/``.att``
tags; an SBOM through the OCI referrers API and through the referrers tag schema; a two-platform
index with BuildKit attestation manifests), and checks them.

Requests are counted by the LyingRegistryProxyDouble in front of the registry (honest; for the
referrers-API layout it also serves that API, which registry 2.8 lacks), for a gate's first check
against the registry (``first``) and for a never-seen image once it runs (``running``: a registry
without the referrers API is not probed again). ``repeated`` counts requests for a URL already
asked in the same check. With ``-v`` every request of the first check is listed.

Latency is the wall time of a check of a never-seen image, median of ``ROUNDS``: ``fresh`` in a
new engine (its first connections opened inside the check), ``running`` in an engine that has
judged another image of the layout, as the webhook does, beside its process CPU time per check
(all threads: less sensitive than wall time to other work on the machine). Checks go straight to the registry,
except the referrers-API layout, whose API only the double serves (its latency includes the
double's forwarding). The floor is one manifest GET over loopback.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gate.config import Config  # noqa: E402
from gate.engine import Engine  # noqa: E402
from tests.registry.lying_proxy_double import LyingRegistryProxyDouble  # noqa: E402
from tests.support.discovery_layouts import KINDS, LAYOUTS, REFERRERS_API, push_layout, request_kind, requests_by_kind  # noqa: E402
from tests.support.gate_config import config_for  # noqa: E402
from tests.support.registry_server import RegistryServer, start_registry  # noqa: E402

ROUNDS = 7


async def _check(engine: Engine, reference: str) -> float:
    start = time.perf_counter()
    result = await engine.check(reference)
    elapsed = time.perf_counter() - start
    assert result.evaluated and result.digest, result
    return elapsed


def count_requests(config: Config, proxy: LyingRegistryProxyDouble, first: str, second: str) -> tuple[Counter[str], Counter[str], list[str]]:
    """Requests by kind of a fresh engine's first check and of its check of a second never-seen image."""

    async def run() -> tuple[Counter[str], Counter[str], list[str]]:
        async with Engine(config) as engine:
            start = len(proxy.seen)
            await _check(engine, first)
            middle = len(proxy.seen)
            await _check(engine, second)
            firsts = proxy.seen[start:middle]
            listed = [f"{seen.method} {seen.path}  ({request_kind(seen)})" for seen in firsts]
            return requests_by_kind(firsts), requests_by_kind(proxy.seen[middle:]), listed

    return asyncio.run(run())


def fresh_ms(config: Config, references: list[str]) -> float:
    """Median wall time of checking each reference in an engine of its own."""

    async def one(reference: str) -> float:
        async with Engine(config) as engine:
            return await _check(engine, reference)

    return statistics.median(asyncio.run(one(reference)) for reference in references) * 1000


def running_ms(config: Config, warm_up: str, references: list[str]) -> tuple[float, float]:
    """Median wall time of checking each reference in one engine that already judged ``warm_up``,
    and the mean process CPU time (every thread) per check."""

    async def run() -> tuple[list[float], float]:
        async with Engine(config) as engine:
            await _check(engine, warm_up)
            cpu = time.process_time()
            walls = [await _check(engine, reference) for reference in references]
            return walls, (time.process_time() - cpu) / len(references)

    walls, cpu = asyncio.run(run())
    return statistics.median(walls) * 1000, cpu * 1000


def manifest_get_ms(registry: RegistryServer, reference: str) -> float:
    """Median time of one manifest GET by tag over a kept-alive loopback connection."""
    repository, tag = reference.split("/", 1)[1].rsplit(":", 1)
    url = f"{registry.url}/v2/{repository}/manifests/{tag}"
    with httpx.Client(headers={"Accept": "application/vnd.oci.image.manifest.v1+json"}) as http:
        http.get(url)
        times = []
        for _ in range(ROUNDS):
            start = time.perf_counter()
            http.get(url)
            times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def _variants(registry: RegistryServer, layout: str, via: str) -> Iterator[str]:
    """Never-seen images of ``layout``, each pushed when asked for, named through host ``via``."""
    number = 0
    while True:
        number += 1
        yield push_layout(registry, layout, f"v{number}").replace(registry.host, via, 1)


def main() -> None:
    with tempfile.TemporaryDirectory() as workdir:
        registry = start_registry(Path(workdir))
        counting, with_api = LyingRegistryProxyDouble(registry.url), LyingRegistryProxyDouble(registry.url)
        with_api.serve_referrers_api()
        rows = []
        try:
            for layout in LAYOUTS:
                proxy = with_api if layout == REFERRERS_API else counting
                counted = _variants(registry, layout, proxy.host)
                first, running, listed = count_requests(config_for(proxy), proxy, next(counted), next(counted))
                if "-v" in sys.argv:
                    print(layout, *listed, sep="\n  ")
                direct = proxy if layout == REFERRERS_API else registry
                images = _variants(registry, layout, direct.host)
                fresh = fresh_ms(config_for(direct), [next(images) for _ in range(ROUNDS)])
                warm, cpu = running_ms(config_for(direct), next(images), [next(images) for _ in range(ROUNDS)])
                rows.append((layout, first, running, fresh, warm, cpu))
            floor = manifest_get_ms(registry, push_layout(registry, LAYOUTS[0], "floor"))
        finally:
            counting.stop()
            with_api.stop()
            registry.stop()
    kinds = [kind for kind in KINDS if any(first[kind] or running[kind] for _, first, running, *_ in rows)]
    header = " ".join(f"{kind:>{len(kind)}}" for kind in kinds)
    print(f"{'layout':31} {'first':>5} {'running':>7} {header} {'repeated':>8} {'fresh ms':>8} {'running ms':>10} {'cpu ms':>6}")
    for layout, first, running, fresh, warm, cpu in rows:
        total_first, total_running = (sum(c[k] for k in c if k != "repeated") for c in (first, running))
        by_kind = " ".join(f"{first[kind]:>{len(kind)}}" for kind in kinds)
        print(f"{layout:31} {total_first:5} {total_running:7} {by_kind} {first['repeated']:8} {fresh:8.1f} {warm:10.1f} {cpu:6.1f}")
    print(f"kinds are of the first check; floor: one manifest GET over loopback {floor:.1f} ms; cold target <= 100 ms")


if __name__ == "__main__":
    main()

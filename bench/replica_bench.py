"""Replica B's first look at an image replica A judged, through the shared cache, against a cold check.

Run: ``.venv/bin/python bench/replica_bench.py`` (or ``python -m bench replica_bench``). Starts
Debian's registry and redis-server on loopback, pushes ``IMAGES`` images over the same
``LAYERS`` random layers (distinct configs, so distinct digests), and two engines share the Redis
as two ``gate serve`` replicas would. In one run it measures:

* cold: replica A's first check of the first image (every layer fetched and scanned);
* replica B, shared hit: B (already connected) checks an image A has just judged: a tag lookup at
  the registry and one Redis read, no blob;
* replica B, local hit: B checks the same image again (in-process cache);
* replica B, facts hit: B checks the same image for another namespace (another verdict key): the
  image's facts from one Redis read, their attached evidence verified again by B, then the Rego.

Prints the medians and the ratio cold / shared hit.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gate.config import from_mapping  # noqa: E402
from gate.engine import Engine, WorkloadContext  # noqa: E402
from tests.support.images import ImageBuilder  # noqa: E402
from tests.support.redis_server import start_redis  # noqa: E402
from tests.support.registry_server import RegistryServer, start_registry  # noqa: E402

LAYERS = 4
LAYER_BYTES = 8 * 1024 * 1024
IMAGES = 7
PASSWD = "app:x:10001:10001::/home/app:/sbin/nologin\n"  # noqa: S105 - /etc/passwd content, not a password


def push_images(registry: RegistryServer) -> list[str]:
    """A small warm-up image, then ``IMAGES`` images sharing the same layers; returns their tag references."""
    ImageBuilder().layer({"etc/passwd": PASSWD}).config(user="10001").push(registry, "bench/replica-warm-up:1")
    files = [{"etc/passwd": PASSWD, f"data/{index}": os.urandom(LAYER_BYTES)} for index in range(LAYERS)]
    references = []
    for number in range(IMAGES):
        image = ImageBuilder()
        for layer in files:
            image.layer(layer)
        image.config(user="10001", labels={"build": str(number)}).push(registry, f"bench/replica-{number}:1")
        references.append(f"{registry.host}/bench/replica-{number}:1")
    return [f"{registry.host}/bench/replica-warm-up:1", *references]


async def measure(config_document: dict[str, object], references: list[str]) -> dict[str, object]:
    config = from_mapping(config_document)
    async with Engine(config) as a, Engine(config) as b:
        warm_up, first, *others = references
        await b.check(warm_up)  # B's connections to the registry and Redis are open, as on a serving replica
        began = time.perf_counter()
        cold = await a.check(first)
        cold_s = time.perf_counter() - began
        assert cold.evaluated, cold.violations
        shared, local, facts = [], [], []
        for reference in others:
            await a.check(reference)
            requests_before = b.client.request_count
            began = time.perf_counter()
            hit = await b.check(reference)
            shared.append(time.perf_counter() - began)
            assert hit.decision == cold.decision and b.client.request_count - requests_before <= 1  # the tag lookup only
            began = time.perf_counter()
            await b.check(reference)
            local.append(time.perf_counter() - began)
            requests_before = b.client.request_count
            began = time.perf_counter()
            elsewhere = await b.check(reference, WorkloadContext(namespace="elsewhere"))
            facts.append(time.perf_counter() - began)
            assert elsewhere.decision == cold.decision and b.client.request_count == requests_before  # the tag is cached: no request
        stats = b.stats()["caches"]
        hits, facts_hits = stats["shared_verdicts"].hits, stats["shared_facts"].hits
    medians = {"shared_s": statistics.median(shared), "local_s": statistics.median(local), "facts_s": statistics.median(facts)}
    return {"cold_s": cold_s, **medians, "hits": hits, "facts_hits": facts_hits}


def main() -> None:
    with tempfile.TemporaryDirectory() as workdir:
        registry = start_registry(Path(workdir) / "registry")
        redis = start_redis(Path(workdir) / "redis")
        try:
            references = push_images(registry)
            document = {"registries": {"insecure": [registry.host]}, "cache": {"url": redis.url}}
            result = asyncio.run(measure(document, references))
        finally:
            redis.stop()
            registry.stop()
    print(f"{LAYERS} layers x {LAYER_BYTES // (1024 * 1024)} MiB, {IMAGES - 1} images judged by A, then looked up by B")
    print(f"replica A cold check              {result['cold_s'] * 1000:9.1f} ms")
    print(f"replica B shared hit (median)     {result['shared_s'] * 1000:9.1f} ms   (shared verdict hits: {result['hits']})")
    print(f"replica B local hit (median)      {result['local_s'] * 1000:9.3f} ms")
    print(f"replica B facts hit (median)      {result['facts_s'] * 1000:9.1f} ms   (another namespace; shared facts hits: {result['facts_hits']})")
    print(f"ratio cold / replica-B shared hit {result['cold_s'] / result['shared_s']:9.0f}x")


if __name__ == "__main__":
    main()

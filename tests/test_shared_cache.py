"""The shared cache (``cache.url``) between replicas: two engines, as two ``gate serve`` replicas
would hold, with one real redis-server, and images behind a registry lying_proxy that counts requests.

The cache is an optimisation: it must save work between replicas, and when Redis is down,
frozen, or holds garbage, every check must still end with the verdict gate computes itself.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
from pathlib import Path
from typing import Any

import pytest

from gate.config import Config
from gate.engine import Engine
from gate.report import ImageResult
from tests.registry.lying_proxy_double import LyingRegistryProxyDouble
from tests.support.gate_config import config_for
from tests.support.images import ImageBuilder
from tests.support.redis_server import RedisServer, start_redis
from tests.support.registry_server import RegistryServer

PASSWD = "app:x:10001:10001::/home/app:/sbin/nologin\n"
RULES = {rule: {"action": "off"} for rule in ("signature.missing", "provenance.missing", "sbom.missing", "image.stale")}
LAYER_BYTES = 768 * 1024  # random, so the gzip layer is as large; paced below so scans overlap


def _config(lying_proxy: LyingRegistryProxyDouble, redis_server: RedisServer, **cache: Any) -> Config:
    return config_for(lying_proxy, rules=RULES, cache={"url": redis_server.url, "retry_seconds": 0.2, **cache})


def _push(registry: RegistryServer, proxy: LyingRegistryProxyDouble, repo: str, user: str = "10001", layers: int = 2) -> tuple[str, list[str]]:
    """An image with ``layers`` random layers; returns its reference through ``proxy`` and its layer digests."""
    image = ImageBuilder()
    for index in range(layers):
        image.layer({"etc/passwd": PASSWD, f"app/blob{index}": os.urandom(LAYER_BYTES)})
    pushed = image.config(user=user).push(registry, f"{repo}:1")
    return f"{proxy.host}/{repo}:1", [layer["digest"] for layer in pushed.manifest["layers"]]


def _layer_gets(lying_proxy: LyingRegistryProxyDouble, digests: list[str]) -> dict[str, int]:
    return {digest: sum(1 for seen in lying_proxy.seen if seen.method == "GET" and seen.path.endswith(f"/blobs/{digest}")) for digest in digests}


def _verdict(result: ImageResult) -> tuple[str, list[str]]:
    return result.decision, sorted(v.rule for v in result.violations)


def _judge(config: Config, ref: str) -> tuple[ImageResult, dict[str, int]]:
    """One check by a fresh replica; its verdict and its shared-cache fallbacks."""

    async def run() -> tuple[ImageResult, dict[str, int]]:
        async with Engine(config) as engine:
            return await engine.check(ref), engine.stats()["shared_fallbacks"]

    return asyncio.run(run())


def test_an_image_judged_by_replica_a_is_a_hit_on_replica_b(
    registry: RegistryServer, lying_proxy: LyingRegistryProxyDouble, redis_server: RedisServer, repo: str
) -> None:
    ref, layers = _push(registry, lying_proxy, repo)
    config = _config(lying_proxy, redis_server)

    async def run() -> tuple[ImageResult, ImageResult, Engine]:
        async with Engine(config) as a, Engine(config) as b:
            judged = await a.check(ref)
            assert _layer_gets(lying_proxy, layers) == dict.fromkeys(layers, 1)
            lying_proxy.seen.clear()
            return judged, await b.check(ref), b

    judged, hit, b = asyncio.run(run())
    assert judged.evaluated and _verdict(hit) == _verdict(judged) == ("allow", [])
    assert hit.evidence == judged.evidence
    assert not [seen.path for seen in lying_proxy.seen if "/blobs/" in seen.path], "replica B fetched no blob"
    assert b.stats()["caches"]["shared_verdicts"].hits == 1
    assert sum(b.stats()["shared_fallbacks"].values()) == 0


def test_two_replicas_asked_at_once_scan_each_layer_once_between_them(
    registry: RegistryServer, lying_proxy: LyingRegistryProxyDouble, redis_server: RedisServer, repo: str
) -> None:
    ref, layers = _push(registry, lying_proxy, repo)
    config = _config(lying_proxy, redis_server)
    lying_proxy.blob_bytes_per_second = 512 * 1024  # each layer streams for ~1.5 s

    async def run() -> tuple[list[ImageResult], int]:
        async with Engine(config) as a, Engine(config) as b:
            from_a = asyncio.ensure_future(a.check(ref))
            while not any(_layer_gets(lying_proxy, layers).values()):  # A is streaming a layer: B asks now
                await asyncio.sleep(0.01)
            results = await asyncio.gather(from_a, b.check(ref))
            return results, b.stats()["caches"]["shared_layers"].waits

    (first, second), waits = asyncio.run(run())
    assert _verdict(first) == _verdict(second) == ("allow", [])
    assert _layer_gets(lying_proxy, layers) == dict.fromkeys(layers, 1), "each layer fetched once across both replicas"
    assert waits >= 1, "B waited for A's scan instead of starting its own"


def test_stopping_redis_mid_run_loses_no_verdict_and_fails_no_check(
    registry: RegistryServer, lying_proxy: LyingRegistryProxyDouble, redis_server: RedisServer, repo: str
) -> None:
    first, first_layers = _push(registry, lying_proxy, f"{repo}-first")
    later, later_layers = _push(registry, lying_proxy, f"{repo}-later", user="")  # root: denied
    config = _config(lying_proxy, redis_server)
    lying_proxy.blob_bytes_per_second = 2 * 1024 * 1024

    async def run() -> None:
        async with Engine(config) as a, Engine(config) as b:
            running = asyncio.ensure_future(a.check(first))
            while not any(_layer_gets(lying_proxy, first_layers).values()):
                await asyncio.sleep(0.02)
            redis_server.kill()  # mid-scan: A's lock and its store fail
            judged = await running
            assert judged.evaluated and _verdict(judged) == ("allow", [])
            assert _verdict(await b.check(first)) == ("allow", [])  # B falls back to its own work
            assert b.stats()["shared_fallbacks"]["error"] >= 1
            before = len(lying_proxy.seen)
            assert _verdict(await a.check(first)) == ("allow", [])
            assert len(lying_proxy.seen) == before, "A's verdict survived in its own cache"

            redis_server.start()  # empty again; both replicas go back to it after cache.retry_seconds
            await asyncio.sleep(0.3)
            assert _verdict(await a.check(later)) == ("deny", ["user.root"])
            lying_proxy.seen.clear()
            assert _verdict(await b.check(later)) == ("deny", ["user.root"])
            assert _layer_gets(lying_proxy, later_layers) == dict.fromkeys(later_layers, 0), "shared again after the restart"

    asyncio.run(run())


def test_a_frozen_redis_costs_at_most_a_short_timeout(
    registry: RegistryServer, lying_proxy: LyingRegistryProxyDouble, redis_server: RedisServer, repo: str
) -> None:
    """SIGSTOP: Redis accepts connections and never answers, the worst kind of slow."""
    ref, _ = _push(registry, lying_proxy, repo, layers=1)
    config = _config(lying_proxy, redis_server, timeout_seconds=0.2, retry_seconds=60)
    assert redis_server.process is not None
    os.kill(redis_server.process.pid, signal.SIGSTOP)
    try:
        result, fallbacks = _judge(config, ref)
    finally:
        os.kill(redis_server.process.pid, signal.SIGCONT)
    assert result.evaluated and _verdict(result) == ("allow", [])
    assert fallbacks["error"] == 1, "one time-out, then Redis is left alone for cache.retry_seconds"
    assert fallbacks["down"] >= 2


def _flip(value: bytes) -> bytes:
    return value[:-2] + bytes([value[-2] ^ 0x20]) + value[-1:]


CORRUPTIONS = {
    "not-the-format": lambda value, other: b"\x80\x04garbage that is not gate's envelope",
    "truncated": lambda value, other: value[: len(value) // 2],
    "bit-flipped-body": lambda value, other: _flip(value),
    "another-keys-value": lambda value, other: other,
    "empty": lambda value, other: b"",
    "deny-rewritten-as-warn": lambda value, other: value.replace(b'"deny"', b'"warn"'),
    "stored-long-ago": lambda value, other: re.sub(rb'"stored":[0-9.e+]+', b'"stored":1', value, count=1),
}
UNTOUCHED_LAYERS = {"deny-rewritten-as-warn"}  # layer scans hold no "deny": they stay valid and are used


@pytest.mark.parametrize("corruption", sorted(CORRUPTIONS))
def test_corrupt_values_in_redis_are_ignored(
    registry: RegistryServer, lying_proxy: LyingRegistryProxyDouble, redis_server: RedisServer, repo: str, corruption: str
) -> None:
    ref, layers = _push(registry, lying_proxy, repo, user="")  # root: denied, so a corrupt "allow" would show
    other, _ = _push(registry, lying_proxy, f"{repo}-other")  # allowed: its values must not leak into the first's
    config = _config(lying_proxy, redis_server)
    _judge(config, other)
    _judge(config, ref)
    with redis_server.client() as client:
        keys = sorted(key for key in client.keys("gate:*") if not key.endswith(b":lock"))
        values = {key: client.get(key) for key in keys}
        donors = [value for key, value in values.items() if value is not None]
        for key in keys:
            client.set(key, CORRUPTIONS[corruption](values[key] or b"", next(v for v in donors if v != values[key])))
    lying_proxy.seen.clear()
    result, fallbacks = _judge(config, ref)
    assert result.evaluated and _verdict(result) == ("deny", ["user.root"])
    assert fallbacks["corrupt"] >= 1 or corruption == "empty"
    if corruption not in UNTOUCHED_LAYERS:
        assert _layer_gets(lying_proxy, layers) == dict.fromkeys(layers, 1), "B did the work itself"


def test_a_wrong_type_under_a_key_falls_back(
    registry: RegistryServer, lying_proxy: LyingRegistryProxyDouble, redis_server: RedisServer, repo: str
) -> None:
    """A list where a value belongs: Redis answers WRONGTYPE; gate works without the cache."""
    ref, _ = _push(registry, lying_proxy, repo, layers=1)
    config = _config(lying_proxy, redis_server)
    _judge(config, ref)
    with redis_server.client() as client:
        for key in client.keys("gate:*"):
            client.delete(key)
            client.rpush(key, b"x")
    result, fallbacks = _judge(config, ref)
    assert _verdict(result) == ("allow", []) and fallbacks["error"] >= 1


def test_replicas_with_another_policy_do_not_share(
    registry: RegistryServer, lying_proxy: LyingRegistryProxyDouble, redis_server: RedisServer, repo: str
) -> None:
    ref, _ = _push(registry, lying_proxy, repo, user="")
    strict = _config(lying_proxy, redis_server)
    lenient = config_for(lying_proxy, rules={**RULES, "user.root": {"action": "warn"}}, cache={"url": redis_server.url})

    async def run() -> tuple[ImageResult, ImageResult]:
        async with Engine(strict) as a, Engine(lenient) as b:
            return await a.check(ref), await b.check(ref)

    denied, warned = asyncio.run(run())
    assert denied.decision == "deny" and warned.decision == "allow"


def test_a_password_protected_redis_is_used_with_the_password_and_skipped_without_it(
    registry: RegistryServer, lying_proxy: LyingRegistryProxyDouble, repo: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ref, _ = _push(registry, lying_proxy, repo, layers=1)
    server = start_redis(tmp_path / "redis", password="a-password-from-a-secret")
    try:
        monkeypatch.setenv("GATE_CACHE_PASSWORD", "a-password-from-a-secret")
        with_password = _config(lying_proxy, server)
        monkeypatch.setenv("GATE_CACHE_PASSWORD", "wrong")
        wrong = _config(lying_proxy, server)
        judged, fallbacks = _judge(with_password, ref)
        assert _verdict(judged) == ("allow", []) and sum(fallbacks.values()) == 0
        with server.client() as client:
            assert client.keys("gate:*"), "stored with the password"
        refused, fallbacks = _judge(wrong, ref)
        assert _verdict(refused) == ("allow", []) and fallbacks["error"] >= 1
    finally:
        server.stop()

"""gate.cache: LRU + TTL bounds, negative entries, singleflight coalescing."""

from __future__ import annotations

import asyncio

import pytest

from gate.cache import LoadingCache, SingleFlight, TTLCache, approximate_size
from gate.errors import RegistryError


class Clock:
    """A hand-moved monotonic clock."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make(clock: Clock, **overrides: float) -> TTLCache[str, object]:
    settings = {"max_entries": 3, "max_bytes": 10_000, "ttl": 60.0, "negative_ttl": 5.0} | overrides
    return TTLCache(clock=clock, **settings)  # type: ignore[arg-type]


def test_hit_miss_and_expiry() -> None:
    clock = Clock()
    cache = make(clock)
    cache.put("a", 1)
    assert cache.get("a") == 1
    assert cache.get("b", "none") == "none"
    clock.now += 60.0
    assert cache.get("a") is None
    assert (cache.stats.hits, cache.stats.misses, cache.stats.expirations) == (1, 2, 1)
    assert len(cache) == 0 and cache.bytes == 0


def test_negative_entries_expire_sooner() -> None:
    clock = Clock()
    cache = make(clock)
    cache.put("bad", "error", negative=True)
    cache.put("good", "verdict")
    clock.now += 5.0
    assert "bad" not in cache
    assert cache.get("good") == "verdict"


def test_lru_eviction_by_entries_keeps_recently_used() -> None:
    cache = make(Clock())
    for key in "abc":
        cache.put(key, key)
    cache.get("a")
    cache.put("d", "d")
    assert "b" not in cache
    assert all(key in cache for key in "acd")
    assert cache.stats.evictions == 1


def test_eviction_by_bytes_and_oversized_values_not_stored() -> None:
    cache = make(Clock(), max_entries=100, max_bytes=1000)
    cache.put("a", "x", size=400)
    cache.put("b", "y", size=400)
    cache.put("c", "z", size=400)
    assert "a" not in cache and cache.bytes == 800
    cache.put("huge", "w", size=1001)
    assert "huge" not in cache and "b" in cache


def test_replacing_a_key_keeps_byte_count_right() -> None:
    cache = make(Clock())
    cache.put("a", "x", size=100)
    cache.put("a", "y", size=30)
    assert cache.bytes == 30 and cache.get("a") == "y"


def test_zero_ttl_disables_caching() -> None:
    cache = make(Clock(), ttl=0.0)
    cache.put("a", 1)
    assert "a" not in cache


def test_approximate_size_grows_with_nested_content() -> None:
    small = {"rule": "user.root", "details": {}}
    large = {"rule": "user.root", "details": {"paths": ["x" * 1000] * 10}}
    assert approximate_size(large) > approximate_size(small) + 10_000


def test_singleflight_shares_one_load_among_concurrent_callers() -> None:
    async def scenario() -> tuple[list[int], int]:
        flight: SingleFlight[str, int] = SingleFlight()
        calls = 0
        release = asyncio.Event()

        async def load() -> int:
            nonlocal calls
            calls += 1
            await release.wait()
            return 42

        waiters = [asyncio.create_task(flight.do("k", load)) for _ in range(50)]
        await asyncio.sleep(0)
        release.set()
        return await asyncio.gather(*waiters), calls

    results, calls = asyncio.run(scenario())
    assert results == [42] * 50 and calls == 1


def test_singleflight_load_survives_a_caller_that_gives_up() -> None:
    async def scenario() -> tuple[int, int]:
        cache: LoadingCache[str, int] = LoadingCache(TTLCache(max_entries=10, max_bytes=10_000, ttl=60))
        release = asyncio.Event()

        async def load() -> int:
            await release.wait()
            return 7

        with pytest.raises(TimeoutError):
            await asyncio.wait_for(cache.get_or_load("k", load), timeout=0.01)
        release.set()
        await asyncio.sleep(0.01)
        return await cache.get_or_load("k", load), cache.stats.loads

    value, loads = asyncio.run(scenario())
    assert value == 7 and loads == 1


def test_loading_cache_caches_errors_negatively_then_retries() -> None:
    clock = Clock()

    async def scenario() -> list[str]:
        cache: LoadingCache[str, str] = LoadingCache(
            TTLCache(max_entries=10, max_bytes=10_000, ttl=60, negative_ttl=5, clock=clock),
            negative_exceptions=(RegistryError,),
        )
        attempts = 0

        async def load() -> str:
            nonlocal attempts
            attempts += 1
            if attempts == 1:
                raise RegistryError("registry 127.0.0.1:1 refused the connection")
            return "ok"

        seen = []
        for _ in range(2):
            with pytest.raises(RegistryError):
                await cache.get_or_load("k", load)
            seen.append(f"attempts={attempts}")
        clock.now += 5.0
        seen.append(await cache.get_or_load("k", load))
        return seen

    assert asyncio.run(scenario()) == ["attempts=1", "attempts=1", "ok"]


def test_loading_cache_marks_negative_values() -> None:
    clock = Clock()

    async def scenario() -> int:
        cache: LoadingCache[str, str] = LoadingCache(
            TTLCache(max_entries=10, max_bytes=10_000, ttl=60, negative_ttl=5, clock=clock),
            is_negative=lambda value: value.startswith("error"),
        )
        loads = 0

        async def load() -> str:
            nonlocal loads
            loads += 1
            return "error: timed out"

        await cache.get_or_load("k", load)
        await cache.get_or_load("k", load)
        clock.now += 5.0
        await cache.get_or_load("k", load)
        return loads

    assert asyncio.run(scenario()) == 2


def test_get_live_counts_a_hit_but_never_a_miss() -> None:
    clock = Clock()
    cache = make(clock)
    cache.put("a", 1)
    assert cache.get_live("a") == 1 and cache.get_live("b") is None and cache.get_live("b", "none") == "none"
    clock.now += 60.0
    assert cache.get_live("a") is None and len(cache) == 0, "an expired entry is dropped"
    assert (cache.stats.hits, cache.stats.misses, cache.stats.expirations) == (1, 0, 1)

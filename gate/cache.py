"""Bounded in-memory caches and request coalescing for verdicts and tag resolutions.

A webhook replica must answer within the API server's deadline and must not hammer a registry
that is already failing, so three things live here:

- :class:`TTLCache`: least-recently-used eviction bounded by entry count *and* approximate bytes,
  every entry expiring after a TTL; entries marked negative (evaluation errors) get their own,
  shorter TTL so a broken registry is retried soon but not on every request.
- :class:`SingleFlight`: concurrent callers asking for the same key share one running load.
- :class:`LoadingCache`: the two together: a hit returns at once, a miss loads once for all
  waiters and stores the result (negative when ``is_negative(value)`` says so, or when the load
  raised one of ``negative_exceptions``, which is then re-raised to later callers until it expires).
  A miss may load through a second level (``gate.shared_cache``, shared by replicas) first.

Nothing here reads configuration; callers pass the limits (``config.limits.cache_*``). The clock
is injectable so tests can move time. Not thread-safe: use from one event loop.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, fields, is_dataclass
from typing import Any, Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

_MISSING: Any = object()
SecondLevel = Callable[[K, Callable[[], Awaitable[V]], Callable[[V], bool]], Awaitable[V]]
_SIZE_DEPTH = 8


def approximate_size(value: Any, _depth: int = 0) -> int:
    """Rough bytes held by ``value``: strings, bytes, containers and dataclasses, walked a few levels deep.

    Shallow ``sys.getsizeof`` undercounts nested results by orders of magnitude; an exact walk
    (``pympler``) costs more than the verdict it measures. This is within a small factor, which is
    what a byte budget needs.
    """
    if _depth > _SIZE_DEPTH:
        return 64
    if isinstance(value, (str, bytes, bytearray)):
        return sys.getsizeof(value)
    if isinstance(value, dict):
        return sys.getsizeof(value) + sum(
            approximate_size(k, _depth + 1) + approximate_size(v, _depth + 1) for k, v in value.items()
        )
    if isinstance(value, (list, tuple, set, frozenset)):
        return sys.getsizeof(value) + sum(approximate_size(item, _depth + 1) for item in value)
    if is_dataclass(value) and not isinstance(value, type):
        return 56 + sum(approximate_size(getattr(value, f.name), _depth + 1) for f in fields(value))
    return sys.getsizeof(value)


@dataclass
class CacheStats:
    """Counters a metrics endpoint can export."""

    hits: int = 0
    misses: int = 0
    loads: int = 0
    evictions: int = 0
    expirations: int = 0


@dataclass
class _Entry(Generic[V]):
    value: V
    expires: float
    size: int
    negative: bool


class TTLCache(Generic[K, V]):
    """LRU cache bounded by entries and approximate bytes, with per-entry expiry.

    Args:
        max_entries: most entries kept; the least recently used go first.
        max_bytes: budget for the sum of entry sizes (``size=`` on :meth:`put`, else estimated).
        ttl: seconds a positive entry lives; 0 disables caching of positive entries.
        negative_ttl: seconds a negative entry (an error) lives; 0 disables negative caching.
        clock: monotonic seconds; injectable for tests.
    """

    def __init__(
        self,
        *,
        max_entries: int,
        max_bytes: int,
        ttl: float,
        negative_ttl: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_entries <= 0 or max_bytes <= 0:
            raise ValueError("max_entries and max_bytes must be positive")
        if ttl < 0 or negative_ttl < 0:
            raise ValueError("ttl and negative_ttl must not be negative")
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.ttl = ttl
        self.negative_ttl = negative_ttl
        self.stats = CacheStats()
        self._clock = clock
        self._entries: OrderedDict[K, _Entry[V]] = OrderedDict()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return self._live(key) is not None  # type: ignore[arg-type]

    @property
    def bytes(self) -> int:
        """Approximate bytes held by the live and not-yet-purged entries."""
        return self._bytes

    def get(self, key: K, default: Any = None) -> V | Any:
        """The cached value, or ``default`` when absent or expired (counted as hit or miss)."""
        value = self.get_live(key, _MISSING)
        if value is _MISSING:
            self.stats.misses += 1
            return default
        return value

    def get_live(self, key: K, default: Any = None) -> V | Any:
        """The cached value (counted as a hit), or ``default`` when absent or expired, counted as
        no miss: for a caller that goes on to a path counting its own (one look-up where
        ``key in cache`` and ``get`` made two)."""
        entry = self._live(key)
        if entry is None:
            return default
        self.stats.hits += 1
        self._entries.move_to_end(key)
        return entry.value

    def put(self, key: K, value: V, *, size: int | None = None, negative: bool = False) -> None:
        """Store ``value``; evicts least-recently-used entries until both bounds hold.

        A value larger than the whole byte budget is not stored (it would evict everything).
        """
        lifetime = self.negative_ttl if negative else self.ttl
        self.discard(key)
        if lifetime <= 0:
            return
        size = approximate_size(value) if size is None else size
        if size > self.max_bytes:
            return
        self._entries[key] = _Entry(value, self._clock() + lifetime, size, negative)
        self._bytes += size
        while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
            _, evicted = self._entries.popitem(last=False)
            self._bytes -= evicted.size
            self.stats.evictions += 1

    def discard(self, key: K) -> None:
        """Forget ``key`` if present."""
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._bytes -= entry.size

    def discard_where(self, predicate: Callable[[K], bool]) -> int:
        """Forget every key ``predicate`` accepts; returns how many (a linear scan: for rare events)."""
        doomed = [key for key in self._entries if predicate(key)]
        for key in doomed:
            self.discard(key)
        return len(doomed)

    def _live(self, key: K) -> _Entry[V] | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.expires <= self._clock():
            self.discard(key)
            self.stats.expirations += 1
            return None
        return entry


class SingleFlight(Generic[K, V]):
    """Coalesce concurrent loads of one key into one running task.

    The shared task is shielded: a caller that gives up (its deadline passed, its request was
    cancelled) does not cancel the load for the others, and a load nobody waits for any more
    still finishes, so the next request finds its result cached.
    """

    def __init__(self) -> None:
        self._running: dict[K, asyncio.Future[V]] = {}

    async def do(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        """Await the running load for ``key``, starting ``load()`` if none is running.

        Raises:
            Whatever ``load()`` raised, to every caller that shared it.
        """
        return await asyncio.shield(self.start(key, load))

    def start(self, key: K, load: Callable[[], Awaitable[V]]) -> asyncio.Future[V]:
        """The running load for ``key``, started now if none is running.

        Await it through :func:`asyncio.shield` or :func:`asyncio.wait` (which never cancels), so
        that giving up does not cancel the load for the others.
        """
        task = self._running.get(key)
        if task is None:
            task = self._running[key] = asyncio.ensure_future(load())
            task.add_done_callback(lambda done: self._finished(key, done))
        return task

    async def cancel(self) -> None:
        """Cancel every running load and wait until they have stopped (at shutdown)."""
        running = list(self._running.values())
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)

    def _finished(self, key: K, task: asyncio.Future[V]) -> None:
        if self._running.get(key) is task:
            del self._running[key]
        if not task.cancelled():
            task.exception()  # mark retrieved: callers that gave up must not cause "never retrieved" noise


class _Raised:
    """A cached negative result that is an exception, re-raised on every hit until it expires."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


class LoadingCache(Generic[K, V]):
    """A :class:`TTLCache` filled through a :class:`SingleFlight`: each key loads once at a time.

    Args:
        cache: where results live.
        is_negative: marks a loaded value as an error (stored with the cache's ``negative_ttl``).
        negative_exceptions: exception types cached (negatively) and re-raised to later callers.
        size_of: bytes estimate of a value; defaults to :func:`approximate_size`.
        second_level: on a miss, ``second_level(key, load, keep)`` is awaited instead of ``load()``:
            it returns a value found elsewhere (the shared cache) or loads and stores it there
            when ``keep(value)`` (positive results only).
    """

    def __init__(
        self,
        cache: TTLCache[K, Any],
        *,
        is_negative: Callable[[V], bool] = lambda value: False,
        negative_exceptions: tuple[type[BaseException], ...] = (),
        size_of: Callable[[V], int] = approximate_size,
        second_level: SecondLevel[K, V] | None = None,
    ) -> None:
        self.cache = cache
        self.flight: SingleFlight[K, V] = SingleFlight()
        self._is_negative = is_negative
        self._negative_exceptions = negative_exceptions
        self._size_of = size_of
        self._second_level = second_level

    @property
    def stats(self) -> CacheStats:
        return self.cache.stats

    async def get_or_load(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        """The cached value for ``key``, else the result of one shared ``load()``.

        Raises:
            An exception from ``negative_exceptions`` that a recent load raised, or any error of
            the load this call shared.
        """
        found = self.cache.get(key, _MISSING)
        if found is _MISSING:
            return await self.flight.do(key, lambda: self._load_and_store(key, load))
        if isinstance(found, _Raised):
            raise found.error
        return found

    async def _load_and_store(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        self.cache.stats.loads += 1
        try:
            if self._second_level is None:
                value = await load()
            else:
                value = await self._second_level(key, load, lambda loaded: not self._is_negative(loaded))
        except self._negative_exceptions as exc:
            self.cache.put(key, _Raised(exc), size=256, negative=True)
            raise
        self.cache.put(key, value, size=self._size_of(value), negative=self._is_negative(value))
        return value

"""The second-level cache replicas share: a Redis or Valkey server (``cache.url``), through redis.asyncio.

What one replica learnt (a verdict, an image's facts, a layer's scan) is stored under the same
key the in-process caches use, in a namespace that changes with everything that changes a verdict
(gate and scanner versions, policy digest, trust keys, rules: the engine computes it), for the
same TTL. The in-process cache stays the first level; this one is asked only on its misses.

The shared cache is an optimisation and never a source of truth for safety:

- it never fails a request: every command has a short timeout (``cache.timeout_seconds``); after a
  failure Redis is left alone for ``cache.retry_seconds`` and gate does its own work meanwhile;
  each fallback is counted by reason (``error``, ``down``, ``corrupt``) for the metrics;
- it never changes a verdict by accident: values are JSON (never pickle) in an envelope naming the
  format version, kind, full key, store time and a SHA-256 of the body; anything that does not
  check out (truncated, bit-flipped, another key's value, expired, too large, wrong type) is
  ignored as a miss, and the caller's decoder validates the body's shape as well. Whoever can
  write to the Redis database can still forge well-formed values: give gate a database of its own,
  behind a password, as for any cache of security decisions (docs/scale.md).

:class:`SharedLevel` also keeps N replicas from doing the same expensive work at once (a layer
scan): the first takes a lock (a Redis key with a TTL, renewed while it works), the others wait
for its value, and take over if the lock lapses without one.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from gate.cache import CacheStats
from gate.config import CacheConfig
from gate.errors import GateError

if TYPE_CHECKING:  # redis is imported by a SharedCache: a gate without cache.url never loads it
    from redis.asyncio.lock import Lock

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
log = logging.getLogger(__name__)

FORMAT = b"gate-cache/1"
VALUE_BYTES = 64 * 1024 * 1024  # a larger value is refused unread past this (GETRANGE), as corrupt
LOCK_SECONDS = 10.0  # a crashed holder's lock lapses this soon; a live one renews it every third of it
POLL_SECONDS = 0.1  # how often a waiter looks for the holder's value
CLOCK_SKEW_SECONDS = 60.0  # replicas' clocks may disagree this much about when a value was stored


class _Unavailable:
    """Redis could not be asked (down, slow, refused): do the work locally."""


UNAVAILABLE = _Unavailable()
_MISSING: Any = object()


@dataclass
class SharedStats:
    """Fallbacks by reason, for the metrics endpoint (hits and misses are per :class:`SharedLevel`)."""

    fallbacks: dict[str, int] = field(default_factory=lambda: {"error": 0, "down": 0, "corrupt": 0})


class SharedCache:
    """One Redis/Valkey connection pool, with a circuit breaker and envelope checks.

    Args:
        config: the ``cache`` section (``url`` set).
        namespace: distinguishes configurations whose verdicts differ; part of every key.
        clock: wall-clock seconds (store times are compared across replicas).
    """

    def __init__(self, config: CacheConfig, namespace: str, *, clock: Callable[[], float] = time.time) -> None:
        if config.url is None:
            raise ValueError("SharedCache needs cache.url")
        import redis.asyncio as redis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        password = config.password.get_secret_value() if config.password else None
        self._redis = redis.Redis.from_url(
            config.url,
            password=password,
            socket_timeout=config.timeout_seconds,
            socket_connect_timeout=config.timeout_seconds,
            retry=Retry(NoBackoff(), 0),  # a failure falls back at once; the breaker decides when to try again
            health_check_interval=0,
        )
        self._timeout = config.timeout_seconds
        self._retry_seconds = config.retry_seconds
        self._prefix = f"gate:{namespace}:"
        self._clock = clock
        self._down_until = 0.0
        self.stats = SharedStats()

    async def close(self) -> None:
        await self._redis.aclose()

    def name(self, kind: str, key: str) -> str:
        """The Redis key for a cache key (its text hashed: any length, any characters)."""
        return f"{self._prefix}{kind}:{hashlib.sha256(key.encode()).hexdigest()}"

    async def get(self, kind: str, key: str) -> Any:
        """The stored JSON body for ``key``, ``_MISSING``, or ``UNAVAILABLE`` when Redis cannot be asked."""
        raw = await self._call(lambda: self._redis.getrange(self.name(kind, key), 0, VALUE_BYTES - 1))
        if raw is UNAVAILABLE or not raw:
            return raw if raw is UNAVAILABLE else _MISSING
        body = self._open(raw, kind, key)
        if body is _MISSING:
            self.fallback("corrupt")
        return body

    async def put(self, kind: str, key: str, body: Any, ttl: float) -> None:
        """Store ``body`` (JSON-able) for ``ttl`` seconds; a failure is counted, never raised."""
        data = json.dumps(body, separators=(",", ":"), allow_nan=False).encode()
        if len(data) >= VALUE_BYTES or ttl <= 0:
            return
        header = {"kind": kind, "key": key, "stored": self._clock(), "ttl": ttl, "sha256": hashlib.sha256(data).hexdigest()}
        value = FORMAT + b" " + json.dumps(header, separators=(",", ":")).encode() + b"\n" + data
        await self._call(lambda: self._redis.set(self.name(kind, key), value, px=max(int(ttl * 1000), 1)))

    async def try_lock(self, kind: str, key: str) -> Lock | None | _Unavailable:
        """The lock on ``key``'s work when we got it, None when another holds it, or ``UNAVAILABLE``."""
        lock = self._redis.lock(self.name(kind, key) + ":lock", timeout=LOCK_SECONDS, blocking=False, raise_on_release_error=False)
        acquired = await self._call(lock.acquire)
        if acquired is UNAVAILABLE:
            return UNAVAILABLE
        return lock if acquired else None

    async def lock_held(self, kind: str, key: str) -> bool | _Unavailable:
        """Whether anyone still holds the lock on ``key``'s work."""
        held = await self._call(lambda: self._redis.exists(self.name(kind, key) + ":lock"))
        return held if held is UNAVAILABLE else bool(held)

    async def renew(self, lock: Lock) -> None:
        """Keep ``lock`` while the work goes on (its TTL starts again)."""
        await self._call(lock.reacquire)

    async def release(self, lock: Lock) -> None:
        await self._call(lock.release)

    def fallback(self, reason: str) -> None:
        self.stats.fallbacks[reason] = self.stats.fallbacks.get(reason, 0) + 1

    async def _call(self, command: Callable[[], Awaitable[Any]]) -> Any:
        """Run one command within the timeout; on failure trip the breaker and return ``UNAVAILABLE``."""
        from redis.exceptions import RedisError

        if time.monotonic() < self._down_until:
            self.fallback("down")
            return UNAVAILABLE
        try:
            return await asyncio.wait_for(command(), self._timeout * 2)  # socket timeouts, plus a guard for the rest
        except (RedisError, OSError, TimeoutError) as exc:
            if self._down_until == 0.0 or time.monotonic() >= self._down_until:
                log.warning("the shared cache is unavailable (%s); working without it for %gs", type(exc).__name__, self._retry_seconds)
            self._down_until = time.monotonic() + self._retry_seconds
            self.fallback("error")
            return UNAVAILABLE

    def _open(self, raw: bytes, kind: str, key: str) -> Any:
        """The body of an envelope that checks out for ``kind`` and ``key``, else ``_MISSING``."""
        if len(raw) >= VALUE_BYTES:
            return _MISSING
        first, newline, data = raw.partition(b"\n")
        prefix, _, header_text = first.partition(b" ")
        if not newline or prefix != FORMAT:
            return _MISSING
        try:
            header = json.loads(header_text)
            age = self._clock() - float(header["stored"])
            fresh = -CLOCK_SKEW_SECONDS <= age <= float(header["ttl"])
            if not fresh or header["kind"] != kind or header["key"] != key:
                return _MISSING
            if header["sha256"] != hashlib.sha256(data).hexdigest():
                return _MISSING
            return json.loads(data)
        except (ValueError, KeyError, TypeError):
            return _MISSING


@dataclass
class SharedLevelStats(CacheStats):
    """Lookup counters, plus how often this replica waited for another one's work."""

    waits: int = 0


@dataclass(frozen=True)
class Codec(Generic[K, V]):
    """How one kind of value goes to and from JSON. ``decode`` raises ValueError, KeyError,
    TypeError or GateError on anything it does not accept, including a value for another key."""

    kind: str
    key: Callable[[K], str]
    encode: Callable[[V], Any]
    decode: Callable[[K, Any], V]


class SharedLevel(Generic[K, V]):
    """One kind of value in the shared cache, loaded through it: a hit skips the work, a miss does
    it and stores the result; with ``exclusive``, one replica at a time does the work for a key.

    Args:
        cache: the shared cache.
        codec: how values of this kind are keyed and serialised.
        ttl: seconds a stored value lives.
        exclusive: take a cross-replica lock around the work (for expensive work such as layer scans).
    """

    def __init__(self, cache: SharedCache, codec: Codec[K, V], *, ttl: float, exclusive: bool = False) -> None:
        self.cache = cache
        self.codec = codec
        self.ttl = ttl
        self.exclusive = exclusive
        self.stats = SharedLevelStats()

    async def load_through(self, key: K, load: Callable[[], Awaitable[V]], keep: Callable[[V], bool] = lambda value: True) -> V:
        """The shared value for ``key``, else ``await load()`` (stored when ``keep(value)``).

        Raises:
            Whatever ``load()`` raised; never an error of the shared cache.
        """
        from redis.asyncio.lock import Lock  # loaded already: the SharedCache this level uses imported redis

        text = self.codec.key(key)
        found = await self._get(key, text)
        if found is not _MISSING:
            return found
        if not self.exclusive:
            return await self._work(key, text, load, keep)
        while True:
            lock = await self.cache.try_lock(self.codec.kind, text)
            if lock is UNAVAILABLE:
                return await self._work(key, text, load, keep)
            if isinstance(lock, Lock):
                return await self._work_holding(lock, key, text, load, keep)
            found = await self._wait(key, text)
            if found is not _MISSING:
                return found

    async def _get(self, key: K, text: str) -> Any:
        return self._decode(key, await self.cache.get(self.codec.kind, text))

    def _decode(self, key: K, body: Any) -> Any:
        """The value in ``body``, or ``_MISSING`` (counted) when there is none or it does not decode."""
        if body is _MISSING or body is UNAVAILABLE:
            self.stats.misses += 1
            return _MISSING
        try:
            value = self.codec.decode(key, body)
        except (ValueError, KeyError, TypeError, GateError):
            self.cache.fallback("corrupt")
            self.stats.misses += 1
            return _MISSING
        self.stats.hits += 1
        return value

    async def _work(self, key: K, text: str, load: Callable[[], Awaitable[V]], keep: Callable[[V], bool]) -> V:
        self.stats.loads += 1
        value = await load()
        if keep(value):
            await self.cache.put(self.codec.kind, text, self.codec.encode(value), self.ttl)
        return value

    async def _work_holding(self, lock: Lock, key: K, text: str, load: Callable[[], Awaitable[V]], keep: Callable[[V], bool]) -> V:
        """Do the work under ``lock``, renewing it meanwhile; first look again, in case the previous holder just stored it."""
        renewing = asyncio.ensure_future(self._renew(lock))
        try:
            found = await self._get(key, text)
            return found if found is not _MISSING else await self._work(key, text, load, keep)
        finally:
            renewing.cancel()
            await asyncio.gather(renewing, return_exceptions=True)
            await self.cache.release(lock)

    async def _renew(self, lock: Lock) -> None:
        while True:
            await asyncio.sleep(LOCK_SECONDS / 3)
            await self.cache.renew(lock)

    async def _wait(self, key: K, text: str) -> Any:
        """Another replica is doing the work: its value once stored, or ``_MISSING`` when its lock
        lapsed without one (it failed or died) or Redis stopped answering."""
        self.stats.waits += 1
        while True:
            await asyncio.sleep(POLL_SECONDS)
            body = await self.cache.get(self.codec.kind, text)
            if body is not _MISSING:
                return self._decode(key, body)
            held = await self.cache.lock_held(self.codec.kind, text)
            if held is UNAVAILABLE or not held:
                return await self._get(key, text)

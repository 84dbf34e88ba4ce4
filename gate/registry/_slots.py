"""A bounded share of connections for each registry host, so one stalling host cannot starve the rest.

httpx's pool caps connections for the whole client: requests to a host that accepts and never
answers fill it, and every other registry then waits for a free connection. Here each host gets
its own ``limits.connections_per_host`` slots; a slot is held from sending a request until its
response is closed (streamed bodies included), and a request that cannot get a slot within
``limits.timeout_seconds`` fails like any other timeout. Slots of idle hosts are forgotten, so
the table holds only hosts with requests in flight.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass

import httpx


@dataclass
class _HostSlots:
    semaphore: asyncio.Semaphore
    users: int = 0


class HostSlots:
    """Per-host semaphores with a lifetime tied to the responses they admitted."""

    def __init__(self, per_host: int, wait_seconds: float):
        self.per_host = per_host
        self.wait_seconds = wait_seconds
        self._hosts: dict[str, _HostSlots] = {}

    def in_use(self, host: str) -> int:
        """Requests holding or awaiting a slot of ``host`` (for metrics and tests)."""
        slots = self._hosts.get(host)
        return slots.users if slots else 0

    async def acquire(self, host: str) -> Callable[[], None]:
        """Wait for a slot of ``host``; return the function that gives it back (call it once).

        Raises:
            TimeoutError: no slot came free within ``wait_seconds``.
        """
        slots = self._hosts.setdefault(host, _HostSlots(asyncio.Semaphore(self.per_host)))
        slots.users += 1
        try:
            # asyncio.timeout, not wait_for: cancelling inside acquire() hands a just-granted slot
            # back, where Python 3.11's wait_for could drop it and shrink the host's share for ever.
            async with asyncio.timeout(self.wait_seconds):
                await slots.semaphore.acquire()
        except BaseException:
            self._leave(host, slots)
            raise
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                slots.semaphore.release()
                self._leave(host, slots)

        return release

    def _leave(self, host: str, slots: _HostSlots) -> None:
        slots.users -= 1
        if slots.users == 0 and self._hosts.get(host) is slots:
            del self._hosts[host]


class ReleasingStream(httpx.AsyncByteStream):
    """A response body stream that gives its host slot back when the response is closed."""

    def __init__(self, stream: httpx.AsyncByteStream, release: Callable[[], None]):
        self._stream = stream
        self._release = release

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            self._release()


class ReleasingBlockingStream(httpx.SyncByteStream):
    """:class:`ReleasingStream` for a response read by blocking calls in a worker thread."""

    def __init__(self, stream: httpx.SyncByteStream, release: Callable[[], None]):
        self._stream = stream
        self._release = release

    def __iter__(self) -> Iterator[bytes]:
        yield from self._stream

    def close(self) -> None:
        try:
            self._stream.close()
        finally:
            self._release()

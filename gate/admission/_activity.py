"""How many admission reviews are in flight, so background work (the audit) can yield to them.

Admission has priority: the audit judges its next workload only when no review is being
answered, so its engine calls, Rego and layer scans never queue in front of a review.
"""

from __future__ import annotations

import asyncio


class AdmissionActivity:
    """A counter of reviews in flight with an awaitable "idle" state (one event loop)."""

    def __init__(self) -> None:
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def enter(self) -> None:
        self._in_flight += 1
        self._idle.clear()

    def leave(self) -> None:
        self._in_flight -= 1
        if self._in_flight <= 0:
            self._in_flight = 0
            self._idle.set()

    @property
    def in_flight(self) -> int:
        return self._in_flight

    async def idle(self) -> None:
        """Return once no review is in flight (at once when none is)."""
        while self._in_flight:
            await self._idle.wait()
            await asyncio.sleep(0)  # let a review that arrived in the same tick register first

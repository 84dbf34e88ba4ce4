"""Evaluations that outlive the request that asked for them: how many run at once, and how far each got.

An admission request must be answered within its deadline, but scanning a large image can take
minutes. So an evaluation runs detached from the request: the request is answered "in progress"
when its deadline comes, the evaluation goes on (bounded by ``limits.evaluation_seconds``) and its
verdict is cached for the API server's retry. :class:`EvaluationSlots` bounds how many gather and
scan at once (``limits.background_evaluations``); the rest wait in line, counted for the metrics.
:class:`EvaluationProgress` records what one evaluation has read, so the "in progress" answer can
say when to expect the verdict.
"""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field


@dataclass
class SlotStats:
    """Counters for the metrics endpoint."""

    running: int = 0
    queued: int = 0
    queued_total: int = 0  # evaluations that had to wait for a slot, ever


class EvaluationSlots:
    """At most ``size`` evaluations gather and scan at once; the rest wait first-come, first-served."""

    def __init__(self, size: int) -> None:
        self._semaphore = asyncio.Semaphore(size)
        self.stats = SlotStats()

    @asynccontextmanager
    async def slot(self, progress: "EvaluationProgress | None" = None) -> AsyncIterator[None]:
        """Hold one slot for the body; waiting for it is counted as queued (and shown in ``progress``)."""
        if self._semaphore.locked():
            self.stats.queued += 1
            self.stats.queued_total += 1
            if progress is not None:
                progress.queued = self.stats.queued
            try:
                await self._semaphore.acquire()
            finally:
                self.stats.queued -= 1
        else:
            await self._semaphore.acquire()
        if progress is not None:
            progress.begin()
        self.stats.running += 1
        try:
            yield
        finally:
            self.stats.running -= 1
            self._semaphore.release()


@dataclass
class EvaluationProgress:
    """What one evaluation has done so far; implements ``gate.engine.LayerProgress`` for its layers.

    ``queued`` is the position in line while it waits for a slot (0 once it runs or if it never
    waited); ``started`` is when it got its slot, or when it was created until then.
    """

    bound: float
    clock: Callable[[], float] = time.monotonic
    started: float = field(default=0.0)
    queued: int = 0
    total_bytes: int = 0
    _read: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.started = self.clock()

    def begin(self) -> None:
        """The evaluation got its slot: the bound starts counting now."""
        self.queued = 0
        self.started = self.clock()

    def layer(self, digest: str, size: int) -> Callable[[int], None]:
        """Register a layer of ``size`` compressed bytes; the callback takes bytes read so far."""
        if digest not in self._read:
            self._read[digest] = 0
            self.total_bytes += size

        def advance(read: int) -> None:
            self._read[digest] = read

        return advance

    @property
    def read_bytes(self) -> int:
        return sum(self._read.values())

    def expected_seconds(self) -> float:
        """Seconds until the verdict, estimated from the layer bytes read so far; never past the bound."""
        now = self.clock()
        if self.queued:
            return self.bound  # still in line: at least a whole evaluation away
        left = max(self.bound - (now - self.started), 0.0)
        read = self.read_bytes
        if read <= 0 or self.total_bytes <= 0:
            return left
        rate = read / max(now - self.started, 1e-3)
        return min(max(self.total_bytes - read, 0) / rate, left)

    def describe(self) -> str:
        """One line for the "in progress" answer: how far it got and when to expect a verdict."""
        now = self.clock()
        if self.queued:
            where = f"waiting for a free slot (position {self.queued})"
        elif self.total_bytes:
            where = f"{self.read_bytes / 1e6:.0f} of {self.total_bytes / 1e6:.0f} MB of layers read in {now - self.started:.0f}s"
        else:
            where = f"running for {now - self.started:.0f}s"
        return f"evaluation in progress: retry in about {max(self.expected_seconds(), 1.0):.0f}s for the verdict ({where})"


_current: contextvars.ContextVar[EvaluationProgress | None] = contextvars.ContextVar("gate_evaluation_progress", default=None)


def current_progress() -> EvaluationProgress | None:
    """The progress record of the evaluation this task belongs to (tasks and threads inherit it)."""
    return _current.get()


def track(progress: EvaluationProgress) -> None:
    """Make ``progress`` the current task's record; tasks it creates from now on report to it."""
    _current.set(progress)

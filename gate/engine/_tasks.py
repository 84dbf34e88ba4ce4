"""Running an evaluation's parts side by side, so that they fail as one.

``asyncio.gather`` leaves the other awaitables running when one fails; in an evaluation that
failure decides the verdict (it fails closed), so whatever the others still read is moot and is
cancelled instead of holding registry connections and worker threads.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

T = TypeVar("T")
A = TypeVar("A")
B = TypeVar("B")


async def all_or_none(*awaitables: Awaitable[T]) -> list[T]:
    """The results of ``awaitables``, run concurrently; when one raises (or this is cancelled),
    the others are cancelled and the error is raised."""
    tasks = [asyncio.ensure_future(awaitable) for awaitable in awaitables]
    try:
        return await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
            task.add_done_callback(_retrieved)
        raise


async def both(first: Awaitable[A], second: Awaitable[B]) -> tuple[A, B]:
    """:func:`all_or_none` of two awaitables of different types."""
    one, two = asyncio.ensure_future(first), asyncio.ensure_future(second)
    await all_or_none(one, two)
    return one.result(), two.result()


@asynccontextmanager
async def started(awaitable: Awaitable[T]) -> AsyncIterator[asyncio.Future[T]]:
    """``awaitable`` running as a task for the block (share it between parts through
    :func:`asyncio.shield`); cancelled when the block ends before it does."""
    task = asyncio.ensure_future(awaitable)
    task.add_done_callback(_retrieved)
    try:
        yield task
    finally:
        task.cancel()


def _retrieved(task: asyncio.Future[Any]) -> None:
    """Mark a task's error as seen: the caller already has the error that decided the verdict."""
    if not task.cancelled():
        task.exception()

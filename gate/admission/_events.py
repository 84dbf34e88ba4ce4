"""Registry push notifications: judge pushed manifests ahead of admission so admission hits the cache.

The envelope is the CNCF distribution notification format
(``application/vnd.docker.distribution.events.v1+json``: ``{"events": [{"action": "push",
"target": {"mediaType", "digest", "repository", "url", "tag"}, "request": {"host"}}]}``).
Only manifest pushes are judged; blob pushes and pulls are ignored. Work goes through a bounded
queue served by a few background tasks: when it is full, further references are dropped (and
counted), because warming is an optimisation and must never slow the registry or the webhook.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any, Awaitable, Callable
from urllib.parse import urlsplit

from gate.admission._json import loads_bounded
from gate.attest import Attester
from gate.engine import Engine, WorkloadContext
from gate.errors import GateError, RequestError

log = logging.getLogger("gate.admission")

MANIFEST_MEDIA_TYPES = frozenset(
    {
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    }
)
QUEUE_SIZE = 256
WORKERS = 2


class BadEnvelope(RequestError):
    """The body is not a notification envelope (HTTP 400)."""


@dataclass(frozen=True)
class Pushed:
    """A pushed manifest: the reference to judge (by tag when tagged, so the tag resolution is
    warmed too) and the same manifest by digest (what a verification summary is about; the
    registry notifies before it tags, so the tag may not resolve yet)."""

    reference: str
    by_digest: str | None


def pushed_images(body: bytes) -> tuple[list[Pushed], int]:
    """The manifests pushed, and how many events were ignored.

    A tagged push is judged as ``host/repo:tag@digest`` (the tag's new digest, which the engine's
    tag cache learns at once), else as ``host/repo@digest``. The host is the
    one the pusher used (``target.url``, else ``request.host``).

    Raises:
        BadEnvelope: not JSON, or no ``events`` list.
    """
    try:
        envelope = loads_bounded(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadEnvelope(f"body is not valid JSON: {exc}") from exc
    events = envelope.get("events") if isinstance(envelope, dict) else None
    if not isinstance(events, list):
        raise BadEnvelope("expected a notification envelope with an `events` list")
    found = [_pushed(event) for event in events]
    return list(dict.fromkeys(pushed for pushed in found if pushed is not None)), found.count(None)


def _pushed(event: Any) -> Pushed | None:
    if not isinstance(event, dict) or event.get("action") != "push":
        return None
    target, request = _object(event.get("target")), _object(event.get("request"))
    if target.get("mediaType") not in MANIFEST_MEDIA_TYPES:
        return None
    repository, digest, tag = target.get("repository"), target.get("digest"), target.get("tag")
    host = urlsplit(target["url"]).netloc if isinstance(target.get("url"), str) else request.get("host")
    if not all(isinstance(value, str) and value for value in (host, repository)):
        return None
    by_digest = f"{host}/{repository}@{digest}" if isinstance(digest, str) and digest.startswith("sha256:") else None
    if isinstance(tag, str) and tag:
        return Pushed(f"{host}/{repository}:{tag}@{digest}" if by_digest else f"{host}/{repository}:{tag}", by_digest)
    return Pushed(by_digest, by_digest) if by_digest else None


def _object(value: Any) -> dict[str, Any]:
    """A JSON object, or an empty one in place of anything else."""
    return value if isinstance(value, dict) else {}


async def judge_pushed(engine: Engine, attester: Attester | None, pushed: Pushed) -> None:
    """Judge a pushed image (no workload context); with ``attest.key``, attach a verification
    summary of its verdict by digest too, so gates that list this one in ``trust.verifiers`` need
    not scan it (judging by digest again costs little: the facts are cached by digest).

    A summary that cannot be made (the image could not be evaluated, the push was refused) is
    logged, never raised: the verdict is still cached for admission.
    """
    result = await engine.check(pushed.reference, WorkloadContext())  # bounded by limits.evaluation_seconds
    if attester is None or pushed.by_digest is None:
        return
    if pushed.by_digest != pushed.reference:
        result = await engine.check(pushed.by_digest, WorkloadContext())
    try:
        attested = await attester.attest(engine, result, dt.datetime.now(dt.timezone.utc))
    except GateError as exc:
        log.info("no verification summary attached to a pushed manifest: %s", exc.diagnostics(), extra={"image": pushed.by_digest})
        return
    log.info("verification summary attached", extra={"image": pushed.by_digest, "summary": attested.referrer_digest, "result": attested.verification_result})


class Prefetcher:
    """A bounded queue of references and the background tasks that judge them.

    Args:
        judge: evaluates one pushed manifest (the engine's check with an empty workload context).
        on_outcome: called with ``queued``, ``dropped``, ``judged`` or ``failed`` for metrics.
    """

    def __init__(
        self,
        judge: Callable[[Pushed], Awaitable[Any]],
        *,
        on_outcome: Callable[[str], None] = lambda outcome: None,
        queue_size: int = QUEUE_SIZE,
        workers: int = WORKERS,
    ) -> None:
        self._judge = judge
        self._on_outcome = on_outcome
        self._queue: asyncio.Queue[Pushed] = asyncio.Queue(maxsize=queue_size)
        self._workers_wanted = workers
        self._workers: list[asyncio.Task[None]] = []

    def submit(self, images: list[Pushed]) -> tuple[int, int]:
        """Queue pushed manifests without waiting; returns (queued, dropped)."""
        queued = 0
        for pushed in images:
            try:
                self._queue.put_nowait(pushed)
            except asyncio.QueueFull:
                self._on_outcome("dropped")
                continue
            queued += 1
            self._on_outcome("queued")
        return queued, len(images) - queued

    def start(self) -> None:
        self._workers = [asyncio.create_task(self._work(), name=f"gate-prefetch-{n}") for n in range(self._workers_wanted)]

    async def join(self) -> None:
        """Wait until everything queued so far was judged (tests, shutdown drains)."""
        await self._queue.join()

    async def stop(self) -> None:
        for worker in self._workers:
            worker.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._workers = []

    async def _work(self) -> None:
        while True:
            pushed = await self._queue.get()
            try:
                await self._judge(pushed)
                self._on_outcome("judged")
            except Exception:  # noqa: BLE001 - a warming failure must not kill the worker
                log.exception("pre-evaluating a pushed image failed", extra={"image": pushed.reference})
                self._on_outcome("failed")
            finally:
                self._queue.task_done()

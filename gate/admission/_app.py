"""The FastAPI application: routes, body caps, lifespan, and the one place HTTP errors are chosen.

Client mistakes get a 4xx with a JSON ``{"error": ...}``; nothing a client sends produces a 500.
Bodies are read with a cap before parsing. The app owns the engine's lifetime: it starts it at
startup and closes it (and the background prefetchers) at shutdown, after uvicorn has drained
in-flight requests.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.routing import Route

from gate.admission._answer import Answer, refuse
from gate.admission._asgi import AdmissionApp, Disconnected, Handler, Receive, Scope, Send, TooLarge, error_body, read_body, respond
from gate.admission._events import BadEnvelope, Prefetcher, judge_pushed, pushed_images
from gate.admission._logging import log_line
from gate.admission._metrics import Metrics
from gate.admission._pins import Pin, mutation_response
from gate.admission._pull_secrets import PullSecretReader
from gate.admission._review import AdmissionRequest, BadReview, parse_review
from gate.admission._reviewer import Reviewer
from gate.admission._workloads import is_workload
from gate.attest import Attester
from gate.config import Config
from gate.engine import Engine

if TYPE_CHECKING:
    from gate.audit import AuditProcess

log = logging.getLogger("gate.admission")

REVIEW_BYTES = 8 * 1024 * 1024  # object + oldObject of the largest (1.5 MiB) Kubernetes objects, with room
EVENTS_BYTES = 1024 * 1024


@dataclass
class GateState:
    """What the routes share; on ``app.state.gate`` so tests can reach the engine and queues."""

    config: Config
    engine: Engine
    metrics: Metrics
    reviewer: Reviewer
    prefetcher: Prefetcher
    serving: bool = False
    audit: "AuditProcess | None" = None


def create_app(
    config: Config,
    engine: Engine | None = None,
    *,
    pull_secrets: PullSecretReader | None = None,
    audit: "AuditProcess | None" = None,
    after_first_evaluation: Callable[[], None] | None = None,
) -> FastAPI:
    """The webhook app. ``engine`` defaults to ``Engine(config)``; the app starts and closes it,
    and the background ``audit`` (docs/audit.md) when given, whose results it exports as metrics.
    ``after_first_evaluation`` runs once, after the first review that evaluated its images (:class:`Reviewer`)."""
    engine = engine if engine is not None else Engine(config)
    metrics = Metrics(lambda: engine.stats() | {"registry_requests": engine.client.status_counts}, engine.policy_digest)
    attester = Attester.from_config(config) if config.attest.key is not None else None
    prefetcher = Prefetcher(
        lambda pushed: judge_pushed(engine, attester, pushed),  # bounded by limits.evaluation_seconds
        on_outcome=lambda outcome: metrics.count(metrics.events, outcome),
    )
    state = GateState(config, engine, metrics, Reviewer(config, engine, metrics, pull_secrets, after_first_evaluation=after_first_evaluation), prefetcher, audit=audit)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await engine.start()
        prefetcher.start()
        if audit is not None:
            audit.start(metrics.record_audit)
        state.serving = True
        try:
            yield
        finally:
            state.serving = False
            if audit is not None:
                await asyncio.to_thread(audit.stop)
            await prefetcher.stop()
            await engine.close()
            if pull_secrets is not None:
                pull_secrets.close()

    app = AdmissionApp(title="gate admission webhook", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.gate = state
    _routes(app, state)
    return app


def _routes(app: AdmissionApp, state: GateState) -> None:
    async def validate(scope: Scope, receive: Receive, send: Send) -> None:
        started = time.monotonic()
        review = await _read_review(state, scope, receive, send)
        if review is None:
            return
        answer = await _answer(state, review, started + state.config.limits.deadline_seconds)
        elapsed = time.monotonic() - started
        state.metrics.latency.observe(elapsed)
        # The kind comes from the client: only kinds gate judges become label values, so a
        # client cannot create metric series at will.
        state.metrics.count(state.metrics.reviews, answer.decision, review.kind if is_workload(review.kind) else "other")
        _log_review(review, answer, elapsed)
        await respond(send, answer.to_bytes(review.uid))

    async def mutate(scope: Scope, receive: Receive, send: Send) -> None:
        review = await _read_review(state, scope, receive, send)
        if review is None:
            return
        pins = await _pins(state, review, time.monotonic() + state.config.limits.deadline_seconds)
        log_line(
            log, logging.INFO if pins else logging.DEBUG, "admission review pinned",
            [{"uid": review.uid, "namespace": review.namespace, "pinned": {pin.image: pin.pinned for pin in pins}}], mutate.__code__,
        )
        await respond(send, mutation_response(review.uid, pins))

    _hot_route(app, "/validate", validate)
    _hot_route(app, "/mutate", mutate)

    @app.post("/registry/events")
    async def registry_events(request: Request) -> Response:
        token = state.config.events_token
        if token is None:
            return _error(503, "registry events are disabled: set GATE_EVENTS_TOKEN or `events_token` in the config")
        presented = request.headers.get("authorization", "").encode()
        if not hmac.compare_digest(presented, f"Bearer {token.get_secret_value()}".encode()):
            state.metrics.count(state.metrics.events, "unauthorized")
            return _error(401, "missing or wrong bearer token")
        try:
            images, ignored = pushed_images(await read_body(request.scope, request.receive, EVENTS_BYTES))
        except (BadEnvelope, TooLarge) as exc:
            return _error(413 if isinstance(exc, TooLarge) else 400, str(exc))
        for pushed in images:
            state.engine.tag_moved(pushed.reference)  # never answer from the tag's old digest
        queued, dropped = state.prefetcher.submit(images)
        return JSONResponse({"queued": queued, "dropped": dropped, "ignored": ignored})

    @app.get("/healthz")
    async def healthz() -> Response:
        return PlainTextResponse("ok")

    @app.get("/readyz")
    async def readyz() -> Response:
        return PlainTextResponse("ready" if state.serving else "not ready", status_code=200 if state.serving else 503)

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(state.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)


async def _answer(state: GateState, review: AdmissionRequest, deadline: float) -> Answer:
    try:
        return await state.reviewer.review(review, deadline)
    except Exception:  # noqa: BLE001 - a bug must still produce an AdmissionReview, never a 500
        log.exception("reviewing failed", extra={"uid": review.uid})
        return refuse("internal error while reviewing; see the gate logs", state.config.mode if not state.config.fail_open else "warn")


def _hot_route(app: AdmissionApp, path: str, handler: Handler) -> None:
    """``POST path`` answered by ``handler`` ahead of FastAPI's stack, and routed in it too (so
    other methods get FastAPI's 405)."""
    app.hot[path] = handler
    app.router.routes.append(Route(path, _AsgiEndpoint(handler), methods=["POST"]))


@dataclass(frozen=True)
class _AsgiEndpoint:
    """A plain ASGI handler as a Starlette route endpoint (an instance, so not wrapped as a request function)."""

    handler: Handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.handler(scope, receive, send)


async def _read_review(state: GateState, scope: Scope, receive: Receive, send: Send) -> AdmissionRequest | None:
    """The parsed AdmissionReview; None once the 4xx for a body that is not one is sent (or the
    client left before sending it all)."""
    try:
        return parse_review(await read_body(scope, receive, REVIEW_BYTES))
    except Disconnected:
        return None
    except (BadReview, TooLarge) as exc:
        state.metrics.bad_requests.inc()
        await respond(send, error_body(str(exc)), 413 if isinstance(exc, TooLarge) else 400)
        return None


async def _pins(state: GateState, review: AdmissionRequest, deadline: float) -> list[Pin]:
    try:
        return await state.reviewer.pins(review, deadline)
    except Exception:  # noqa: BLE001 - no patch is the safe answer: the validating webhook still judges
        log.exception("pinning failed", extra={"uid": review.uid})
        return []


def _error(status: int, message: str) -> Response:
    return Response(error_body(message), status_code=status, media_type="application/json")


def _log_review(review: AdmissionRequest, answer: Answer, elapsed: float) -> None:
    """One line per review: allowed ones at info, the rest at warning (``--log-level warning``
    keeps only what was or would have been denied)."""
    request = {
        "uid": review.uid,
        "namespace": review.namespace,
        "workload": f"{review.kind}/{review.name or _generate_name(review.object)}",
        "operation": review.operation,
        "dry_run": review.dry_run,
    }
    level = logging.INFO if answer.decision == "allow" else logging.WARNING
    parts = (request, answer.logged, {"duration_ms": round(elapsed * 1000, 2)})
    log_line(log, level, "admission review answered", parts, _log_review.__code__)


def _generate_name(obj: object) -> str:
    """``api-7d4b9c-*`` for an object named by the API server later (``metadata.generateName``)."""
    metadata = obj.get("metadata") if isinstance(obj, dict) else None
    prefix = metadata.get("generateName") if isinstance(metadata, dict) else None
    return f"{prefix}*" if isinstance(prefix, str) and prefix else "(unnamed)"

"""Judge one admission request: which images, under which context, against what deadline.

DELETE and CONNECT change no image and are admitted. An UPDATE re-judges only the images whose
reference or security context changed (a scale or a label edit costs nothing). Distinct images
are judged concurrently; each verdict is due before the request's deadline, and an image not
judged by then gets an ``evaluation.error`` (deny, or warn when ``fail_open``), so the API server
always gets an answer before its own ``timeoutSeconds``. Identical checks of concurrent requests
(same image, context and credentials: a ReplicaSet creating fifty Pods) share one evaluation in
the engine, which keeps running when a waiter's deadline passes so a retry finds it done.

One request cannot crowd out the others: it may name at most ``limits.images_per_review``
distinct images, and at most ``limits.evaluations_per_review`` of them are judged at once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from gate.admission._answer import Answer, Judged, RememberedAnswers, allow, refuse
from gate.admission._judging import CheckUses, context_of, judge_uses, judge_workload, namespace_exemption
from gate.admission._metrics import Metrics
from gate.admission._pins import Pin, is_tag_only, pins_for
from gate.admission._pull_secrets import PullSecretReader
from gate.admission._review import AdmissionRequest
from gate.admission._workloads import ImageUse, WorkloadError, changed_uses, image_uses, is_workload, pod_spec
from gate.config import Config
from gate.engine import Engine, WorkloadContext, is_pending
from gate.errors import GateError
from gate.report import ImageResult

log = logging.getLogger("gate.admission")


class Reviewer:
    """Answers AdmissionRequests with the engine; holds no state besides its collaborators and
    the answers to recent verdicts.

    ``after_first_evaluation`` runs once, when a review's images were first evaluated to the end
    (not taken from the cache, none still in progress): ``gate serve`` freezes what the first
    evaluation imported lazily then.
    """

    def __init__(
        self,
        config: Config,
        engine: Engine,
        metrics: Metrics,
        pull_secrets: PullSecretReader | None = None,
        *,
        after_first_evaluation: Callable[[], None] | None = None,
    ):
        self.config = config
        self.engine = engine
        self.metrics = metrics
        self.pull_secrets = pull_secrets
        self._answers = RememberedAnswers()
        self._after_first_evaluation = after_first_evaluation

    async def review(self, request: AdmissionRequest, deadline: float) -> Answer:
        """The answer for one request; never raises for anything the request contains."""
        mode = self.config.mode
        if request.operation in ("DELETE", "CONNECT"):
            return allow(f"{request.operation} is not judged")
        if not is_workload(request.kind):
            return refuse(
                f"kind {request.kind or '(none)'} carries no pod spec; "
                "the webhook's rules should select only Pods and kinds with a pod template",
                mode,
            )
        most = self.config.limits.images_per_review
        try:
            verdict = await judge_workload(
                request.object or {}, request.namespace, self.engine, kind=request.kind,
                old=request.old_object if request.operation == "UPDATE" else None,
                check=self._checker(request.kind, request.object, request.namespace, deadline), max_images=most,
            )
        except WorkloadError as exc:
            return refuse(f"cannot read the {request.kind}: {exc}", mode, code=400)
        if verdict.too_many is not None:
            return refuse(
                f"the {request.kind} names {verdict.too_many} distinct images; gate judges at most {most} per request "
                "(limits.images_per_review)",
                mode,
            )
        if verdict.exempt is not None:
            return allow(f"namespace {request.namespace} is exempt: {verdict.exempt}")
        if not verdict.judged:
            return allow("no new or changed images" if request.operation == "UPDATE" else "no images")
        self.metrics.record_images([item.result for item in verdict.judged])
        return self._answers.judge(list(verdict.judged), mode, request.uid)

    async def judge_uses(self, uses: list[ImageUse], kind: str, obj: Any, namespace: str | None, deadline: float) -> list[Judged]:
        """One verdict per distinct use of the workload ``obj`` (read with its pull secrets), due by
        ``deadline``; for callers that chose the uses themselves (the audit pins them to the digests
        running). The webhook's own reviews go through :func:`judge_workload`."""
        check = self._checker(kind, obj, namespace, deadline)
        return list(await judge_uses(uses, namespace, self.engine, check=check))

    def namespace_exemption(self, namespace: str | None) -> str | None:
        """The reason of a valid exemption covering every rule for every image of ``namespace``."""
        return namespace_exemption(self.engine, namespace, dt.datetime.now(dt.timezone.utc).date())

    def _checker(self, kind: str, obj: Any, namespace: str | None, deadline: float) -> CheckUses:
        """The shared judging path's ``check``: with the pod's pull secrets, due by ``deadline``."""

        async def check(uses: Sequence[ImageUse], contexts: Sequence[WorkloadContext]) -> list[ImageResult]:
            secrets = await self._pull_secrets(kind, obj, namespace, deadline)
            with_secrets = list(contexts) if secrets is None else [replace(c, pull_secrets=secrets) for c in contexts]
            return await self._judge_all(list(uses), with_secrets, deadline)

        return check

    async def pins(self, request: AdmissionRequest, deadline: float) -> list[Pin]:
        """Pins for every image of the request written by tag (``POST /mutate``); never raises.

        Nothing is pinned where nothing is judged (DELETE/CONNECT, kinds without a pod spec,
        unreadable objects, exempt namespaces, images an UPDATE did not change) or when
        ``mutate`` is off. Each image is judged as the validating webhook would judge the tag (the
        same shared call), which resolves it through the engine's tag cache, so the validation of
        the pinned object that follows finds the digest and the facts cached. The answer waits for
        the judgements until ``deadline``; a tag resolved by then is pinned even if its judgement
        runs on. A tag that cannot be resolved is not pinned: the validating webhook then decides
        (fail closed).
        """
        if not self.config.mutate or request.operation not in ("CREATE", "UPDATE") or not is_workload(request.kind):
            return []
        if self.namespace_exemption(request.namespace) is not None:
            return []
        try:
            uses = [use for use in self._uses(request) if is_tag_only(use.image)]
        except WorkloadError:
            return []  # the validating webhook refuses it and says why
        if not uses:
            return []
        secrets = await self._pull_secrets(request.kind, request.object, request.namespace, deadline)
        firsts = {use.image: use for use in uses}
        if len(firsts) > self.config.limits.images_per_review:
            return []  # the validating webhook refuses the request and says why
        contexts = {image: replace(context_of(use, request.namespace), pull_secrets=secrets) for image, use in firsts.items()}
        await self._judge_all(list(firsts.values()), list(contexts.values()), deadline)
        found = {image: self.engine.resolved_digest(image, contexts[image]) for image in firsts}
        digests = {image: digest for image, digest in found.items() if digest is not None}
        self.metrics.pinned.inc(len(digests))
        return pins_for(uses, digests)

    def _uses(self, request: AdmissionRequest) -> list[ImageUse]:
        if request.operation == "UPDATE":
            return changed_uses(request.kind, request.object, request.old_object)
        return image_uses(request.kind, request.object)

    async def _pull_secrets(self, kind: str, obj: Any, namespace: str | None, deadline: float) -> bytes | None:
        """Registry credentials of the pod; none (and a log line) when the API is slow or absent."""
        if self.pull_secrets is None:
            return None
        _, spec = pod_spec(kind, obj)
        budget = max((deadline - time.monotonic()) / 2, 0.0)
        try:
            return await asyncio.wait_for(self.pull_secrets.docker_config(namespace, spec), budget)
        except TimeoutError:
            log.warning("no image pull secrets: the Kubernetes API did not answer in time", extra={"namespace": namespace})
            return None

    async def _judge_all(self, uses: list[ImageUse], contexts: list[WorkloadContext], deadline: float) -> list[ImageResult]:
        """One verdict per use, all due by ``deadline`` (an "in progress" one for an image still being
        judged); at most ``limits.evaluations_per_review`` are judged at once.

        Verdicts already cached are taken as they are, without a task per image: a warm review
        then never yields to the event loop between reading its body and answering it.
        """
        cached = [self.engine.cached_verdict(use.image, context) for use, context in zip(uses, contexts, strict=True)]
        known = [result for result in cached if result is not None]
        if len(known) == len(uses):
            return known  # a cached verdict is never an "in progress" one
        share = asyncio.Semaphore(self.config.limits.evaluations_per_review)

        async def check(use: ImageUse, context: WorkloadContext, found: ImageResult | None) -> ImageResult:
            if found is not None:
                return found
            async with share:
                return await self.engine.check(use.image, context, deadline=deadline)

        pending = (check(use, context, found) for use, context, found in zip(uses, contexts, cached, strict=True))
        results = await asyncio.gather(*pending, return_exceptions=True)
        outcomes = [self._outcome(use, result) for use, result in zip(uses, results, strict=True)]
        if self._after_first_evaluation is not None and not any(is_pending(outcome) for outcome in outcomes):
            first, self._after_first_evaluation = self._after_first_evaluation, None
            first()
        return outcomes

    def _outcome(self, use: ImageUse, result: ImageResult | BaseException) -> ImageResult:
        """The verdict (counted as a time-out when it is still in progress), or an ``evaluation.error``
        when the engine failed."""
        if isinstance(result, BaseException):
            log.error("the engine failed on an image", exc_info=result, extra={"image": use.image})
            return self.engine.error_result(use.image, GateError(f"internal error evaluating {use.image}", remedy="see the gate logs"))
        if is_pending(result):
            self.metrics.timeouts.inc()
        return result

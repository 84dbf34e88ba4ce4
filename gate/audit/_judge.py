"""Judge running workloads through the webhook's own reviewer, so an audit verdict is the verdict
admission would give the same Pod today (namespace exemptions, securityContext, pull secrets),
for the image digest each started container runs (``_running``).

Each distinct Pod of a workload is judged as a ``Pod`` object; images shared between workloads
are fetched and scanned once (the engine caches facts by digest and coalesces concurrent loads).
Workloads are judged concurrently up to a bound, each after an optional ``pace`` that lets the
background audit keep a rate and yield to admission.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from gate.admission._answer import Judged, judge
from gate.admission._reviewer import Reviewer
from gate.admission._workloads import ImageUse, WorkloadError, image_uses
from gate.audit._inventory import Workload, WorkloadRef
from gate.audit._running import pinned_to_running
from gate.report import ImageResult

AUDIT_DEADLINE_SECONDS = 300.0  # nobody waits on an audit verdict: give slow registries and big layers time
Pace = Callable[[int], Awaitable[None]]


@dataclass(frozen=True)
class WorkloadVerdict:
    """What the audit found for one workload: its judged images, or why none were judged."""

    workload: WorkloadRef
    pods: int
    judged: tuple[Judged, ...] = ()
    exempt: str | None = None  # the namespace exemption that waives every rule
    problem: str | None = None  # the Pod spec could not be read (the webhook would refuse it)

    @property
    def results(self) -> tuple[ImageResult, ...]:
        return tuple(item.result for item in self.judged)

    def decision(self, mode: str) -> str:
        """The webhook's decision for these Pods: ``allow``, ``deny``, or ``warn:deny``/``audit:deny`` by mode."""
        if self.exempt is not None:
            return "allow"
        if self.problem is not None:
            return "deny" if mode == "enforce" else f"{mode}:deny"
        return judge(list(self.judged), mode).decision


async def judge_workload(reviewer: Reviewer, workload: Workload, pace: Pace | None = None) -> WorkloadVerdict:
    """The verdict on every distinct Pod of ``workload``, merged per image use."""
    ref = workload.ref
    exempt = reviewer.namespace_exemption(ref.namespace)
    if exempt is not None:
        return WorkloadVerdict(ref, workload.pod_count, exempt=exempt)
    merged: dict[tuple[object, ...], Judged] = {}
    for pod in workload.pods:
        try:
            uses = pinned_to_running(image_uses("Pod", pod), pod)
        except WorkloadError as exc:
            name = (pod.get("metadata") or {}).get("name")
            return WorkloadVerdict(ref, workload.pod_count, problem=f"cannot read Pod {ref.namespace}/{name}: {exc}")
        if pace is not None:
            await pace(len(uses))
        deadline = time.monotonic() + max(AUDIT_DEADLINE_SECONDS, reviewer.config.limits.deadline_seconds)
        for item in await reviewer.judge_uses(uses, "Pod", pod, ref.namespace, deadline):
            key = item.uses[0].key
            known = merged.get(key)
            merged[key] = item if known is None else Judged(_distinct(known.uses + item.uses), known.result)
    return WorkloadVerdict(ref, workload.pod_count, tuple(merged.values()))


async def judge_workloads(
    reviewer: Reviewer,
    workloads: list[Workload],
    *,
    concurrency: int,
    pace: Pace | None = None,
    on_done: Callable[[WorkloadVerdict], None] | None = None,
) -> list[WorkloadVerdict]:
    """Every workload's verdict, in order, with at most ``concurrency`` judged at once."""
    limit = asyncio.Semaphore(max(concurrency, 1))

    async def one(workload: Workload) -> WorkloadVerdict:
        async with limit:
            verdict = await judge_workload(reviewer, workload, pace)
        if on_done is not None:
            on_done(verdict)
        return verdict

    return list(await asyncio.gather(*(one(workload) for workload in workloads)))


def _distinct(uses: tuple[ImageUse, ...]) -> tuple[ImageUse, ...]:
    """The places an image is used, each once (several Pods of a workload name the same container)."""
    return tuple(dict.fromkeys(uses))

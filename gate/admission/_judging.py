"""Judge one workload object as admission does; shared by the webhook and ``gate check manifest``.

    verdict = await judge_workload(deployment, "shop", engine)
    for item in verdict.judged: item.result.decision, [use.location for use in item.uses]

The steps are the webhook's: a namespace exempt from every rule admits without judging; every
image use of the pod spec is found with its effective security context; identical uses (same
image and context) are judged once; each image is checked with the namespace and the context
``user.root`` reads, so namespace overrides and exemptions apply. The webhook passes its own
``check`` to add pull secrets, deadlines and request coalescing; the CLI uses the plain engine.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gate.admission._answer import Judged
from gate.admission._workloads import ImageUse, WorkloadError, changed_uses, image_uses, is_workload
from gate.config import Config, Exemption
from gate.engine import Engine, WorkloadContext
from gate.report import ImageResult

CheckUses = Callable[[Sequence[ImageUse], Sequence[WorkloadContext]], Awaitable[list[ImageResult]]]
"""Judges distinct image uses, one result per use, in order."""


@dataclass(frozen=True)
class WorkloadVerdict:
    """Every distinct image of a workload with its verdict, or the reason it was not judged."""

    judged: tuple[Judged, ...] = ()
    exempt: str | None = None  # reason of the namespace exemption that admitted it unjudged
    too_many: int | None = None  # distinct images over ``max_images``: refused, none judged


async def judge_workload(
    workload: Mapping[str, Any],
    namespace: str | None,
    engine: Engine,
    *,
    kind: str | None = None,
    old: Mapping[str, Any] | None = None,
    check: CheckUses | None = None,
    deadline: float | None = None,
    max_images: int | None = None,
) -> WorkloadVerdict:
    """Judge every image of ``workload`` (a Pod or any kind with a pod template) in ``namespace``.

    Args:
        kind: the object's kind when ``workload`` does not carry it (API list items).
        old: the object before an UPDATE: only image uses new or changed since it are judged.
        check: how distinct uses are judged; default: ``engine.check`` per use, concurrently.
        deadline: ``time.monotonic()`` value by which the default ``check`` must have a verdict.
        max_images: more distinct images than this are not judged at all (``too_many``).

    Raises:
        WorkloadError: the kind carries no pod spec, or the object cannot be read (the field is named).
    """
    kind = kind or str(workload.get("kind") or "")
    if not is_workload(kind):
        raise WorkloadError(f"kind {kind or '(none)'} carries no pod spec")
    exemption = namespace_exemption(engine, namespace)
    if exemption is not None:
        return WorkloadVerdict(exempt=exemption)
    found = image_uses(kind, workload) if old is None else changed_uses(kind, workload, old)
    distinct = len({use.key for use in found})
    if max_images is not None and distinct > max_images:
        return WorkloadVerdict(too_many=distinct)
    return WorkloadVerdict(await judge_uses(found, namespace, engine, check=check, deadline=deadline))


async def judge_uses(
    uses: Sequence[ImageUse], namespace: str | None, engine: Engine, *, check: CheckUses | None = None, deadline: float | None = None
) -> tuple[Judged, ...]:
    """Judge image uses the caller chose (no namespace exemption here): identical uses (same image
    and context) once, each with every place it is used."""
    groups: dict[tuple[Any, ...], list[ImageUse]] = {}
    for use in uses:
        groups.setdefault(use.key, []).append(use)
    if not groups:
        return ()
    firsts = [group[0] for group in groups.values()]
    contexts = [context_of(use, namespace) for use in firsts]
    results = await (check or _engine_check(engine, deadline))(firsts, contexts)
    return tuple(Judged(tuple(group), result) for group, result in zip(groups.values(), results, strict=True))


def context_of(use: ImageUse, namespace: str | None) -> WorkloadContext:
    """How one image use will run, as the policies see it (read from a pod spec: ``from_workload``);
    no credentials: the caller adds its own."""
    return _workload_context(namespace, use.run_as_non_root, use.run_as_user)


@functools.lru_cache(maxsize=1024, typed=True)
def _workload_context(namespace: str | None, run_as_non_root: bool | None, run_as_user: int | None) -> WorkloadContext:
    """One shared (frozen) context per combination: reviews name the same few over and over."""
    return WorkloadContext(namespace=namespace, run_as_non_root=run_as_non_root, run_as_user=run_as_user, from_workload=True)


def namespace_exemption(engine: Engine, namespace: str | None, today: dt.date | None = None) -> str | None:
    """The reason of a valid exemption covering every rule for every image of ``namespace``;
    ``today`` defaults to the UTC date, read only when an expiring exemption names the namespace
    (every review asks, and few namespaces are exempt)."""
    for exemption in whole_namespace_exemptions(engine.config, engine.policy.rule_ids):
        if namespace not in exemption.namespaces:
            continue
        if exemption.expires is None:
            return exemption.reason
        today = today or dt.datetime.now(dt.timezone.utc).date()
        if today <= exemption.expires:
            return exemption.reason
    return None


def whole_namespace_exemptions(config: Config, rule_ids: frozenset[str] | None) -> tuple[Exemption, ...]:
    """Exemptions that waive every rule the loaded policies can report (``rule_ids``: the
    evaluator's, site rules included) for every image of their namespaces.

    With ``rule_ids`` unknown (an OPA server holding policies gate never saw), no namespace is
    skipped: a rule the exemption does not name must still apply.
    """
    if rule_ids is None:
        return ()
    return tuple(e for e in config.exemptions if e.namespaces and not e.images and rule_ids <= set(e.rules))


def _engine_check(engine: Engine, deadline: float | None) -> CheckUses:
    async def check(uses: Sequence[ImageUse], contexts: Sequence[WorkloadContext]) -> list[ImageResult]:
        checks = (engine.check(use.image, context, deadline=deadline) for use, context in zip(uses, contexts, strict=True))
        return list(await asyncio.gather(*checks))

    return check

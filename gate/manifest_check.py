"""``gate check manifest``: judge each workload of a manifest through the webhook's own path.

Every object whose kind carries a pod spec goes through :func:`gate.admission.judge_workload`, as a
CREATE of it would in its namespace; other kinds (Services, ConfigMaps) are not judged by the
webhook either. Each distinct image of a workload becomes one result naming the workload and the
places it is used.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

from gate.admission import WorkloadError, image_uses, is_workload, judge_workload
from gate.engine import Engine
from gate.errors import ConfigError
from gate.manifests import ManifestObject
from gate.report import ImageResult, Violation
from gate.rules import EVALUATION_ERROR


async def judge_manifests(objects: list[ManifestObject], namespace: str, engine: Engine, deadline: float | None) -> list[ImageResult]:
    """One result per distinct image of every workload in ``objects``, in manifest order.

    Raises:
        ConfigError: no object in the manifests is a workload (nothing would be judged).
    """
    workloads = [item for item in objects if is_workload(item.kind)]
    if not workloads:
        raise ConfigError("no workload in the manifests (a Pod or a kind with a pod template)", remedy="check the files given")
    judged = await asyncio.gather(*(_judge(item, item.namespace(namespace), engine, deadline) for item in workloads))
    return [result for results in judged for result in results]


async def _judge(item: ManifestObject, namespace: str, engine: Engine, deadline: float | None) -> list[ImageResult]:
    where = {"source": item.source, "kind": item.kind, "namespace": namespace, "name": item.name}
    try:
        verdict = await judge_workload(item.object, namespace, engine, deadline=deadline)
    except WorkloadError as exc:
        problem = Violation(EVALUATION_ERROR, "deny", f"cannot read the {item.kind}: {exc}")
        return [ImageResult(reference=f"{item.kind}/{item.name}", digest=None, violations=(problem,), workload=where | {"locations": []})]
    if verdict.exempt is not None:
        return [
            ImageResult(reference=use.image, digest=None, workload=where | {"locations": [use.location], "exempt": verdict.exempt})
            for use in image_uses(item.kind, item.object)
        ]
    return [replace(judged.result, workload=where | {"locations": [use.location for use in judged.uses]}) for judged in verdict.judged]

"""Build AdmissionReviews for any workload kind (the API server's shape, admission.k8s.io/v1)."""

from __future__ import annotations

import uuid
from typing import Any

from gate.admission._workloads import POD_SPEC_PATHS

GROUPS = {"Pod": "", "PodTemplate": "", "ReplicationController": "", "Job": "batch", "CronJob": "batch"}


def workload(kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    """An object of ``kind`` holding ``spec`` at its pod-spec path."""
    obj: dict[str, Any] = {"kind": kind, "apiVersion": "v1", "metadata": {"name": "w", "namespace": "shop"}}
    node = obj
    path = POD_SPEC_PATHS[kind]
    for part in path[:-1]:
        node = node.setdefault(part, {})
    node[path[-1]] = spec
    return obj


def review(
    kind: str,
    spec: dict[str, Any] | None,
    *,
    operation: str = "CREATE",
    old_spec: dict[str, Any] | None = None,
    namespace: str = "shop",
    dry_run: bool = False,
    sub_resource: str | None = None,
) -> dict[str, Any]:
    request: dict[str, Any] = {
        "uid": str(uuid.uuid4()),
        "kind": {"group": GROUPS.get(kind, "apps"), "version": "v1", "kind": kind},
        "resource": {"group": GROUPS.get(kind, "apps"), "version": "v1", "resource": kind.lower() + "s"},
        "namespace": namespace,
        "name": "w",
        "operation": operation,
        "userInfo": {"username": "tester"},
        "object": workload(kind, spec) if spec is not None else None,
        "oldObject": workload(kind, old_spec) if old_spec is not None else None,
        "dryRun": dry_run,
    }
    if sub_resource:
        request["subResource"] = sub_resource
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}


def containers(*images: str, **pod_fields: Any) -> dict[str, Any]:
    """A pod spec running ``images`` as containers c0, c1, ..."""
    return {"containers": [{"name": f"c{n}", "image": image} for n, image in enumerate(images)], **pod_fields}

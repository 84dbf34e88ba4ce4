"""Which workload owns each running Pod: Deployment (through its ReplicaSet), CronJob (through its
Job), StatefulSet, DaemonSet, any other controller, or the bare Pod.

Pure functions over the JSON the API server lists. A Pod's controller is the ownerReference with
``controller: true`` (the one the garbage collector and ``kubectl`` follow). Pods of one workload
that run the same images (by the digest they run) under the same context and pull credentials
are judged once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gate.admission._workloads import WorkloadError, image_uses
from gate.audit._running import pinned_to_running

FINISHED_PHASES = frozenset({"Succeeded", "Failed"})


@dataclass(frozen=True)
class WorkloadRef:
    """The object a result is about: what a PolicyReport result's ``resources`` entry names."""

    namespace: str
    kind: str
    name: str
    api_version: str
    uid: str = ""

    def to_resource(self) -> dict[str, str]:
        ref = {"apiVersion": self.api_version, "kind": self.kind, "name": self.name, "namespace": self.namespace}
        return ref | ({"uid": self.uid} if self.uid else {})

    @property
    def label(self) -> str:
        return f"{self.namespace}/{self.kind}/{self.name}"


@dataclass
class Workload:
    """A workload and the distinct Pods (by images, context and credentials) that stand for it."""

    ref: WorkloadRef
    pods: list[dict[str, Any]] = field(default_factory=list)
    pod_count: int = 0
    _seen: set[Any] = field(default_factory=set, repr=False)

    def add(self, pod: dict[str, Any]) -> None:
        self.pod_count += 1
        signature = _pod_signature(pod)
        if signature not in self._seen:
            self._seen.add(signature)
            self.pods.append(pod)


def group_pods(pods: list[dict[str, Any]], replicasets: list[dict[str, Any]], jobs: list[dict[str, Any]]) -> list[Workload]:
    """Running (and pending) Pods grouped by owning workload, sorted by namespace, kind and name."""
    owners = {**_controllers(replicasets, "ReplicaSet"), **_controllers(jobs, "Job")}
    workloads: dict[tuple[str, str, str], Workload] = {}
    for pod in pods:
        if not isinstance(pod, dict) or (pod.get("status") or {}).get("phase") in FINISHED_PHASES:
            continue
        ref = _owner_of(pod, owners)
        workloads.setdefault((ref.namespace, ref.kind, ref.name), Workload(ref)).add(pod)
    return [workloads[key] for key in sorted(workloads)]


def _meta(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, dict) else {}


def _controller(meta: dict[str, Any]) -> dict[str, Any] | None:
    for owner in meta.get("ownerReferences") or []:
        if isinstance(owner, dict) and owner.get("controller") is True and owner.get("kind") and owner.get("name"):
            return owner
    return None


def _controllers(objects: list[dict[str, Any]], kind: str) -> dict[tuple[str, str, str], WorkloadRef]:
    """(namespace, kind, name) of each ReplicaSet or Job -> its own controller (Deployment, CronJob)."""
    found: dict[tuple[str, str, str], WorkloadRef] = {}
    for obj in objects:
        meta = _meta(obj)
        owner = _controller(meta)
        if owner is not None:
            namespace = str(meta.get("namespace") or "")
            found[(namespace, kind, str(meta.get("name")))] = _ref(namespace, owner)
    return found


def _owner_of(pod: dict[str, Any], owners: dict[tuple[str, str, str], WorkloadRef]) -> WorkloadRef:
    meta = _meta(pod)
    namespace = str(meta.get("namespace") or "")
    owner = _controller(meta)
    if owner is None:
        return WorkloadRef(namespace, "Pod", str(meta.get("name") or ""), "v1", str(meta.get("uid") or ""))
    direct = _ref(namespace, owner)
    return owners.get((namespace, direct.kind, direct.name), direct)


def _ref(namespace: str, owner: dict[str, Any]) -> WorkloadRef:
    return WorkloadRef(namespace, str(owner["kind"]), str(owner["name"]), str(owner.get("apiVersion") or ""), str(owner.get("uid") or ""))


def _pod_signature(pod: dict[str, Any]) -> Any:
    """What a verdict on the Pod depends on: its image uses, pull secrets and service account."""
    spec = pod.get("spec")
    spec = spec if isinstance(spec, dict) else {}
    uses: tuple[Any, ...]
    try:
        uses = tuple(use.key for use in pinned_to_running(image_uses("Pod", pod), pod))
    except WorkloadError as exc:
        uses = ("unreadable", str(exc))
    secrets = tuple(str(ref.get("name")) for ref in spec.get("imagePullSecrets") or [] if isinstance(ref, dict))
    return (uses, secrets, spec.get("serviceAccountName") or spec.get("serviceAccount"))

"""ClusterBuilder: seeds the KubernetesApiDouble with workloads shaped like a real cluster's.

Each controller kind writes what its controller would: a Deployment owns a ReplicaSet (named
``<deployment>-<hash>``) that owns the Pods, a CronJob owns a Job that owns its Pod, StatefulSets
and DaemonSets own their Pods directly; every ownerReference carries ``controller: true``,
``apiVersion`` and the owner's uid.
"""

from __future__ import annotations

import copy
from typing import Any

from tests.admission.kubernetes_api_double import KubernetesApiDouble

API_VERSIONS = {"Deployment": "apps/v1", "ReplicaSet": "apps/v1", "StatefulSet": "apps/v1", "DaemonSet": "apps/v1", "Job": "batch/v1", "CronJob": "batch/v1"}


def pod_spec(*images: str, run_as_non_root: bool | None = None, pull_secrets: tuple[str, ...] = ()) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": f"c{index}", "image": image} for index, image in enumerate(images)]}
    if run_as_non_root is not None:
        spec["securityContext"] = {"runAsNonRoot": run_as_non_root}
    if pull_secrets:
        spec["imagePullSecrets"] = [{"name": name} for name in pull_secrets]
    return spec


class ClusterBuilder:
    def __init__(self, api: KubernetesApiDouble) -> None:
        self.api = api

    def _owned(self, kind: str, namespace: str, name: str, spec: dict[str, Any], owner: dict[str, Any] | None, template_path: tuple[str, ...]) -> dict[str, Any]:
        obj: dict[str, Any] = {"apiVersion": API_VERSIONS[kind], "kind": kind, "metadata": {"name": name, "namespace": namespace}, "spec": {}}
        if owner is not None:
            obj["metadata"]["ownerReferences"] = [_reference(owner)]
        node = obj["spec"]
        for part in template_path[:-1]:
            node = node.setdefault(part, {})
        node[template_path[-1]] = {"metadata": {"labels": {"app": name}}, "spec": copy.deepcopy(spec)}
        return self.api.add(obj)

    def pod(self, namespace: str, name: str, spec: dict[str, Any], owner: dict[str, Any] | None = None, phase: str = "Running") -> dict[str, Any]:
        pod: dict[str, Any] = {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "labels": {"app": name.rsplit("-", 1)[0]}},
            "spec": copy.deepcopy(spec) | {"nodeName": "node-1", "serviceAccountName": spec.get("serviceAccountName", "default")},
            "status": {"phase": phase},
        }
        if owner is not None:
            pod["metadata"]["ownerReferences"] = [_reference(owner)]
        return self.api.add(pod)

    def deployment(self, namespace: str, name: str, spec: dict[str, Any], replicas: int = 2, revision: str = "5d8f7c9b4") -> list[dict[str, Any]]:
        deployment = self._owned("Deployment", namespace, name, spec, None, ("template",))
        replicaset = self._owned("ReplicaSet", namespace, f"{name}-{revision}", spec, deployment, ("template",))
        return [self.pod(namespace, f"{name}-{revision}-{index:05d}", spec, replicaset) for index in range(replicas)]

    def statefulset(self, namespace: str, name: str, spec: dict[str, Any], replicas: int = 1) -> list[dict[str, Any]]:
        owner = self._owned("StatefulSet", namespace, name, spec, None, ("template",))
        return [self.pod(namespace, f"{name}-{index}", spec, owner) for index in range(replicas)]

    def daemonset(self, namespace: str, name: str, spec: dict[str, Any], nodes: int = 2) -> list[dict[str, Any]]:
        owner = self._owned("DaemonSet", namespace, name, spec, None, ("template",))
        return [self.pod(namespace, f"{name}-n{index}", spec, owner) for index in range(nodes)]

    def cronjob(self, namespace: str, name: str, spec: dict[str, Any], run: str = "29400000") -> dict[str, Any]:
        cronjob = self._owned("CronJob", namespace, name, spec, None, ("jobTemplate", "spec", "template"))
        job = self._owned("Job", namespace, f"{name}-{run}", spec, cronjob, ("template",))
        return self.pod(namespace, f"{name}-{run}-x7k2p", spec, job)

    def job(self, namespace: str, name: str, spec: dict[str, Any], phase: str = "Running") -> dict[str, Any]:
        job = self._owned("Job", namespace, name, spec, None, ("template",))
        return self.pod(namespace, f"{name}-q8w4z", spec, job, phase=phase)


def _reference(owner: dict[str, Any]) -> dict[str, Any]:
    meta = owner["metadata"]
    return {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": meta["name"], "uid": meta["uid"], "controller": True, "blockOwnerDeletion": True}

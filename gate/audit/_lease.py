"""Leader election over a ``coordination.k8s.io/v1`` Lease, as client-go's leaderelection does,
so that of all webhook replicas only one audits at a time.

A replica holds the Lease while it keeps renewing it. Another may take it over only after it has
watched the Lease stay unchanged for ``leaseDurationSeconds`` by its *own* clock (client-go's
rule: clocks of different nodes are never compared). Every write carries the ``resourceVersion``
it read, so when two replicas race, the API server lets exactly one win (the other gets 409).
Synchronous: call from a worker thread.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from typing import Any

from gate.audit._cluster import Cluster, KubernetesError

log = logging.getLogger("gate.audit")


class LeaseElector:
    """Acquires and renews one Lease for ``identity``."""

    def __init__(
        self, cluster: Cluster, namespace: str, name: str, identity: str, duration: float, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.cluster = cluster
        self.namespace = namespace
        self.name = name
        self.identity = identity
        self.duration = duration
        self._clock = clock
        self._observed: tuple[Any, ...] | None = None
        self._observed_at = 0.0

    def try_acquire(self) -> bool:
        """Take or renew the Lease; True when this replica holds it now. Never raises: an API
        failure means "not the leader" (no audit runs rather than two)."""
        try:
            return self._try_acquire()
        except KubernetesError as exc:
            if exc.status != 409:
                log.warning("audit lease %s/%s: %s", self.namespace, self.name, exc.diagnostics())
            return False

    def release(self) -> None:
        """Give the Lease up at shutdown so another replica need not wait for it to expire."""
        try:
            lease = self.cluster.lease(self.namespace, self.name)
            if lease is not None and (lease.get("spec") or {}).get("holderIdentity") == self.identity:
                lease["spec"] = lease["spec"] | {"holderIdentity": None, "renewTime": _now()}
                self.cluster.replace_lease(self.namespace, lease)
        except KubernetesError as exc:
            log.info("audit lease not released: %s", exc.diagnostics())

    def _try_acquire(self) -> bool:
        lease = self.cluster.lease(self.namespace, self.name)
        now = _now()
        if lease is None:
            self.cluster.create_lease(self.namespace, self._lease({}, now, transitions=0))
            return True
        spec = lease.get("spec") or {}
        holder = spec.get("holderIdentity")
        if holder == self.identity:
            lease["spec"] = spec | {"renewTime": now, "leaseDurationSeconds": int(self.duration)}
            self.cluster.replace_lease(self.namespace, lease)
            return True
        if holder and not self._expired(spec):
            return False
        transitions = int(spec.get("leaseTransitions") or 0) + 1
        self.cluster.replace_lease(self.namespace, self._lease(lease, now, transitions=transitions))
        log.info("audit lease %s/%s taken over from %s", self.namespace, self.name, holder or "(nobody)")
        return True

    def _expired(self, spec: dict[str, Any]) -> bool:
        """True when the holder has not renewed for its lease duration, as timed by this replica."""
        record = (spec.get("holderIdentity"), spec.get("renewTime"), spec.get("acquireTime"))
        if record != self._observed:
            self._observed, self._observed_at = record, self._clock()
        duration = float(spec.get("leaseDurationSeconds") or self.duration)
        return self._clock() - self._observed_at > duration

    def _lease(self, current: dict[str, Any], now: str, *, transitions: int) -> dict[str, Any]:
        metadata = {"name": self.name, "namespace": self.namespace}
        if current.get("metadata", {}).get("resourceVersion"):
            metadata["resourceVersion"] = current["metadata"]["resourceVersion"]
        spec = {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": int(self.duration),
            "acquireTime": now,
            "renewTime": now,
            "leaseTransitions": transitions,
        }
        return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": metadata, "spec": spec}


def _now() -> str:
    """A Kubernetes MicroTime: RFC 3339 with microseconds, UTC."""
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

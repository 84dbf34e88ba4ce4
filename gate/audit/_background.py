"""The audit loop of ``gate serve``: re-judge running workloads at start-up (a configuration change
rolls the pods, so this is also "after every configuration change") and every
``audit.interval``, and publish PolicyReports and metrics — on the one replica holding the Lease.

Workloads are judged one at a time, at most ``audit.images_per_second`` images per second, so an
audit of a large cluster spreads over time (``_process`` runs this loop in a child process at a
lower CPU priority, so admission keeps the CPU). The Lease is renewed while an audit runs; losing
it stops the audit.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import socket
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gate.admission._reviewer import Reviewer
from gate.audit._cluster import Cluster
from gate.audit._command import inventory
from gate.audit._judge import WorkloadVerdict, judge_workloads
from gate.audit._lease import LeaseElector
from gate.audit._policy_report import namespace_results, policy_reports
from gate.audit._publish import publish
from gate.errors import GateError

log = logging.getLogger("gate.audit")
SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
Counts = dict[tuple[str, str, str], int]  # (namespace, rule, result) -> results
Record = Callable[[Counts, float], None]  # receives each completed audit's counts and its end time


class Auditor:
    """Runs the periodic audit on the replica holding the Lease; start with :meth:`start`."""

    def __init__(self, reviewer: Reviewer, cluster: Cluster, record: Record, *, identity: str | None = None) -> None:
        self.config = reviewer.config
        self.settings = reviewer.config.audit
        self.reviewer = reviewer
        self.cluster = cluster
        self.record = record
        identity = identity or f"{socket.gethostname()}_{uuid.uuid4().hex[:8]}"
        namespace = self.settings.lease_namespace or _pod_namespace()
        self.elector = LeaseElector(cluster, namespace, self.settings.lease_name, identity, self.settings.lease_seconds)
        self.audits = 0  # completed audits, for tests and logs
        self.last_writes: dict[str, str] = {}
        self._task: asyncio.Task[None] | None = None
        self._next_slot = 0.0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="gate-audit")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
            await asyncio.to_thread(self.elector.release)

    async def _run(self) -> None:
        renew_every = self.settings.lease_seconds / 3
        due = time.monotonic()  # at start-up
        while True:
            leading = await asyncio.to_thread(self.elector.try_acquire)
            if leading and time.monotonic() >= due:
                await self._audit_while_leading(renew_every)
                due = time.monotonic() + self.settings.interval
            until_due = due - time.monotonic() if leading else renew_every  # a follower only checks the Lease
            await asyncio.sleep(max(min(renew_every, until_due), 0.05))

    async def _audit_while_leading(self, renew_every: float) -> None:
        audit = asyncio.create_task(self.audit_once())
        try:
            while not audit.done():
                done, _ = await asyncio.wait({audit}, timeout=renew_every)
                if not done and not await asyncio.to_thread(self.elector.try_acquire):
                    log.warning("audit lease lost; stopping this audit")
                    audit.cancel()
            await audit
        except asyncio.CancelledError:
            audit.cancel()
            if self._task is not None and self._task.cancelling():
                raise
        except GateError as exc:
            log.error("audit failed: %s", exc.diagnostics())
        except Exception:
            log.exception("audit failed")

    async def audit_once(self) -> dict[str, str]:
        """One audit: judge every running workload, publish the reports; namespace -> write done.

        Raises:
            KubernetesError: workloads could not be listed or reports written.
        """
        started = time.monotonic()
        excluded = set(self.settings.exclude_namespaces)
        workloads = [w for w in await inventory(self.cluster, None) if w.ref.namespace not in excluded]
        verdicts = await judge_workloads(self.reviewer, workloads, concurrency=1, pace=self._pace)
        digest = self.reviewer.engine.policy_digest
        results = namespace_results(verdicts, self.config, dt.datetime.now(dt.timezone.utc))
        self.last_writes = await asyncio.to_thread(publish, self.cluster, policy_reports(results, digest), digest)
        self.record(_counts(results), time.time())
        self.audits += 1
        log.info(
            "audit completed",
            extra={"workloads": len(verdicts), "denied": _denied(verdicts), "seconds": round(time.monotonic() - started, 2), "writes": self.last_writes},
        )
        return self.last_writes

    async def _pace(self, images: int) -> None:
        """Wait for this many images' share of the rate."""
        delay = self._next_slot - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        self._next_slot = max(self._next_slot, time.monotonic()) + images / self.settings.images_per_second


def _counts(results: dict[str, list[dict[str, Any]]]) -> Counts:
    counts: Counter[tuple[str, str, str]] = Counter()
    for namespace, found in results.items():
        for result in found:
            counts[(namespace, result["rule"], result["result"])] += 1
    return dict(counts)


def _denied(verdicts: list[WorkloadVerdict]) -> int:
    return sum(verdict.decision("enforce") == "deny" for verdict in verdicts)


def _pod_namespace() -> str:
    """The namespace this pod runs in (its service account's), for the Lease; ``default`` outside a cluster."""
    try:
        return SERVICE_ACCOUNT_NAMESPACE.read_text().strip() or "default"
    except OSError:
        return os.environ.get("POD_NAMESPACE", "default")

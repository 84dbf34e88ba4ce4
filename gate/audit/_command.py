"""``gate audit``: judge what runs in a cluster once, from a workstation or a Job (docs/audit.md)."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from gate._progress import terminal_counter
from gate.admission._metrics import Metrics
from gate.admission._pull_secrets import PullSecretReader
from gate.admission._reviewer import Reviewer
from gate.audit._cluster import Cluster, api_client
from gate.audit._finder import BuilderQuery, contained, parse_contains
from gate.audit._inventory import Workload, group_pods
from gate.audit._judge import judge_workloads
from gate.audit._render import AuditOutcome, Matcher
from gate.config import Config
from gate.engine import Engine
from gate.errors import ConfigError
from gate.evidence import DenyList

CONCURRENCY = 8  # workloads judged at once; the engine bounds registry connections itself


async def inventory(cluster: Cluster, namespace: str | None) -> list[Workload]:
    """The running workloads of ``namespace`` (None: every namespace), Pods grouped by owner."""
    pods, replicasets, jobs = await asyncio.gather(
        asyncio.to_thread(cluster.pods, namespace),
        asyncio.to_thread(cluster.replicasets, namespace),
        asyncio.to_thread(cluster.jobs, namespace),
    )
    return group_pods(pods, replicasets, jobs)


async def audit_cluster(
    config: Config,
    cluster: Cluster,
    namespace: str | None,
    *,
    uses_builder: str | None = None,
    contains: str | None = None,
    concurrency: int = CONCURRENCY,
) -> AuditOutcome:
    """Judge every running workload of ``namespace`` as the webhook would, and answer a finder query.

    Raises:
        ConfigError: a finder query does not parse.
        KubernetesError: the workloads cannot be listed.
    """
    query, matcher, search = _query(uses_builder, contains)
    workloads = await inventory(cluster, namespace)
    async with Engine(config, search=search) as engine:
        reviewer = Reviewer(config, engine, Metrics(dict), PullSecretReader(cluster.api_client))
        counter = terminal_counter("auditing workloads", len(workloads))
        with counter or contextlib.nullcontext():
            verdicts = await judge_workloads(
                reviewer, workloads, concurrency=concurrency, on_done=(lambda _: counter.advance()) if counter else None
            )
    return AuditOutcome(engine.policy_digest, config.mode, tuple(verdicts), query, matcher)


def run_audit(config: Config, kubeconfig: Path | None, namespace: str | None, uses_builder: str | None, contains: str | None) -> AuditOutcome:
    """The blocking entry point of ``gate audit``.

    Raises:
        ConfigError: no Kubernetes credentials, or a bad finder query.
        KubernetesError: the API refused or failed a list.
    """
    client = api_client(kubeconfig)
    try:
        return asyncio.run(audit_cluster(config, Cluster(client), namespace, uses_builder=uses_builder, contains=contains))
    finally:
        client.close()


def _query(uses_builder: str | None, contains: str | None) -> tuple[str | None, Matcher | None, DenyList | None]:
    if uses_builder is not None and contains is not None:
        raise ConfigError("give either --uses-builder or --contains, not both")
    if uses_builder is not None:
        builder = BuilderQuery.parse(uses_builder)
        return f"--uses-builder {uses_builder}", builder.stages, None
    if contains is not None:
        return f"--contains {contains}", contained, parse_contains(contains)
    return None, None, None

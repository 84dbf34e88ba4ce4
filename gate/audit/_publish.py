"""Write the audit's PolicyReports: create what is missing, replace what changed, leave the rest.

A report counts as changed when anything but its result timestamps differs, so an audit that
finds what the last one found writes nothing (the API server, etcd and every watcher of
PolicyReports, such as Policy Reporter, are spared). A namespace that had a gate report and no
longer runs a workload gets an empty one, never a stale verdict. Replacements carry the
``resourceVersion`` read, so a concurrent writer makes the update fail rather than be overwritten.
Runs in a worker thread (the ``kubernetes`` client is synchronous).
"""

from __future__ import annotations

from typing import Any

from gate.audit._cluster import Cluster
from gate.audit._policy_report import MANAGED_BY, REPORT_NAME, report

SELECTOR = ",".join(f"{key}={value}" for key, value in MANAGED_BY.items())


def publish(cluster: Cluster, reports: dict[str, dict[str, Any]], policy_digest: str) -> dict[str, str]:
    """Bring the cluster's gate PolicyReports to ``reports``; namespace -> created/updated/unchanged.

    Raises:
        KubernetesError: a read or write failed (reports already written stay written).
    """
    stale = {item["metadata"]["namespace"] for item in cluster.reports(SELECTOR) if item.get("metadata", {}).get("name") == REPORT_NAME}
    wanted = dict(reports)
    for namespace in stale - set(reports):
        wanted[namespace] = report(namespace, [], policy_digest)
    return {namespace: _write(cluster, namespace, body) for namespace, body in sorted(wanted.items())}


def _write(cluster: Cluster, namespace: str, body: dict[str, Any]) -> str:
    current = cluster.report(namespace, REPORT_NAME)
    if current is None:
        cluster.create_report(namespace, body)
        return "created"
    if _content(current) == _content(body):
        return "unchanged"
    replacement = body | {"metadata": body["metadata"] | {"resourceVersion": current["metadata"]["resourceVersion"]}}
    cluster.replace_report(namespace, replacement)
    return "updated"


def _content(body: dict[str, Any]) -> Any:
    """What a reader of the report sees, without the times results were last computed."""
    metadata = body.get("metadata") or {}
    results = [{key: value for key, value in result.items() if key != "timestamp"} for result in body.get("results") or []]
    return (metadata.get("labels"), metadata.get("annotations"), body.get("summary"), results)

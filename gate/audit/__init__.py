"""The audit: judge what already runs, as the webhook would, and publish it (docs/audit.md).

    outcome = run_audit(config, kubeconfig, namespace, uses_builder, contains)   # `gate audit`
    auditor = Auditor(config, reviewer, cluster, metrics, activity)            # in `gate serve`

Pods are grouped by owning workload (``_inventory``), judged through the webhook's reviewer
(``_judge``), matched against a rebuild query (``_finder``), written as ``wgpolicyk8s.io/v1alpha2``
PolicyReports (``_policy_report``) by the one replica holding the Lease (``_lease``).
"""

from gate.audit._cluster import Cluster, KubernetesError, api_client
from gate.audit._command import audit_cluster, run_audit
from gate.audit._render import AuditOutcome, render_audit_json, render_audit_table

__all__ = [
    "AuditOutcome",
    "Cluster",
    "KubernetesError",
    "api_client",
    "audit_cluster",
    "render_audit_json",
    "render_audit_table",
    "run_audit",
]

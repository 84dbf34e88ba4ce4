"""The audit: judge what already runs, as the webhook would, and publish it (docs/audit.md).

    outcome = run_audit(config, kubeconfig, namespace, uses_builder, contains)   # `gate audit`
    audit = AuditProcess(config); audit.start(record)                            # in `gate serve`

Pods are grouped by owning workload (``_inventory``), judged through the webhook's reviewer
(``_judge``), matched against a rebuild query (``_finder``), written as ``wgpolicyk8s.io/v1alpha2``
PolicyReports (``_policy_report``) by the one replica holding the Lease (``_lease``); in
``gate serve`` the loop (``_background``) runs in a child process at lower priority (``_process``).
"""

from gate.audit._cluster import Cluster, KubernetesError, api_client
from gate.audit._command import audit_cluster, run_audit
from gate.audit._process import AuditProcess
from gate.audit._render import AuditOutcome, render_audit_json, render_audit_table

__all__ = [
    "AuditOutcome",
    "AuditProcess",
    "Cluster",
    "KubernetesError",
    "api_client",
    "audit_cluster",
    "render_audit_json",
    "render_audit_table",
    "run_audit",
]

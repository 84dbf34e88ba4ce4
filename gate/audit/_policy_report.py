"""The audit's verdicts as ``wgpolicyk8s.io/v1alpha2`` PolicyReports: one per namespace, one
result per workload and rule (the format Kyverno, Kubewarden and trivy-operator write and Policy
Reporter reads; schema in charts/gate/files/wgpolicyk8s.io_policyreports.yaml). Pure functions.

Result per rule: ``fail`` when an image of the workload has a violation with action deny, ``warn``
for warn only (exempted violations are warnings too, with the exemption in the message),
``error`` for ``evaluation.error``, ``skip`` when the rule is off in the namespace or the whole
namespace is exempt, ``pass`` otherwise. A report that would exceed ``max_bytes`` (etcd refuses
objects past ~1.5 MiB) keeps the most important results (fail, error, warn, skip, pass, in that
order), records how many it left out in an annotation, and its summary still counts them all.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from typing import Any

from gate.audit._judge import WorkloadVerdict
from gate.config import Config
from gate.policy import rule_action
from gate.report import ImageResult, Violation
from gate.rules import EVALUATION_ERROR, RULES

API_VERSION = "wgpolicyk8s.io/v1alpha2"
POLICY = "gate"
REPORT_NAME = "gate"
MANAGED_BY = {"app.kubernetes.io/managed-by": "gate"}
OMITTED_ANNOTATION = "gate.dev/results-omitted"
POLICY_DIGEST_ANNOTATION = "gate.dev/policy-digest"
MAX_REPORT_BYTES = 1024 * 1024
MESSAGE_CHARS = 1024
RESULTS = ("pass", "fail", "warn", "error", "skip")
_IMPORTANCE = {"fail": 0, "error": 1, "warn": 2, "skip": 3, "pass": 4}


def namespace_results(verdicts: list[WorkloadVerdict], config: Config, now: dt.datetime) -> dict[str, list[dict[str, Any]]]:
    """namespace -> every result of its workloads (in workload order), for each namespace with a workload."""
    timestamp = {"seconds": int(now.timestamp()), "nanos": 0}
    by_namespace: dict[str, list[dict[str, Any]]] = {}
    for verdict in sorted(verdicts, key=lambda v: v.workload.label):
        by_namespace.setdefault(verdict.workload.namespace, []).extend(workload_results(verdict, config, timestamp))
    return by_namespace


def policy_reports(
    results: dict[str, list[dict[str, Any]]], policy_digest: str, *, max_bytes: int = MAX_REPORT_BYTES
) -> dict[str, dict[str, Any]]:
    """namespace -> its PolicyReport body."""
    return {namespace: report(namespace, found, policy_digest, max_bytes) for namespace, found in results.items()}


def report(namespace: str, results: list[dict[str, Any]], policy_digest: str, max_bytes: int = MAX_REPORT_BYTES) -> dict[str, Any]:
    """One namespace's PolicyReport; trimmed to ``max_bytes`` with the summary over every result."""
    summary = Counter(result["result"] for result in results)
    body: dict[str, Any] = {
        "apiVersion": API_VERSION,
        "kind": "PolicyReport",
        "metadata": {"name": REPORT_NAME, "namespace": namespace, "labels": dict(MANAGED_BY), "annotations": {POLICY_DIGEST_ANNOTATION: policy_digest}},
        "summary": {name: summary.get(name, 0) for name in RESULTS},
        "results": results,
    }
    if len(_encode(body)) > max_bytes:
        body["results"] = _trimmed(body, max_bytes)
        body["metadata"]["annotations"][OMITTED_ANNOTATION] = str(len(results) - len(body["results"]))
    return body


def workload_results(verdict: WorkloadVerdict, config: Config, timestamp: dict[str, int]) -> list[dict[str, Any]]:
    """One result per rule for ``verdict``'s workload."""
    namespace = verdict.workload.namespace

    def result(rule: str, outcome: str, message: str, images: tuple[ImageResult, ...] = ()) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "policy": POLICY,
            "rule": rule,
            "result": outcome,
            "severity": _severity(rule),
            "category": rule.split(".", 1)[0],
            "source": "gate",
            "scored": True,
            "message": _clip(message),
            "resources": [verdict.workload.to_resource()],
            "timestamp": dict(timestamp),
        }
        if images:
            entry["properties"] = {
                "images": _clip(", ".join(result.reference for result in images)),
                "digests": _clip(", ".join(sorted({result.digest for result in images if result.digest}))),
            }
        return entry

    if verdict.exempt is not None:
        return [result(rule, "skip", f"namespace {namespace} is exempt: {verdict.exempt}") for rule in RULES]
    if verdict.problem is not None:
        return [result(EVALUATION_ERROR, "error", verdict.problem)]
    images = verdict.results
    found: dict[str, list[tuple[ImageResult, Violation]]] = {}
    for image in images:
        for violation in image.violations:
            found.setdefault(violation.rule, []).append((image, violation))
    rules = list(RULES) + sorted(set(found) - set(RULES))
    return [result(rule, *_outcome(rule, found.get(rule, []), config, namespace, len(images)), images) for rule in rules]


def _outcome(rule: str, found: list[tuple[ImageResult, Violation]], config: Config, namespace: str, images: int) -> tuple[str, str]:
    if found:
        message = "; ".join(f"{image.reference}: {violation.message}" for image, violation in found)
        if rule == EVALUATION_ERROR:
            return "error", message
        return ("fail" if any(violation.action == "deny" for _, violation in found) else "warn"), message
    if rule_action(rule, config, namespace) == "off":
        return "skip", f"{rule} is off for namespace {namespace} in the configuration"
    return "pass", f"{images} image(s) pass {rule}"


def _severity(rule: str) -> str:
    if rule.startswith("secret."):
        return "critical"
    known = RULES.get(rule)
    if known is None:
        return "medium"
    if rule == "image.stale":
        return "low"
    return "high" if known.default_action == "deny" else "medium"


def _trimmed(body: dict[str, Any], max_bytes: int) -> list[dict[str, Any]]:
    """The most important results that fit, keeping room for the omission annotation."""
    ranked = sorted(body["results"], key=lambda result: _IMPORTANCE[result["result"]])
    budget = max_bytes - len(_encode(body | {"results": []})) - 64
    kept: list[dict[str, Any]] = []
    for result in ranked:
        size = len(_encode(result)) + 1
        if size > budget:
            break
        budget -= size
        kept.append(result)
    return kept


def _encode(document: Any) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode()


def _clip(text: str) -> str:
    return text if len(text) <= MESSAGE_CHARS else text[: MESSAGE_CHARS - 1] + "…"

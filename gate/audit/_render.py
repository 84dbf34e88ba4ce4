"""``gate audit`` output: a table for people, one JSON document for scripts (docs/audit.md), and
the exit code, which follows ``gate check``: 2 when anything could not be evaluated, else 1 when
anything would be denied, else 0. A finder query lists only the workloads it matched."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gate import __version__
from gate.audit._judge import WorkloadVerdict
from gate.report import ImageResult

Matcher = Callable[[ImageResult], list[str]]


@dataclass(frozen=True)
class AuditOutcome:
    """One audit: the verdicts, under which policy and mode, and the finder query if any."""

    policy_digest: str
    mode: str
    verdicts: tuple[WorkloadVerdict, ...]
    query: str | None = None  # "--uses-builder golang@sha256:…" as given
    matcher: Matcher | None = None

    def exit_code(self) -> int:
        results = [result for verdict in self.verdicts for result in verdict.results]
        if any(verdict.problem for verdict in self.verdicts) or not all(result.evaluated for result in results):
            return 2
        return 1 if any(verdict.decision("enforce") == "deny" for verdict in self.verdicts) else 0

    def matches(self, result: ImageResult) -> list[str]:
        return self.matcher(result) if self.matcher is not None else []

    def listed(self) -> list[WorkloadVerdict]:
        """Every verdict, or with a finder query only the workloads with a matching image."""
        if self.matcher is None:
            return list(self.verdicts)
        return [verdict for verdict in self.verdicts if any(self.matches(result) for result in verdict.results)]


def render_audit_json(outcome: AuditOutcome) -> str:
    workloads = [_workload_json(outcome, verdict) for verdict in outcome.listed()]
    document: dict[str, Any] = {
        "gate_version": __version__,
        "policy_digest": outcome.policy_digest,
        "mode": outcome.mode,
        "query": outcome.query,
        "summary": _summary(outcome),
        "workloads": workloads,
    }
    return json.dumps(document, indent=2)


def _workload_json(outcome: AuditOutcome, verdict: WorkloadVerdict) -> dict[str, Any]:
    images = []
    for item in verdict.judged:
        image = item.result.to_json() | {"locations": [use.location for use in item.uses]}
        if outcome.matcher is not None:
            image["matches"] = outcome.matches(item.result)
        images.append(image)
    return {
        "namespace": verdict.workload.namespace,
        "kind": verdict.workload.kind,
        "name": verdict.workload.name,
        "pods": verdict.pods,
        "decision": verdict.decision(outcome.mode),
        "exempt": verdict.exempt,
        "problem": verdict.problem,
        "images": images,
    }


def _summary(outcome: AuditOutcome) -> dict[str, int]:
    decisions = [verdict.decision("enforce") for verdict in outcome.verdicts]
    return {
        "workloads": len(outcome.verdicts),
        "denied": decisions.count("deny"),
        "images": len({result.digest or result.reference for verdict in outcome.verdicts for result in verdict.results}),
        "matched": len(outcome.listed()) if outcome.matcher is not None else 0,
    }


def render_audit_table(outcome: AuditOutcome) -> str:
    lines: list[str] = []
    for verdict in outcome.listed():
        decision = verdict.decision(outcome.mode).upper()
        lines.append(f"{decision:<6}  {verdict.workload.label} ({verdict.pods} pod(s))")
        if verdict.exempt is not None:
            lines.append(f"        namespace exempt: {verdict.exempt}")
        if verdict.problem is not None:
            lines.append(f"  deny  {verdict.problem}")
        for item in verdict.judged:
            lines.extend(_image_lines(outcome, item.result))
    summary = _summary(outcome)
    if outcome.matcher is not None:
        lines.append(f"{summary['matched']} of {summary['workloads']} workload(s) match {outcome.query}")
    else:
        lines.append(f"{summary['workloads'] - summary['denied']} of {summary['workloads']} workload(s) allowed, {summary['images']} image(s) judged")
    return "\n".join(lines)


def _image_lines(outcome: AuditOutcome, result: ImageResult) -> list[str]:
    verdict = result.decision if result.evaluated else f"error ({result.decision})"
    lines = [f"        {verdict:<6}  {result.reference}" + (f"  {result.digest}" if result.digest else "")]
    lines.extend(f"          match {match}" for match in outcome.matches(result))
    lines.extend(f"          {v.action:<4}  {v.rule:<22} {v.message}" for v in result.violations)
    return lines

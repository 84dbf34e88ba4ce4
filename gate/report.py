"""Result types and their JSON and table forms (docs/report.md). No I/O: callers print what this returns."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote

from gate import __version__
from gate.rules import EVALUATION_ERROR, RULES

Decision = Literal["allow", "deny"]


@dataclass(frozen=True)
class Violation:
    """One rule a image broke, with the action configuration gave it and what to do about it."""

    rule: str
    action: Literal["deny", "warn"]
    message: str
    details: dict[str, Any] = field(default_factory=dict)
    platform: str | None = None  # os/arch[/variant] of the platform image it was found on
    platform_digest: str | None = None  # that platform image's manifest digest

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "action": self.action,
            "message": self.message,
            "details": self.details,
            "platform": self.platform,
            "platform_digest": self.platform_digest,
        }


@dataclass(frozen=True)
class ImageResult:
    """The verdict on one image reference (every platform of an index folded into one)."""

    reference: str
    digest: str | None
    violations: tuple[Violation, ...] = ()
    evidence: dict[str, Any] = field(default_factory=dict)
    workload: dict[str, Any] | None = None  # where a manifest or cluster uses the image (check manifest)

    @property
    def decision(self) -> Decision:
        """``deny`` when any violation's action is ``deny``."""
        return "deny" if any(v.action == "deny" for v in self.violations) else "allow"

    @property
    def evaluated(self) -> bool:
        """False when the image could not be evaluated (an ``evaluation.error`` was raised)."""
        return not any(v.rule == EVALUATION_ERROR for v in self.violations)

    def to_json(self) -> dict[str, Any]:
        document = {
            "reference": self.reference,
            "digest": self.digest,
            "decision": self.decision,
            "violations": [v.to_json() for v in self.violations],
            "evidence": self.evidence,
        }
        return document | ({"workload": self.workload} if self.workload is not None else {})


@dataclass(frozen=True)
class Report:
    """Everything one ``gate check image`` run found."""

    policy_digest: str
    results: tuple[ImageResult, ...]

    def exit_code(self, *, denied: int = 1) -> int:
        """docs/report.md: 2 if any image could not be evaluated, else ``denied`` (1; ``--exit-code``)
        if any was denied, else 0."""
        if not all(result.evaluated for result in self.results):
            return 2
        return denied if any(result.decision == "deny" for result in self.results) else 0

    def to_json(self) -> dict[str, Any]:
        return {
            "gate_version": __version__,
            "policy_digest": self.policy_digest,
            "results": [result.to_json() for result in self.results],
        }


def render_json(report: Report) -> str:
    """The JSON report (docs/report.md)."""
    return json.dumps(report.to_json(), indent=2, sort_keys=False)


def render_table(report: Report) -> str:
    """A plain-text table for people: one block per image, one line per violation."""
    lines: list[str] = []
    for result in report.results:
        verdict = result.decision.upper() if result.evaluated else f"ERROR ({result.decision})"  # allow when fail-open
        lines.append(f"{verdict:<6}  {result.reference}")
        if result.digest:
            lines.append(f"        digest {result.digest}")
        for violation in result.violations:
            lines.append(f"  {violation.action:<4}  {violation.rule:<22} {violation.message}")
        if not result.violations:
            lines.append("        no violations")
    allowed = sum(result.decision == "allow" for result in report.results)
    lines.append(f"{allowed} of {len(report.results)} image(s) allowed")
    return "\n".join(lines)


_SARIF_LEVEL = {"deny": "error", "warn": "warning"}


def render_sarif(report: Report) -> str:
    """SARIF 2.1.0 for CI code-scanning views: one result per violation, rule metadata from the
    catalogue (custom rule IDs are added as they occur). Each result's location is the image as
    an ``oci://`` URI, since an image has no source file."""
    ids = list(RULES) + sorted({v.rule for r in report.results for v in r.violations} - set(RULES))
    results = [
        {
            "ruleId": violation.rule,
            "ruleIndex": ids.index(violation.rule),
            "level": _SARIF_LEVEL[violation.action],
            "message": {"text": violation.message},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": "oci://" + quote(result.reference, safe=":/@")}}}],
            "properties": {"image": result.reference, "digest": result.digest, "action": violation.action, "details": violation.details},
        }
        for result in report.results
        for violation in result.violations
    ]
    driver = {"name": "gate", "version": __version__, "rules": [_sarif_rule(rule_id) for rule_id in ids]}
    run = {"tool": {"driver": driver}, "results": results, "properties": {"policy_digest": report.policy_digest}}
    log = {"$schema": "https://json.schemastore.org/sarif-2.1.0.json", "version": "2.1.0", "runs": [run]}
    return json.dumps(log, indent=2)


def _sarif_rule(rule_id: str) -> dict[str, Any]:
    """A SARIF reportingDescriptor: catalogue rules point at docs/rules.md, custom ones at their policy."""
    rule = RULES.get(rule_id)
    if rule is None:
        summary, help_text, level = f"Custom rule {rule_id}", "A rule from a site policy directory (policy.dirs); see its Rego.", "error"
    else:
        summary, level = rule.summary, _SARIF_LEVEL[rule.default_action]
        help_text = f"See docs/rules.md, section `{rule_id}`: what it catches, why, how to fix and exempt it."
    return {
        "id": rule_id,
        "name": rule_id,
        "shortDescription": {"text": summary},
        "help": {"text": help_text},
        "defaultConfiguration": {"level": level},
    }

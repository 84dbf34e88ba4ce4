"""Result types and their JSON and table forms (docs/report.md). No I/O: callers print what this returns."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote

from gate import __version__
from gate._printable import printable
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

    def __post_init__(self) -> None:
        object.__setattr__(self, "message", printable(self.message))  # image content reaches messages

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

    def __post_init__(self) -> None:
        object.__setattr__(self, "reference", printable(self.reference))  # as written, even when unparseable

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


_SARIF_LEVEL = {"deny": "error", "warn": "warning"}
_SECURITY_SEVERITY = {"deny": "8.0", "warn": "4.0"}  # GitHub: 7.0-8.9 shows as high, 4.0-6.9 as medium
_FINGERPRINTED = ("path", "stage", "layer", "deleted_in_layer", "variable", "name", "component", "purl", "base")


def render_sarif(report: Report, rule_help: Mapping[str, str] | None = None) -> str:
    """SARIF 2.1.0 shaped as GitHub code scanning displays it (as Trivy writes it for images).

    One result per violation. An image has no source file, so each result points at the image's
    repository path as a relative artifact (``shop/api``, under ``%SRCROOT%``) at line 1;
    ``partialFingerprints`` (rule, platform digest, and the layer/path/stage the finding names)
    keep an alert the same across runs. Rules carry their docs/rules.md section as
    ``help.markdown`` (``rule_help``, by rule ID), tags and a ``security-severity`` from their
    default action. No ``helpUri``: gate's docs have no published address, and the help carries
    the whole section anyway.
    """
    ids = list(RULES) + sorted({v.rule for r in report.results for v in r.violations} - set(RULES))
    results = [_sarif_result(result, violation, ids.index(violation.rule)) for result in report.results for violation in result.violations]
    driver = {
        "name": "gate",
        "fullName": "gate supply-chain gate for container images",
        "version": __version__,
        "semanticVersion": __version__,
        "rules": [_sarif_rule(rule_id, (rule_help or {}).get(rule_id)) for rule_id in ids],
    }
    run = {
        "tool": {"driver": driver},
        "results": results,
        "columnKind": "utf16CodeUnits",
        "originalUriBaseIds": {"%SRCROOT%": {"uri": "file:///"}},
        "properties": {"policy_digest": report.policy_digest},
    }
    log = {"$schema": "https://json.schemastore.org/sarif-2.1.0.json", "version": "2.1.0", "runs": [run]}
    return json.dumps(log, indent=2)


def _sarif_result(result: ImageResult, violation: Violation, index: int) -> dict[str, Any]:
    digest = violation.platform_digest or result.digest or ""
    where = {key: violation.details[key] for key in _FINGERPRINTED if key in violation.details}
    fingerprint = hashlib.sha256(json.dumps([violation.rule, digest, where], sort_keys=True, default=str).encode()).hexdigest()
    on = f" ({violation.platform})" if violation.platform and violation.platform_digest != result.digest else ""
    return {
        "ruleId": violation.rule,
        "ruleIndex": index,
        "level": _SARIF_LEVEL[violation.action],
        "message": {"text": violation.message},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": _artifact_path(result.reference), "uriBaseId": "%SRCROOT%"},
                    "region": {"startLine": 1, "startColumn": 1, "endLine": 1, "endColumn": 1},
                },
                "message": {"text": f"{result.reference}{on}"},
            }
        ],
        "partialFingerprints": {"gateFinding/v1": fingerprint},
        "properties": {
            "image": result.reference,
            "digest": result.digest,
            "platform": violation.platform,
            "platform_digest": violation.platform_digest,
            "action": violation.action,
            "details": violation.details,
        },
    }


def _artifact_path(reference: str) -> str:
    """The image's repository as a relative path (``127.0.0.1:5000/shop/api:1.4`` -> ``shop/api``),
    percent-encoded; a reference that does not parse keeps its readable characters."""
    name = reference.split("@", 1)[0]
    first, slash, rest = name.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        name = rest
    if ":" in name.rsplit("/", 1)[-1]:
        name = name.rsplit(":", 1)[0]
    return quote(name.lower(), safe="/") or "image"


def _sarif_rule(rule_id: str, help_markdown: str | None) -> dict[str, Any]:
    """A SARIF reportingDescriptor; catalogue rules carry their docs section, custom ones point at their policy."""
    rule = RULES.get(rule_id)
    if rule is None:
        summary, action = f"Custom rule {rule_id}", "deny"
        text = "A rule from a site policy directory (policy.dirs); see its Rego for what it checks and how to fix it."
        markdown = text
    else:
        summary, action, text = rule.summary, rule.default_action, rule.summary
        markdown = f"**{rule.summary}**\n\n{help_markdown}" if help_markdown else f"**{rule.summary}**\n\nSee `{rule_id}` in docs/rules.md."
    return {
        "id": rule_id,
        "name": rule_id,
        "shortDescription": {"text": summary},
        "fullDescription": {"text": summary},
        "help": {"text": text, "markdown": markdown},
        "defaultConfiguration": {"level": _SARIF_LEVEL[action]},
        "properties": {
            "precision": "very-high",
            "security-severity": _SECURITY_SEVERITY[action],
            "tags": ["security", "supply-chain", rule_id.split(".", 1)[0]],
        },
    }

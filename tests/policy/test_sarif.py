"""render_sarif: SARIF 2.1.0 for `--output sarif`, one result per violation, rules from the catalogue.

Validated against the OASIS SARIF 2.1.0 JSON schema (tests/vectors/sarif, see PROVENANCE.md).
"""

from __future__ import annotations

import json

import jsonschema

from gate.report import ImageResult, Report, Violation, render_sarif
from gate.rules import RULES
from tests.support.vectors import VECTORS

SARIF_SCHEMA = json.loads((VECTORS / "sarif" / "sarif-schema-2.1.0.json").read_text())


def validate(log: dict) -> None:
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(log)


REPORT = Report(
    policy_digest="sha256:" + "f" * 64,
    results=(
        ImageResult("127.0.0.1:5000/shop/api:1.4", "sha256:" + "a" * 64, (
            Violation("secret.deleted-file", "deny", "`root/.npmrc` was added in layer 3", {"layer": 3, "path": "root/.npmrc", "deleted_in_layer": 4}),
            Violation("image.stale", "warn", "built 200 days ago", {"age_days": 200}),
        )),
        ImageResult("127.0.0.1:5000/shop/web:2", "sha256:" + "b" * 64, (Violation("acme.frontend-unpinned", "warn", "pin the frontend"),)),
        ImageResult("not a reference!", None, (Violation("evaluation.error", "deny", "bad reference"),)),
        ImageResult("127.0.0.1:5000/shop/ok:1", "sha256:" + "c" * 64, ()),
    ),
)


def test_sarif_has_the_required_structure() -> None:
    log = json.loads(render_sarif(REPORT))
    validate(log)
    assert log["runs"][0]["tool"]["driver"]["name"] == "gate"
    assert log["runs"][0]["properties"]["policy_digest"] == REPORT.policy_digest


def test_one_result_per_violation_pointing_at_its_rule() -> None:
    run = json.loads(render_sarif(REPORT))["runs"][0]
    rules, results = run["tool"]["driver"]["rules"], run["results"]
    violations = [(r.reference, v) for r in REPORT.results for v in r.violations]
    assert len(results) == len(violations) == 4
    for result, (reference, violation) in zip(results, violations, strict=True):
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"] == violation.rule
        assert result["level"] == {"deny": "error", "warn": "warning"}[violation.action]
        assert result["message"]["text"] == violation.message
        assert result["properties"]["details"] == violation.details and result["properties"]["image"] == reference
        location = result["locations"][0]["physicalLocation"]
        assert ":" not in location["artifactLocation"]["uri"] and " " not in location["artifactLocation"]["uri"], "a relative path"
        assert location["region"]["startLine"] == 1


def test_every_catalogue_rule_is_described_with_its_default_level() -> None:
    rules = {rule["id"]: rule for rule in json.loads(render_sarif(REPORT))["runs"][0]["tool"]["driver"]["rules"]}
    for rule_id, rule in RULES.items():
        assert rules[rule_id]["shortDescription"]["text"] == rule.summary
        assert rules[rule_id]["defaultConfiguration"]["level"] == {"deny": "error", "warn": "warning"}[rule.default_action]
    assert rules["acme.frontend-unpinned"]["shortDescription"]["text"] == "Custom rule acme.frontend-unpinned"


def test_an_empty_report_is_still_valid_sarif() -> None:
    log = json.loads(render_sarif(Report(policy_digest="sha256:0", results=())))
    validate(log)
    assert log["runs"][0]["results"] == []

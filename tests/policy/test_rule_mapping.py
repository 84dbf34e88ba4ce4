"""The mapping check (STYLE habit 12): every rule ID in gate.rules has Rego that produces it, a
default action, policy test cases on both sides (deny and allow), and an entry in docs/rules.md;
and the Rego produces no rule ID outside the catalogue."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gate.policy import SHIPPED_POLICY_DIR
from gate.policy._cases import case_files, load_cases
from gate.rules import RULES

RULES_MD = (Path(__file__).resolve().parents[2] / "docs" / "rules.md").read_text()
REGO = {path.name: path.read_text() for path in SHIPPED_POLICY_DIR.glob("*.rego")}
PRODUCED = {rule for text in REGO.values() for rule in re.findall(r'"rule":\s*"([^"]+)"', text)}
CASES = [case for path in case_files(SHIPPED_POLICY_DIR) for case in load_cases(path)]


@pytest.mark.parametrize("rule_id", sorted(RULES))
def test_rule_has_rego(rule_id: str) -> None:
    assert rule_id in PRODUCED, f"no policies/*.rego produces {rule_id}"


@pytest.mark.parametrize("rule_id", sorted(RULES))
def test_rule_has_a_default_action(rule_id: str) -> None:
    assert RULES[rule_id].default_action in ("deny", "warn")


@pytest.mark.parametrize("rule_id", sorted(RULES))
def test_rule_has_deny_and_allow_cases(rule_id: str) -> None:
    deny = [case for case in CASES if rule_id in case.expect]
    assert deny, f"no policy test case expects {rule_id}"
    files = {case.file for case in deny}
    allow = [case for case in CASES if case.file in files and rule_id not in case.expect]
    assert allow, f"{rule_id}: no case in {sorted(files)} shows a document it allows"


@pytest.mark.parametrize("rule_id", sorted(RULES))
def test_rule_is_documented(rule_id: str) -> None:
    section = re.search(rf"^## `{re.escape(rule_id)}`\n(.*?)(?=^## |\Z)", RULES_MD, re.M | re.S)
    assert section, f"docs/rules.md has no `## {rule_id}` section"
    for part in ("**Catches**", "**Why**", "**Fix**", "**Exempt**"):
        assert part in section.group(1), f"docs/rules.md {rule_id}: missing {part}"
    assert re.search(rf"^\| \[`{re.escape(rule_id)}`\]\(#[^)]*\) \| {RULES[rule_id].default_action} \|", RULES_MD, re.M), (
        f"docs/rules.md summary table row for {rule_id} missing or with the wrong default action"
    )


def test_rego_produces_only_catalogue_rules() -> None:
    assert PRODUCED <= set(RULES), f"unknown rule IDs in Rego: {sorted(PRODUCED - set(RULES))}"


def test_errors_policy_knows_every_finding_rule() -> None:
    """errors.rego turns findings of unhandled rules into evaluation.error; its list must match
    the rules the finding-based packages handle."""
    handled = set(re.findall(r'"([a-z]+\.[a-z-]+)"', REGO["errors.rego"].split("handled := {", 1)[1].split("}", 1)[0]))
    finding_rules = set(re.findall(r'lib\.findings\("([^"]+)"\)', REGO["secrets.rego"] + REGO["content.rego"]))
    assert handled == finding_rules

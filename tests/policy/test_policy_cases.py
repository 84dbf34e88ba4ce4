"""`gate policy test`: the shipped case files pass, on the embedded engine and on OPA (double),
with identical output; failures and malformed files are reported and exit 1."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from gate.config import Config, from_mapping
from gate.policy import SHIPPED_POLICY_DIR, PolicyEvaluator, decide, run_policy_tests
from gate.policy._cases import deep_merge, default_document
from tests.policy.opa_server_double import OpaServerDouble

NOW = dt.datetime(2026, 11, 26, 14, tzinfo=dt.timezone.utc)


@pytest.fixture(scope="module")
def opa_double() -> Iterator[OpaServerDouble]:
    with OpaServerDouble() as double:
        yield double


def run(directory: Path | None, config: Config) -> tuple[int, str]:
    out = io.StringIO()
    code = run_policy_tests(directory, config, out)
    return code, out.getvalue()


@pytest.fixture(scope="module")
def embedded_run() -> tuple[int, str]:
    return run(None, from_mapping({}))


def test_shipped_cases_pass_on_the_embedded_engine(embedded_run: tuple[int, str]) -> None:
    code, output = embedded_run
    lines = output.splitlines()
    assert code == 0, output
    assert all(line.startswith("PASS  ") for line in lines[:-1])
    assert lines[-1] == f"{len(lines) - 1} passed, 0 failed"


def test_opa_engine_gives_identical_results(embedded_run: tuple[int, str], opa_double: OpaServerDouble) -> None:
    config = from_mapping({"policy": {"engine": "opa", "opa_url": opa_double.url}})
    assert run(None, config) == embedded_run
    assert ("POST", "/v1/data/gate/violations") in opa_double.requests
    assert any(method == "PUT" and path.startswith("/v1/policies/gate/policies/") for method, path in opa_double.requests)


def write_policy_dir(root: Path, rego: str, cases: str) -> Path:
    (root / "tests").mkdir(parents=True)
    (root / "custom.rego").write_text(rego)
    (root / "tests" / "custom.yaml").write_text(cases)
    return root


RULE = """package gate.rules.custom
import rego.v1
violations contains {"rule": "acme.custom", "message": "custom"} if input.config.user == "nobody"
"""


def test_a_wrong_expectation_fails_with_the_actual_violations(tmp_path: Path) -> None:
    directory = write_policy_dir(tmp_path / "p", RULE, """
cases:
  - name: expects the wrong rule
    input: {config: {user: nobody}}
    expect: [user.root]
  - name: allowed
    expect_none: true
""")
    code, output = run(directory, from_mapping({}))
    assert code == 1
    assert "FAIL  custom.yaml: expects the wrong rule: expected ['user.root'], got ['acme.custom']" in output
    assert "        acme.custom: custom" in output
    assert "PASS  custom.yaml: allowed" in output
    assert output.endswith("passed, 1 failed\n")


def test_a_missing_message_fragment_fails(tmp_path: Path) -> None:
    directory = write_policy_dir(tmp_path / "p", RULE, """
cases:
  - name: message check
    input: {config: {user: nobody}}
    expect: [acme.custom]
    messages: ["not in there"]
""")
    code, output = run(directory, from_mapping({}))
    assert code == 1 and "no message contains ['not in there']" in output


@pytest.mark.parametrize(
    ("cases", "complaint"),
    [
        ("cases: []", "non-empty `cases` list"),
        ("cases:\n  - name: both\n    expect: [x]\n    expect_none: true", "exactly one of"),
        ("cases:\n  - name: neither", "exactly one of"),
        ("cases:\n  - name: empty\n    expect: []", "non-empty list of rule IDs"),
        ("cases:\n  - name: typo\n    expext: [x]\n    expect_none: true", "unknown key(s) expext"),
        ("cases: [", "cannot read policy test file"),
        ("cases:\n  - name: act\n    params: {user.root: {action: warn}}\n    expect_none: true", "actions are applied after"),
    ],
)
def test_malformed_case_files_fail(tmp_path: Path, cases: str, complaint: str) -> None:
    code, output = run(write_policy_dir(tmp_path / "p", RULE, cases), from_mapping({}))
    assert code == 1 and complaint in output


def test_no_cases_is_a_failure_not_a_pass(tmp_path: Path) -> None:
    (tmp_path / "only.rego").write_text(RULE)
    code, output = run(tmp_path, from_mapping({}))
    assert code == 1 and "no policy test cases" in output


def test_shipped_directory_is_the_default(embedded_run: tuple[int, str]) -> None:
    assert run(SHIPPED_POLICY_DIR, from_mapping({})) == embedded_run


def test_shipped_example_custom_rule_passes_its_cases_and_defaults_to_warn() -> None:
    examples = SHIPPED_POLICY_DIR / "examples"
    code, output = run(examples, from_mapping({}))
    assert code == 0, output
    evaluator = PolicyEvaluator.from_config(from_mapping({"policy": {"dirs": [str(examples)]}}))
    document = deep_merge(default_document(), {"provenance": {"frontend": {"ref": "docker/dockerfile:1", "pinned": False, "digest_used": None}}})
    raws = evaluator.evaluate(document)
    assert [v.action for v in decide(raws, from_mapping({}), now=NOW)] == ["warn"]

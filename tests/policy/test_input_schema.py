"""docs/input.schema.json is a valid schema and describes every document the tests feed the policies,
and what gate.policy_input builds."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import jsonschema
import pytest

from gate.policy_input import Facts, ImageIdentity, config_facts, input_document
from gate.policy import SHIPPED_POLICY_DIR
from gate.policy._cases import Case, case_files, default_document, load_cases
from gate.verify import SignatureCheck, VerifiedSigner, signatures_fact

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "docs" / "input.schema.json"
CASE_DIRS = (SHIPPED_POLICY_DIR, SHIPPED_POLICY_DIR / "examples")


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_schema_is_versioned_like_the_documents(validator: jsonschema.Draft202012Validator) -> None:
    assert validator.schema["properties"]["version"] == {"const": default_document()["version"]}


def test_default_document_is_valid(validator: jsonschema.Draft202012Validator) -> None:
    validator.validate(default_document())


CASES = [(path, case) for directory in CASE_DIRS for path in case_files(directory) for case in load_cases(path)]


@pytest.mark.parametrize(("path", "case"), CASES, ids=[f"{p.name}:{c.name}" for p, c in CASES])
def test_every_policy_test_case_document_is_valid(validator: jsonschema.Draft202012Validator, path: Path, case: Case) -> None:
    """Cases marked ``invalid_input`` must really break the schema; every other one must follow it."""
    errors = sorted(validator.iter_errors(case.document(default_document())), key=str)
    if case.invalid_input:
        assert errors, f"{path.name} / {case.name} is marked invalid_input but follows the schema"
    else:
        assert not errors, f"{path.name} / {case.name}: " + "; ".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


def test_a_typo_in_a_fact_is_caught(validator: jsonschema.Draft202012Validator) -> None:
    document = default_document()
    document["user"]["is_rot"] = True
    with pytest.raises(jsonschema.ValidationError, match="is_rot"):
        validator.validate(document)


def test_what_gate_facts_builds_is_valid(validator: jsonschema.Draft202012Validator) -> None:
    checks = [
        SignatureCheck(source="tag", layout="cosign-legacy", status="verified", signer=VerifiedSigner(kind="key", layout="cosign-legacy", key_id="5d1e6c0a")),
        SignatureCheck(source="referrer", layout="sigstore-bundle", status="untrusted", found="key:99", reason="key not in trust.keys"),
    ]
    facts = Facts(
        image=ImageIdentity("127.0.0.1:5000/shop/api:1.4", "127.0.0.1:5000", "shop/api", "sha256:" + "a" * 64),
        config=config_facts({"created": "2026-11-20T10:00:00Z", "config": {"User": "10001"}}),
        user={"name": "10001", "uid": 10001, "is_root": False, "resolved_by": "numeric"},
        signatures=signatures_fact(checks),
    )
    context = {"namespace": "shop", "run_as_non_root": True, "run_as_user": None, "from_workload": True}
    validator.validate(input_document(facts, context, dt.datetime(2026, 11, 26, 14, tzinfo=dt.timezone.utc)))

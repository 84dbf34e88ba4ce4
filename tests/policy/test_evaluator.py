"""PolicyEvaluator on the shipped policies: loading, digest, context keys, output checking."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from gate.config import from_mapping
from gate.errors import PolicyError
from gate.policy import SHIPPED_POLICY_DIR, PolicyEvaluator, RawViolation
from gate.policy._cases import deep_merge, default_document
from gate.policy._sources import CONTEXT_KEYS, Module, context_keys_read

ROOT_DOC = deep_merge(
    default_document(),
    {"config": {"user": ""}, "user": {"name": "root", "uid": 0, "is_root": True, "resolved_by": "default"}},
)


@pytest.fixture(scope="module")
def evaluator() -> PolicyEvaluator:
    return PolicyEvaluator.from_config(from_mapping({}))


def test_shipped_dir_is_the_repository_policies_directory() -> None:
    assert SHIPPED_POLICY_DIR == Path(__file__).resolve().parents[2] / "policies"
    assert (SHIPPED_POLICY_DIR / "gate.rego").is_file()


def test_root_user_is_reported_with_the_fix(evaluator: PolicyEvaluator) -> None:
    raws = evaluator.evaluate(ROOT_DOC)
    assert [raw.rule for raw in raws] == ["user.root"]
    assert "set `USER 10001` (numeric, non-root) in the final stage" in raws[0].message
    assert raws[0].details["resolved_by"] == "default"


def test_evaluation_errors_fail_closed(evaluator: PolicyEvaluator) -> None:
    doc = {**default_document(), "errors": [{"message": "registry down", "details": {"status": 503}}]}
    assert evaluator.evaluate(doc) == [RawViolation("evaluation.error", "registry down", {"status": 503})]


def test_unknown_document_version_is_an_evaluation_error(evaluator: PolicyEvaluator) -> None:
    doc = {**default_document(), "version": 2}
    assert [raw.rule for raw in evaluator.evaluate(doc)] == ["evaluation.error"]


def test_digest_changes_with_rule_params() -> None:
    plain = PolicyEvaluator.from_config(from_mapping({}))
    tuned = PolicyEvaluator.from_config(from_mapping({"rules": {"image.stale": {"max_age_days": 30}}}))
    assert plain.digest.startswith("sha256:") and len(plain.digest) == 71
    assert plain.digest != tuned.digest
    assert tuned.data["gate"]["params"]["image.stale"] == {"max_age_days": 30}


def test_shipped_policies_read_only_literal_context_keys(evaluator: PolicyEvaluator) -> None:
    assert evaluator.reads_context <= CONTEXT_KEYS
    assert {"run_as_non_root", "run_as_user"} <= evaluator.reads_context


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("p if input.context.namespace == \"x\"", {"namespace"}),
        ("# input.context[k]\np if input.user.is_root", set()),
        ("p if { c := input.context; c.namespace }", CONTEXT_KEYS),
        ("p if input.context[k]", CONTEXT_KEYS),
        ("p if object.get(input, \"context\", {})", CONTEXT_KEYS),
        ("p if { x := `#`; input.context[k] }", CONTEXT_KEYS),
        ("x := `a\n#` ; p if input.context[k]", CONTEXT_KEYS),
        ("x := \"\\\\\" # input.context[k]\np if input.context.run_as_user", {"run_as_user"}),
    ],
)
def test_context_scan_falls_back_to_every_key(source: str, expected: set[str]) -> None:
    assert context_keys_read((Module("m.rego", "package gate.rules.m\n" + source),)) == expected


def test_broken_module_is_a_policy_error_naming_it(tmp_path: Path) -> None:
    (tmp_path / "broken.rego").write_text("package gate.rules.broken\n p := \n")
    config = from_mapping({"policy": {"dirs": [str(tmp_path)]}})
    with pytest.raises(PolicyError, match="broken.rego"):
        PolicyEvaluator.from_config(config)


def test_violation_without_message_is_refused(tmp_path: Path) -> None:
    (tmp_path / "bad.rego").write_text('package gate.rules.bad\nimport rego.v1\nviolations contains {"rule": "x"} if true\n')
    evaluator = PolicyEvaluator.from_config(from_mapping({"policy": {"dirs": [str(tmp_path)]}}))
    with pytest.raises(PolicyError, match="`rule` and `message`"):
        evaluator.evaluate(ROOT_DOC)


def test_concurrent_evaluations_agree(evaluator: PolicyEvaluator) -> None:
    expected = evaluator.evaluate(ROOT_DOC)
    results: list[list[RawViolation]] = []

    def work() -> None:
        for _ in range(20):
            results.append(evaluator.evaluate(ROOT_DOC))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 80 and all(result == expected for result in results)


HOSTILE = 'a"b\\c\n`d` ünï ✓ {e} %s'


@pytest.mark.parametrize(
    "finding",
    [
        {"rule": "secret.build-arg", "detector": HOSTILE, "name": HOSTILE, "layer": 1, "history": HOSTILE},
        {"rule": "secret.env", "detector": HOSTILE, "name": HOSTILE},
        {"rule": "secret.file", "detector": HOSTILE, "path": HOSTILE, "layer": 2, "history": HOSTILE},
        {"rule": "secret.deleted-file", "detector": HOSTILE, "path": HOSTILE, "layer": 2, "deleted_in_layer": 3, "history": HOSTILE},
        {"rule": "content.source", "detector": HOSTILE, "path": HOSTILE, "layer": 2, "history": HOSTILE},
        {"rule": "content.toolchain", "detector": HOSTILE, "path": HOSTILE, "layer": 2, "history": HOSTILE},
    ],
    ids=lambda finding: finding["rule"],
)
def test_quotes_backslashes_and_unicode_in_facts_survive_into_messages(evaluator: PolicyEvaluator, finding: dict) -> None:
    """regopy's Input() and sprintf mangle such strings (see gate/policy/_embedded.py): the
    evaluator must hand them through verbatim."""
    (raw,) = evaluator.evaluate({**default_document(), "findings": [finding]})
    assert raw.rule == finding["rule"]
    assert HOSTILE in raw.message
    assert {k: v for k, v in raw.details.items()} == {k: v for k, v in finding.items() if k != "rule"}


def test_hostile_error_message_and_signer_names_survive(evaluator: PolicyEvaluator) -> None:
    document = deep_merge(default_document(), {
        "errors": [{"message": HOSTILE, "details": {"why": HOSTILE}}],
        "signatures": {"found": 1, "verified": [], "rejected": [{"layout": "x", "reason": "r", "signer": HOSTILE, "status": "untrusted"}]},
    })
    by_rule = {raw.rule: raw for raw in evaluator.evaluate(document)}
    assert by_rule["evaluation.error"].message == HOSTILE and by_rule["evaluation.error"].details == {"why": HOSTILE}
    assert HOSTILE in by_rule["signature.missing"].message


def test_digest_changes_with_namespace_and_image_policy_settings() -> None:
    plain = PolicyEvaluator.from_config(from_mapping({}))
    namespaced = PolicyEvaluator.from_config(from_mapping({"namespaces": {"shop": {"rules": {"image.stale": {"max_age_days": 7}}}}}))
    scoped = PolicyEvaluator.from_config(from_mapping({"images": [{"name": "bases", "match": ["docker.io/library/*"], "authorities": []}]}))
    assert len({plain.digest, namespaced.digest, scoped.digest}) == 3


@pytest.mark.parametrize(
    "source, read",
    [
        ("x := input.sbom.components", set()),
        ("x := [c | some c in input.sbom.component_list]", {"sbom.component_list"}),
        ("x := input.attestations[_].predicate", {"attestations"}),
        ('x := input["attestations"]', {"sbom.component_list", "attestations"}),  # input[...]: the whole input
        ("x := input.image_policies[_].attestations", set()),
        ("x := object.get(input, \"sbom\", {})", {"sbom.component_list", "attestations"}),
        ("# input.attestations in a comment\nx := input.user", set()),
    ],
)
def test_large_facts_are_filled_only_for_policies_that_read_them(source: str, read: set[str]) -> None:
    from gate.policy._sources import large_facts_read

    assert large_facts_read((Module("site/a.rego", f"package gate.rules.a\n{source}\n"),)) == read


def test_the_shipped_policies_read_no_large_fact(evaluator: PolicyEvaluator) -> None:
    assert evaluator.reads_large == frozenset()

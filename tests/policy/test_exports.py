"""The public surface of gate.policy (STYLE habit 10): what the engine, CLI and users import."""

import gate.policy


def test_exported_members() -> None:
    assert sorted(gate.policy.__all__) == [
        "CONTEXT_KEYS", "PolicyEvaluator", "RawViolation", "SHIPPED_POLICY_DIR", "check_exemptions", "decide", "effective_params",
        "evaluate_document", "input_problems", "rule_action", "run_policy_tests", "scoped_rules",
    ]
    assert all(hasattr(gate.policy, name) for name in gate.policy.__all__)

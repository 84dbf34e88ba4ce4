"""The policy engine: Rego (embedded regopy or an OPA server) over the documented input document.

``PolicyEvaluator`` loads the policies once and returns raw violations by rule ID; ``decide``
applies configured actions and exemptions. Knows nothing about registries.

    evaluator = PolicyEvaluator.from_config(config)
    raws = evaluator.evaluate(input_doc)
    violations = decide(raws, config, namespace="shop", image="registry/shop/api:1.4", now=now)
"""

from typing import TYPE_CHECKING

from gate._lazy import lazy_exports

if TYPE_CHECKING:
    from gate.policy._cases import run_policy_tests
    from gate.policy._decide import check_exemptions, decide, rule_action
    from gate.policy._eval import evaluate_document, input_problems
    from gate.policy._evaluator import PolicyEvaluator
    from gate.policy._raw import RawViolation
    from gate.policy._scoped import effective_params, scoped_rules
    from gate.policy._sources import CONTEXT_KEYS, SHIPPED_POLICY_DIR

__getattr__ = lazy_exports(
    __name__,
    {
        "._cases": ("run_policy_tests",),
        "._decide": ("check_exemptions", "decide", "rule_action"),
        "._eval": ("evaluate_document", "input_problems"),
        "._evaluator": ("PolicyEvaluator",),
        "._raw": ("RawViolation",),
        "._scoped": ("effective_params", "scoped_rules"),
        "._sources": ("CONTEXT_KEYS", "SHIPPED_POLICY_DIR"),
    },
)

__all__ = [
    "CONTEXT_KEYS",
    "SHIPPED_POLICY_DIR",
    "PolicyEvaluator",
    "RawViolation",
    "check_exemptions",
    "decide",
    "effective_params",
    "evaluate_document",
    "input_problems",
    "rule_action",
    "run_policy_tests",
    "scoped_rules",
]

"""Which exemptions let the webhook admit a whole namespace unjudged: only those that name every
rule the loaded policies can report, and never when that set is unknown (OPA with its own policies)."""

from __future__ import annotations

from pathlib import Path

from gate import config as config_module
from gate.admission._judging import whole_namespace_exemptions
from gate.policy import PolicyEvaluator
from gate.rules import RULES

SITE_RULE = '''package gate.rules.site

import rego.v1

violations contains v if {
	input.config.user == "nobody"
	v := {"rule": "acme.no-nobody", "message": "nobody is not a user"}
}
'''


def _config(rules: list[str], tmp_path: Path | None = None, **policy: object) -> config_module.Config:
    document: dict[str, object] = {"exemptions": [{"reason": "sandbox", "namespaces": ["sandbox"], "rules": rules}]}
    if policy:
        document["policy"] = policy
    return config_module.from_mapping(document, base_dir=tmp_path)


def test_an_exemption_naming_every_catalogue_rule_covers_the_namespace() -> None:
    config = _config(sorted(RULES))
    evaluator = PolicyEvaluator.from_config(config)
    assert [e.reason for e in whole_namespace_exemptions(config, evaluator.rule_ids)] == ["sandbox"]


def test_a_site_rule_the_exemption_does_not_name_keeps_the_namespace_judged(tmp_path: Path) -> None:
    (tmp_path / "site.rego").write_text(SITE_RULE)
    config = _config(sorted(RULES), tmp_path, dirs=[str(tmp_path)])
    evaluator = PolicyEvaluator.from_config(config)
    assert "acme.no-nobody" in (evaluator.rule_ids or set())
    assert whole_namespace_exemptions(config, evaluator.rule_ids) == ()
    named = _config([*sorted(RULES), "acme.no-nobody"], tmp_path, dirs=[str(tmp_path)])
    assert len(whole_namespace_exemptions(named, PolicyEvaluator.from_config(named).rule_ids)) == 1


def test_policies_held_by_an_opa_server_alone_never_exempt_a_namespace() -> None:
    """With ``opa_push: false`` the server may hold rules gate never loaded: no shortcut."""
    config = _config(sorted(RULES))
    assert whole_namespace_exemptions(config, None) == ()

"""Rule settings for one image in one namespace: overrides from the namespace and every matching
image policy, the strictest action and parameter winning; conflicts that cannot be ordered refuse."""

from __future__ import annotations

import datetime as dt

import pytest

from gate.config import from_mapping
from gate.errors import ConfigError
from gate.policy import RawViolation, decide, effective_params, scoped_rules

NOW = dt.datetime(2026, 11, 26, 14, 0, tzinfo=dt.UTC)
A, B = "sha256:" + "a" * 64, "sha256:" + "b" * 64


def entry(name: str, rules: dict) -> dict:
    return {"name": name, "match": ["ghcr.io/acme/**"], "authorities": [], "rules": rules}


def params(document: dict, namespace: str | None = None) -> dict:
    config = from_mapping(document)
    return effective_params(config, scoped_rules(config, namespace, config.images))


def test_top_level_parameters_apply_without_overrides() -> None:
    assert params({"rules": {"image.stale": {"max_age_days": 30}}})["image.stale"] == {"max_age_days": 30}


def test_a_namespace_parameter_replaces_the_top_level_one() -> None:
    document = {"rules": {"image.stale": {"max_age_days": 30}}, "namespaces": {"prod": {"rules": {"image.stale": {"max_age_days": 90}}}}}
    assert params(document, "prod")["image.stale"] == {"max_age_days": 90}
    assert params(document, "dev")["image.stale"] == {"max_age_days": 30}


def test_the_strictest_shipped_parameter_wins_across_scopes() -> None:
    deny = [{"purl": "pkg:npm/lodash"}]
    document = {
        "namespaces": {"prod": {"rules": {"image.stale": {"max_age_days": 7}, "builder.untrusted": {"allow": [A, B]}}}},
        "images": [
            entry("a", {"image.stale": {"max_age_days": 30}, "builder.untrusted": {"allow": [A]}, "sbom.denied-component": {"deny": deny}}),
            entry("b", {"sbom.denied-component": {"deny": [{"purl": "pkg:pypi/pyyaml"}]}}),
        ],
    }
    merged = params(document, "prod")
    assert merged["image.stale"] == {"max_age_days": 7}
    assert merged["builder.untrusted"] == {"allow": [A]}
    assert merged["sbom.denied-component"] == {"deny": [{"purl": "pkg:npm/lodash"}, {"purl": "pkg:pypi/pyyaml"}]}


def test_allow_lists_with_nothing_in_common_refuse_rather_than_disable_the_rule() -> None:
    document = {"images": [entry("a", {"builder.untrusted": {"allow": [A]}}), entry("b", {"builder.untrusted": {"allow": [B]}})]}
    with pytest.raises(ConfigError, match="images.a, images.b allow no builder.untrusted digest in common"):
        params(document)


def test_a_site_rule_parameter_set_differently_by_two_scopes_cannot_be_ordered(tmp_path) -> None:
    (tmp_path / "r.rego").write_text('package gate.rules.x\nimport rego.v1\nviolations contains {"rule": "acme.x", "message": "m"} if false\n')
    document = {
        "policy": {"dirs": [str(tmp_path)]},
        "images": [entry("a", {"acme.x": {"limit": 1}}), entry("b", {"acme.x": {"limit": 2}})],
    }
    with pytest.raises(ConfigError, match=r"images.a, images.b set rules.acme.x.limit to different values"):
        params(document)
    document["images"][1]["rules"]["acme.x"]["limit"] = 1
    assert params(document)["acme.x"] == {"limit": 1}


def test_the_strictest_action_of_namespace_and_image_policies_wins() -> None:
    config = from_mapping(
        {
            "rules": {"user.root": {"action": "deny"}},
            "namespaces": {"batch": {"rules": {"user.root": {"action": "off"}}}},
            "images": [entry("lenient", {"user.root": {"action": "warn"}}), entry("off", {"user.root": {"action": False}})],
        }
    )
    root = [RawViolation("user.root", "runs as root")]

    def action(namespace: str | None, policies: tuple) -> list[str]:
        return [v.action for v in decide(root, config, namespace=namespace, image="ghcr.io/acme/x:1", now=NOW, policies=policies)]

    lenient, off = config.images
    assert action(None, ()) == ["deny"]
    assert action(None, (lenient,)) == ["warn"]
    assert action(None, (off,)) == []
    assert action(None, (lenient, off)) == ["warn"]
    assert action("batch", ()) == []
    assert action("batch", (lenient,)) == ["warn"]


def test_exemption_image_patterns_match_the_normalised_reference() -> None:
    config = from_mapping({"exemptions": [{"reason": "base", "rules": ["user.root"], "images": ["docker.io/library/*"]}]})
    root = [RawViolation("user.root", "runs as root")]
    for image, exempted in (("nginx:1.25", True), ("docker.io/library/nginx", True), ("bitnami/redis:7", False), ("not a ref", False)):
        (violation,) = decide(root, config, image=image, now=NOW)
        assert (violation.action == "warn") is exempted, image

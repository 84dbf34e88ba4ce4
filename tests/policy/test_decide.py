"""decide(): action precedence (default < rules.<id> < namespaces.<ns>.rules.<id>), off, exemptions."""

from __future__ import annotations

import datetime as dt

import pytest

from gate.config import from_mapping
from gate.errors import ConfigError
from gate.policy import PolicyEvaluator, RawViolation, check_exemptions, decide

NOW = dt.datetime(2026, 11, 26, 14, 0, tzinfo=dt.timezone.utc)
ROOT = RawViolation("user.root", "runs as root", {"uid": 0})
STALE = RawViolation("image.stale", "built 200 days ago", {"age_days": 200})


def actions(config_doc: dict, raws: list[RawViolation], **kwargs) -> list[tuple[str, str]]:
    kwargs.setdefault("image", "registry.example/shop/api:1.4")
    violations = decide(raws, from_mapping(config_doc), now=NOW, **kwargs)
    return [(v.rule, v.action) for v in violations]


def test_catalogue_defaults_apply_without_configuration() -> None:
    assert actions({}, [ROOT, STALE]) == [("user.root", "deny"), ("image.stale", "warn")]


def test_rule_action_overrides_the_default() -> None:
    assert actions({"rules": {"image.stale": {"action": "deny", "max_age_days": 30}}}, [STALE]) == [("image.stale", "deny")]


def test_namespace_action_overrides_the_rule_action() -> None:
    config = {
        "rules": {"user.root": {"action": "warn"}},
        "namespaces": {"prod": {"rules": {"user.root": {"action": "deny"}}}},
    }
    assert actions(config, [ROOT], namespace="prod") == [("user.root", "deny")]
    assert actions(config, [ROOT], namespace="dev") == [("user.root", "warn")]
    assert actions(config, [ROOT]) == [("user.root", "warn")]


def test_off_drops_the_violation() -> None:
    assert actions({"namespaces": {"sandbox": {"rules": {"image.stale": {"action": "off"}}}}}, [STALE], namespace="sandbox") == []


def test_custom_rule_takes_its_rego_action_or_deny() -> None:
    raws = [RawViolation("acme.team-label", "no team label"), RawViolation("acme.note", "fyi", default_action="warn")]
    assert actions({}, raws) == [("acme.team-label", "deny"), ("acme.note", "warn")]


def test_catalogue_rule_ignores_an_action_set_in_rego() -> None:
    assert actions({}, [RawViolation("user.root", "root", default_action="warn")]) == [("user.root", "deny")]


EXEMPT = {
    "exemptions": [
        {"reason": "legacy batch job, ticket OPS-12", "rules": ["user.root"], "namespaces": ["batch"],
         "images": ["registry.example/legacy/*"], "expires": "2026-12-31"},
    ]
}


def test_active_exemption_downgrades_to_warn_and_says_so() -> None:
    config = from_mapping(EXEMPT)
    (violation,) = decide([ROOT], config, namespace="batch", image="registry.example/legacy/etl:7", now=NOW)
    assert violation.action == "warn"
    assert violation.message.startswith("exempted until 2026-12-31 (legacy batch job, ticket OPS-12): runs as root")
    assert violation.details == {"uid": 0, "exemption": {"reason": "legacy batch job, ticket OPS-12", "expires": "2026-12-31", "expired": False}}


@pytest.mark.parametrize(
    ("namespace", "image", "rule"),
    [
        ("web", "registry.example/legacy/etl:7", "user.root"),  # other namespace
        ("batch", "registry.example/shop/api:1", "user.root"),  # other image
        ("batch", "registry.example/legacy/etl:7", "image.stale"),  # other rule
    ],
)
def test_exemption_needs_every_listed_selector_to_match(namespace: str, image: str, rule: str) -> None:
    raw = RawViolation(rule, "m")
    (violation,) = decide([raw], from_mapping(EXEMPT), namespace=namespace, image=image, now=NOW)
    assert "exemption" not in violation.details
    assert (violation.action, violation.message) == ({"user.root": "deny", "image.stale": "warn"}[rule], "m")  # untouched


def test_image_pattern_matches_the_repository_without_tag_or_digest() -> None:
    config = from_mapping({"exemptions": [{"reason": "r", "rules": ["user.root"], "images": ["registry.example/legacy/etl"]}]})
    for image in ("registry.example/legacy/etl:7", "registry.example/legacy/etl@sha256:" + "a" * 64, "127.0.0.1:5000/x"):
        (violation,) = decide([ROOT], config, image=image, now=NOW)
        assert (violation.action == "warn") is image.startswith("registry.example")


def test_exemption_is_valid_through_its_expiry_day_then_reported_as_expired() -> None:
    config = from_mapping(EXEMPT)
    last_day = dt.datetime(2026, 12, 31, 23, 59, tzinfo=dt.timezone.utc)
    assert decide([ROOT], config, namespace="batch", image="registry.example/legacy/etl:7", now=last_day)[0].action == "warn"
    (expired,) = decide([ROOT], config, namespace="batch", image="registry.example/legacy/etl:7", now=last_day + dt.timedelta(minutes=1))
    assert expired.action == "deny"
    assert expired.message == "runs as root (exemption expired on 2026-12-31: legacy batch job, ticket OPS-12)"
    assert expired.details["exemption"]["expired"] is True


def test_a_valid_exemption_wins_over_an_expired_one() -> None:
    config = from_mapping({"exemptions": [
        {"reason": "old", "rules": ["user.root"], "expires": "2026-01-01"},
        {"reason": "renewed", "rules": ["user.root"], "expires": "2027-01-01"},
    ]})
    (violation,) = decide([ROOT], config, now=NOW)
    assert violation.action == "warn" and violation.details["exemption"]["reason"] == "renewed"


def test_off_beats_exemption_and_exemption_does_not_resurrect() -> None:
    config = {"rules": {"user.root": {"action": "off"}}, **EXEMPT}
    assert actions(config, [ROOT], namespace="batch", image="registry.example/legacy/etl:7") == []


def test_exemption_without_rules_is_refused_at_start_up() -> None:
    config = from_mapping({"exemptions": [{"reason": "everything", "namespaces": ["dev"]}]})
    with pytest.raises(ConfigError, match=r"exemptions\[0\]\.rules"):
        check_exemptions(config)
    with pytest.raises(ConfigError, match=r"exemptions\[0\]\.rules"):
        PolicyEvaluator.from_config(config)

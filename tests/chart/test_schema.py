"""values.schema.json refuses bad values before anything renders (issue 8 §4)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gate.rules import RULES
from tests.chart._helm import CHART, render, render_error

BAD_VALUES: dict[str, tuple[dict[str, Any], str]] = {
    "unknown top-level key": ({"replicas": 3}, "additional properties 'replicas' not allowed"),
    "unknown key in webhook": ({"webhook": {"timeout": 10}}, "additional properties 'timeout' not allowed"),
    "unknown key in image": ({"image": {"sha": "x"}}, "additional properties 'sha' not allowed"),
    "unknown key in tls": ({"tls": {"certManager": {"enable": True}}}, "additional properties 'enable' not allowed"),
    "timeout above 30": ({"webhook": {"timeoutSeconds": 31}}, "/webhook/timeoutSeconds"),
    "timeout zero": ({"webhook": {"timeoutSeconds": 0}}, "/webhook/timeoutSeconds"),
    "timeout as string": ({"webhook": {"timeoutSeconds": "10"}}, "/webhook/timeoutSeconds"),
    "replicas as string": ({"replicaCount": "3"}, "/replicaCount"),
    "unknown mode": ({"mode": "block"}, "/mode"),
    "failOpen as string": ({"failOpen": "yes"}, "/failOpen"),
    "failurePolicy typo": ({"webhook": {"failurePolicy": "fail"}}, "/webhook/failurePolicy"),
    "digest without algorithm": ({"image": {"digest": "ab" * 32}}, "/image/digest"),
    "short digest": ({"image": {"digest": "sha256:abc"}}, "/image/digest"),
    "opa digest malformed": ({"opa": {"sidecar": {"image": {"digest": "latest"}}}}, "/opa/sidecar/image/digest"),
    "unknown rule ID": ({"rules": {"secret.files": {"action": "deny"}}}, "secret.files"),
    "misspelled parameter": ({"rules": {"image.stale": {"max_age_day": 30}}}, "additional properties 'max_age_day' not allowed"),
    "mistyped parameter": ({"rules": {"image.stale": {"max_age_days": "30"}}}, "/rules/image.stale/max_age_days"),
    "parameter of a rule without any": ({"namespaces": {"shop": {"rules": {"user.root": {"allow": True}}}}}, "additional properties 'allow' not allowed"),
    "null site rule parameter": ({"rules": {"acme.no-latest": {"tags": None}}}, "/rules/acme.no-latest/tags"),
    "image policy without authorities": ({"images": [{"name": "a", "match": ["ghcr.io/a/**"]}]}, "/images/0"),
    "image policy key outside the mounted keys": ({"images": [{"name": "a", "match": ["ghcr.io/a/**"], "authorities": [{"key": "/etc/passwd"}]}]}, "/images/0/authorities/0/key"),
    "image policy rule parameter mistyped": (
        {"images": [{"name": "a", "match": ["x.io/*"], "authorities": [], "rules": {"image.stale": {"max_age_days": -1}}}]}, "/images/0/rules/image.stale/max_age_days"
    ),
    "unknown certificate extension": (
        {"images": [{"name": "a", "match": ["x.io/*"], "authorities": [{"keyless": {"issuer": "i", "subject": "s", "extensions": {"trigger": "push"}}}]}]},
        "trigger",
    ),
    "unknown rule action": ({"rules": {"user.root": {"action": "block"}}}, "/rules/user.root/action"),
    "keyless without subject": ({"trust": {"keyless": [{"issuer": "https://issuer.example"}]}}, "/trust/keyless/0"),
    "keyless with both subjects": ({"trust": {"keyless": [{"issuer": "i", "subject": "a", "subject_regex": "b"}]}}, "/trust/keyless/0"),
    "exemption without reason": ({"exemptions": [{"rules": ["user.root"]}]}, "/exemptions/0"),
    "unknown limit": ({"limits": {"timeout": 5}}, "additional properties 'timeout' not allowed"),
    "rego file name": ({"policies": {"extraRego": {"team.txt": "package x"}}}, "invalid propertyName 'team.txt'"),
    "public keys as list": ({"trust": {"publicKeys": ["cosign.pub"]}}, "/trust/publicKeys"),
    "env without name": ({"env": [{"value": "x"}]}, "/env/0"),
    "tolerations as map": ({"tolerations": {"key": "x"}}, "/tolerations"),
    "DNS name with a scheme": ({"tls": {"extraDnsNames": ["https://gate.example.com"]}}, "/tls/extraDnsNames/0"),
    "verifier without key": ({"trust": {"verifiers": [{"id": "https://ci.example/gate"}]}}, "/trust/verifiers/0"),
    "verifier id not a URI": ({"trust": {"verifiers": [{"id": "ci gate", "publicKey": "PEM"}]}}, "/trust/verifiers/0/id"),
    "verifier max age zero": ({"trust": {"verifiers": [{"id": "https://ci.example/gate", "publicKey": "PEM", "maxAgeHours": 0}]}}, "/trust/verifiers/0/maxAgeHours"),
    "unknown key in attest": ({"attest": {"key": "x"}}, "additional properties 'key' not allowed"),
    "negative scan worker processes": ({"scan": {"worker_processes": -1}}, "/scan/worker_processes"),
    "scan worker processes as string": ({"scan": {"worker_processes": "2"}}, "/scan/worker_processes"),
}


@pytest.mark.parametrize("case", sorted(BAD_VALUES))
def test_schema_rejects(case: str, tmp_path: Path) -> None:
    values, expected = BAD_VALUES[case]
    message = render_error(values, tmp_path)
    assert "values don't meet the specifications of the schema" in message
    assert expected in message


def test_schema_accepts_a_good_neighbour_of_each_rejection(tmp_path: Path) -> None:
    """The rejections above are about the bad part: the nearest good values render."""
    good = {
        "replicaCount": 2,
        "webhook": {"timeoutSeconds": 30, "failurePolicy": "Ignore"},
        "image": {"digest": "sha256:" + "ab" * 32},
        "rules": {"user.root": {"action": False}, "acme.no-latest": {"action": "warn", "tags": ["latest"]}, "image.stale": {"max_age_days": 30}},
        "images": [{"name": "a", "match": ["x.io/*"], "authorities": [{"key": "trust/image-keys/a.pub"}], "rules": {"image.stale": {"max_age_days": 7}}}],
        "trust": {
            "keyless": [{"issuer": "https://issuer.example", "subject": "a"}],
            "verifiers": [{"id": "https://ci.example/gate", "publicKey": "PEM", "maxAgeHours": 0.5}],
        },
        "attest": {"existingSecret": "key", "verifierId": "https://ci.example/gate"},
        "exemptions": [{"reason": "vendor", "rules": ["user.root"]}],
        "limits": {"timeout_seconds": 5},
        "scan": {"layers": True, "worker_processes": 0},
        "policies": {"extraRego": {"team.rego": "package x"}},
    }
    render(good, tmp_path)


def test_attest_secret_needs_a_verifier_id(tmp_path: Path) -> None:
    assert "attest.verifierId is required" in render_error({"attest": {"existingSecret": "gate-attest-key"}}, tmp_path)


def _schema() -> dict[str, Any]:
    return json.loads((CHART / "values.schema.json").read_text(encoding="utf-8"))


def test_schema_knows_exactly_gates_rule_ids() -> None:
    """Mapping check: a rule added to gate.rules must be allowed in values, and no stale ID stays;
    every place rules are set (top level, namespaces, images, exemptions) uses the same definition."""
    schema = _schema()
    properties, definitions = schema["properties"], schema["definitions"]
    assert definitions["ruleId"]["anyOf"][0]["enum"] == sorted(RULES)
    assert sorted(definitions["rules"]["properties"]) == sorted(RULES)
    assert properties["rules"] == {"$ref": "#/definitions/rules"}
    assert properties["namespaces"]["additionalProperties"]["properties"]["rules"] == {"$ref": "#/definitions/rules"}
    assert properties["images"]["items"]["properties"]["rules"] == {"$ref": "#/definitions/rules"}
    assert properties["exemptions"]["items"]["properties"]["rules"]["items"] == {"$ref": "#/definitions/ruleId"}


def test_schema_types_the_parameters_gate_types() -> None:
    """Mapping check: each shipped rule's parameters in values are exactly gate's typed parameters."""
    from gate.config import RULE_PARAMS

    for rule, settings in _schema()["definitions"]["rules"]["properties"].items():
        expected = set(RULE_PARAMS[rule].model_fields) if rule in RULE_PARAMS else set()
        assert set(settings["properties"]) - {"action"} == expected, rule
        assert settings["additionalProperties"] is False, rule


def test_schema_knows_gates_certificate_extensions() -> None:
    from gate.config import FULCIO_EXTENSIONS

    keyless = _schema()["properties"]["images"]["items"]["properties"]["authorities"]["items"]["properties"]["keyless"]
    assert keyless["properties"]["extensions"]["propertyNames"]["enum"] == list(FULCIO_EXTENSIONS)


def test_schema_limits_are_gates_limits() -> None:
    from gate.config import Limits

    assert set(_schema()["properties"]["limits"]["properties"]) == set(Limits.model_fields)


def test_every_default_value_is_described_by_the_schema() -> None:
    """Top level and every key object close their properties: no value escapes validation."""
    import yaml

    defaults = yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8"))
    schema = _schema()
    assert schema["additionalProperties"] is False
    assert set(defaults) <= set(schema["properties"])
    for key in ("image", "webhook", "tls", "trust", "registries", "opa", "rbac", "events", "metrics", "networkPolicy"):
        assert schema["properties"][key]["additionalProperties"] is False, key
        assert set(defaults[key]) <= set(schema["properties"][key]["properties"]), key

"""The ValidatingWebhookConfiguration and the TLS it trusts (issue 8 §1-§3).

The Helm-generated CA is reused on upgrade through `lookup` of the existing Secret. `helm
template` has no API server, so lookup returns nothing here and each render is a first install;
tests/chart/test_lookup.py drives the upgrade path against an API server test double.
"""

from __future__ import annotations

import base64
import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from tests.chart._helm import FULLNAME, NAMESPACE, Rendered, render, render_error


def test_webhook_safety_settings(rendered: dict[str, Rendered]) -> None:
    hook = rendered["defaults"].webhook
    assert hook["admissionReviewVersions"] == ["v1"]
    assert hook["sideEffects"] == "None"
    assert hook["matchPolicy"] == "Equivalent"
    assert hook["timeoutSeconds"] == 10
    assert hook["failurePolicy"] == "Ignore", "no trust yet: warn mode, so gate never blocks a first install"
    assert rendered["full-config"].webhook["failurePolicy"] == "Fail"
    assert hook["clientConfig"]["service"] == {"name": FULLNAME, "namespace": NAMESPACE, "path": "/validate", "port": 443}
    assert "objectSelector" not in hook


def test_rules_cover_pods_ephemeral_containers_and_every_pod_template_kind(rendered: dict[str, Rendered]) -> None:
    covered = {}
    for rule in rendered["defaults"].webhook["rules"]:
        for resource in rule["resources"]:
            covered[(rule["apiGroups"][0], resource)] = set(rule["operations"])
    expected = {
        ("", "pods"), ("", "replicationcontrollers"), ("", "podtemplates"),
        ("apps", "deployments"), ("apps", "replicasets"), ("apps", "statefulsets"), ("apps", "daemonsets"),
        ("batch", "jobs"), ("batch", "cronjobs"),
    }
    for key in expected:
        assert covered[key] == {"CREATE", "UPDATE"}, key
    # kubectl debug adds ephemeral containers through this subresource, as an UPDATE.
    assert covered[("", "pods/ephemeralcontainers")] == {"UPDATE"}
    assert set(covered) == expected | {("", "pods/ephemeralcontainers")}


def test_namespace_selector_spares_system_gate_and_opted_out_namespaces(rendered: dict[str, Rendered], tmp_path: Path) -> None:
    by_key = {e["key"]: e for e in rendered["defaults"].webhook["namespaceSelector"]["matchExpressions"]}
    names = by_key["kubernetes.io/metadata.name"]
    assert names["operator"] == "NotIn" and names["values"] == ["kube-system", NAMESPACE]
    assert by_key["gate.dev/ignore"] == {"key": "gate.dev/ignore", "operator": "NotIn", "values": ["true"]}
    extra = render({"webhook": {"excludeNamespaces": ["monitoring", "kube-system"]}}, tmp_path).webhook
    excluded = extra["namespaceSelector"]["matchExpressions"][0]["values"]
    assert excluded == ["kube-system", NAMESPACE, "monitoring"]


def test_object_selector_is_optional(rendered: dict[str, Rendered]) -> None:
    assert rendered["object-selector"].webhook["objectSelector"] == {"matchLabels": {"gate.dev/enforce": "true"}}


@pytest.mark.parametrize(
    ("scenario", "failure_policy", "mode", "fail_open"),
    [
        ("defaults", "Ignore", "warn", False),
        ("full-config", "Fail", "enforce", False),
        ("warn", "Ignore", "warn", False),
        ("audit", "Ignore", "audit", False),
        ("fail-open", "Ignore", "warn", True),
    ],
)
def test_modes_and_fail_open(scenario: str, failure_policy: str, mode: str, fail_open: bool, rendered: dict[str, Rendered]) -> None:
    assert rendered[scenario].webhook["failurePolicy"] == failure_policy
    assert rendered[scenario].gate_config["mode"] == mode
    assert rendered[scenario].gate_config["fail_open"] is fail_open


def test_failure_policy_can_be_set_but_not_against_fail_open(tmp_path: Path) -> None:
    strict_warn = render({"mode": "warn", "webhook": {"failurePolicy": "Fail"}}, tmp_path)
    assert strict_warn.webhook["failurePolicy"] == "Fail"
    message = render_error({"failOpen": True, "webhook": {"failurePolicy": "Fail"}}, tmp_path)
    assert "contradicts failOpen" in message


@pytest.mark.parametrize(("timeout", "deadline"), [(10, 8), (30, 28), (3, 1)])
def test_gate_deadline_stays_below_the_api_server_timeout(timeout: int, deadline: int, tmp_path: Path) -> None:
    scenario = render({"webhook": {"timeoutSeconds": timeout}}, tmp_path)
    assert scenario.webhook["timeoutSeconds"] == timeout
    assert scenario.gate_config["limits"]["deadline_seconds"] == deadline


def test_explicit_deadline_must_be_below_the_timeout(tmp_path: Path) -> None:
    assert render({"limits": {"deadline_seconds": 9.5}}, tmp_path).gate_config["limits"]["deadline_seconds"] == 9.5
    assert "must be below webhook.timeoutSeconds" in render_error({"limits": {"deadline_seconds": 10}}, tmp_path)
    assert "less than 1 second" in render_error({"webhook": {"timeoutSeconds": 2}}, tmp_path)


def _pem(b64: str) -> bytes:
    return base64.b64decode(b64)


def test_ca_bundle_is_the_ca_that_signed_the_served_certificate(rendered: dict[str, Rendered]) -> None:
    scenario = rendered["events"]  # three Services in front of gate: all must be in the certificate
    secret = scenario.one("Secret", f"{FULLNAME}-tls")
    assert secret["type"] == "kubernetes.io/tls"
    ca = x509.load_pem_x509_certificate(_pem(scenario.webhook["clientConfig"]["caBundle"]))
    assert _pem(secret["data"]["ca.crt"]) == ca.public_bytes(serialization.Encoding.PEM)
    served = x509.load_pem_x509_certificate(_pem(secret["data"]["tls.crt"]))
    served.verify_directly_issued_by(ca)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    names = served.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    for service in (FULLNAME, f"{FULLNAME}-events", f"{FULLNAME}-metrics"):
        assert f"{service}.{NAMESPACE}.svc" in names
    assert "gate-events.example.com" in names  # tls.extraDnsNames, for a registry outside the cluster
    usages = served.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.SERVER_AUTH in usages
    now = dt.datetime.now(dt.timezone.utc)
    assert served.not_valid_before_utc <= now < served.not_valid_after_utc
    key = serialization.load_pem_private_key(_pem(secret["data"]["tls.key"]), password=None)
    assert key.public_key().public_numbers() == served.public_key().public_numbers()
    ca_key = serialization.load_pem_private_key(_pem(secret["data"]["ca.key"]), password=None)
    assert ca_key.public_key().public_numbers() == ca.public_key().public_numbers()  # kept to re-issue on upgrade


def test_cert_manager_issues_the_certificate_and_injects_the_ca(rendered: dict[str, Rendered]) -> None:
    scenario = rendered["cert-manager"]
    assert not [s for s in scenario.all("Secret") if s["metadata"]["name"] == f"{FULLNAME}-tls"]
    vwc = scenario.one("ValidatingWebhookConfiguration")
    assert vwc["metadata"]["annotations"]["cert-manager.io/inject-ca-from"] == f"{NAMESPACE}/{FULLNAME}-tls"
    assert "caBundle" not in scenario.webhook["clientConfig"]
    certificate = scenario.one("Certificate", f"{FULLNAME}-tls")["spec"]
    assert certificate["secretName"] == f"{FULLNAME}-tls"
    assert f"{FULLNAME}.{NAMESPACE}.svc" in certificate["dnsNames"]
    assert certificate["issuerRef"] == {"name": f"{FULLNAME}-ca", "kind": "Issuer", "group": "cert-manager.io"}
    ca_issuer = scenario.one("Issuer", f"{FULLNAME}-ca")["spec"]["ca"]["secretName"]
    assert scenario.one("Certificate", f"{FULLNAME}-ca")["spec"]["isCA"] is True
    assert ca_issuer == f"{FULLNAME}-ca"


def test_cert_manager_with_your_issuer_creates_none(rendered: dict[str, Rendered]) -> None:
    scenario = rendered["cert-manager-own-issuer"]
    assert not scenario.all("Issuer")
    assert [c["metadata"]["name"] for c in scenario.all("Certificate")] == [f"{FULLNAME}-tls"]
    assert scenario.one("Certificate")["spec"]["issuerRef"] == {"name": "corp-ca", "kind": "ClusterIssuer", "group": "cert-manager.io"}

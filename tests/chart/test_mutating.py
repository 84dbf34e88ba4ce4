"""The MutatingWebhookConfiguration that pins tags, and a first install that cannot block a cluster."""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate
import pytest

from tests.chart._helm import FULLNAME, NAMESPACE, Rendered, render, render_error
from tests.chart.conftest import public_key_pem
from tests.chart.test_render import KUBERNETES_VERSION

SHARED = ("admissionReviewVersions", "sideEffects", "failurePolicy", "matchPolicy", "timeoutSeconds", "rules", "namespaceSelector")


@pytest.mark.parametrize("scenario", ["defaults", "full-config", "object-selector", "fail-open", "warn", "everything"])
def test_the_mutating_webhook_selects_and_fails_exactly_like_the_validating_one(scenario: str, rendered: dict[str, Rendered]) -> None:
    validating, mutating = rendered[scenario].webhook, rendered[scenario].mutating_webhook
    for field in SHARED:
        assert mutating[field] == validating[field], field
    assert mutating.get("objectSelector") == validating.get("objectSelector")
    assert mutating["clientConfig"].get("caBundle") == validating["clientConfig"].get("caBundle")
    assert scenario == "everything" or mutating["clientConfig"]["caBundle"], "the Helm-generated CA (cert-manager injects its own)"
    assert mutating["clientConfig"]["service"] == {**validating["clientConfig"]["service"], "path": "/mutate"}
    assert mutating["reinvocationPolicy"] == "IfNeeded"
    assert mutating["sideEffects"] == "None"
    assert mutating["name"] != validating["name"]
    assert rendered[scenario].gate_config["mutate"] is True


def test_the_mutating_configuration_is_a_valid_kubernetes_object(rendered: dict[str, Rendered]) -> None:
    for scenario in ("defaults", "everything"):
        configuration = rendered[scenario].one("MutatingWebhookConfiguration", FULLNAME)
        kubernetes_validate.validate(configuration, KUBERNETES_VERSION, strict=True)


def test_cert_manager_injects_the_ca_into_both_webhooks(rendered: dict[str, Rendered]) -> None:
    scenario = rendered["cert-manager"]
    for kind in ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"):
        annotations = scenario.one(kind, FULLNAME)["metadata"]["annotations"]
        assert annotations["cert-manager.io/inject-ca-from"] == f"{NAMESPACE}/{FULLNAME}-tls"


def test_mutation_can_be_turned_off(tmp_path: Path) -> None:
    scenario = render({"mutate": False}, tmp_path)
    assert not scenario.all("MutatingWebhookConfiguration")
    assert scenario.gate_config["mutate"] is False


@pytest.mark.parametrize("repository", ["gate", "docker.io/library/gate"])
def test_default_values_refuse_to_render_an_image_nobody_published(repository: str, tmp_path: Path) -> None:
    values = {} if repository == "gate" else {"image": {"repository": repository}}
    message = render_error(values, tmp_path, published=False)
    assert "image.repository is the chart's default, which names no published image" in message
    assert "set image.repository" in message


def test_a_first_install_warns_until_trust_is_configured(tmp_path: Path) -> None:
    first = render({}, tmp_path)
    assert first.gate_config["mode"] == "warn"
    assert first.webhook["failurePolicy"] == first.mutating_webhook["failurePolicy"] == "Ignore"
    trusted = render({"trust": {"publicKeys": {"cosign.pub": public_key_pem()}}}, tmp_path)
    assert trusted.gate_config["mode"] == "enforce"
    assert trusted.webhook["failurePolicy"] == trusted.mutating_webhook["failurePolicy"] == "Fail"
    keyless = render({"trust": {"keyless": [{"issuer": "https://accounts.google.com", "subject": "ci@acme.example"}]}}, tmp_path)
    assert keyless.gate_config["mode"] == "enforce"
    chosen = render({"mode": "audit", "trust": {"publicKeys": {"cosign.pub": public_key_pem()}}}, tmp_path)
    assert chosen.gate_config["mode"] == "audit", "an explicit mode always wins"

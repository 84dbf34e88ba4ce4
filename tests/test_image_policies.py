"""Image policies (``images:``) end to end through the real CLI, against the real test registry.

Images are pushed with the image factory and signed with ``SigstoreInstanceDouble`` (the test
double of a private Sigstore instance, as in test_end_to_end.py) and plain cosign-style keys: an
``acme`` key for our images, a ``vendor`` key for a vendor's, and the ``trust.keys`` key the
config had before image policies existed. Every test runs ``gate check image … --output json``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric import ec

from gate.cli import main
from tests.support.push import PushedManifest
from tests.support.registry_server import RegistryServer
from tests.support.reports import only_evidence
from tests.support.sigstore_double import (
    Keyless,
    SigstoreInstanceDouble,
    pem_public,
    statement,
)
from tests.test_end_to_end import Signing, app_image, rule_ids, violations

ISSUER = "https://token.actions.example"
WORKFLOW = "https://github.com/acme/api/.github/workflows/release.yml@refs/heads/main"
VULN_SUMMARY = "https://acme.example/attestations/vuln-summary/v1"
# The evidence rules other than the ones under test stay quiet: what matters here is who signed.
QUIET = {"provenance.missing": {"action": "off"}, "provenance.unverified": {"action": "off"}, "sbom.missing": {"action": "off"}}

Check = Callable[..., tuple[int, dict[str, Any]]]


@pytest.fixture(scope="module")
def double() -> SigstoreInstanceDouble:
    return SigstoreInstanceDouble()


@pytest.fixture(scope="module")
def signers(registry: RegistryServer, double: SigstoreInstanceDouble) -> dict[str, Signing]:
    """One signing helper per key: ``acme``, ``vendor`` and ``legacy`` (the ``trust.keys`` key)."""
    return {name: Signing(registry, double, ec.generate_private_key(ec.SECP256R1())) for name in ("acme", "vendor", "legacy")}


@pytest.fixture(scope="module")
def key_dir(tmp_path_factory: pytest.TempPathFactory, signers: dict[str, Signing], double: SigstoreInstanceDouble) -> Path:
    directory = tmp_path_factory.mktemp("image-policies")
    for name, signing in signers.items():
        (directory / f"{name}.pub").write_bytes(pem_public(signing.key))
    (directory / "trusted_root.json").write_bytes(double.trusted_root_json())
    return directory


@pytest.fixture
def check(key_dir: Path, registry: RegistryServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Check:
    """``gate check image REF --output json [extra]`` with ``images`` (and ``rules``) in a config that
    also trusts ``legacy.pub`` under ``trust.keys``: (exit code, the one result)."""

    def run(reference: str, images: list[dict[str, Any]], *extra: str, rules: Mapping[str, Any] | None = None, **more: Any) -> tuple[int, dict[str, Any]]:
        document = {
            "trust": {"keys": ["legacy.pub"], "trusted_root": "trusted_root.json"},
            "registries": {"insecure": [registry.host]},
            "rules": {**QUIET, **(rules or {})},
            "images": images,
            **more,
        }
        path = key_dir / f"gate-{tmp_path.name}.yaml"
        path.write_text(yaml.safe_dump(document, sort_keys=False))
        code = main(["check", "image", reference, "--config", str(path), "--output", "json", *extra])
        (result,) = json.loads(capsys.readouterr().out)["results"]
        return code, result

    return run


def pushed(registry: RegistryServer, repo: str, path: str, *, user: str = "10001") -> PushedManifest:
    """A clean image pushed as ``<path>/<unique tail>:1``."""
    return app_image().config(user=user).push(registry, f"{path}/{repo.split('/', 1)[1]}:1")


def ref(image: PushedManifest) -> str:
    return f"{image.host}/{image.repository}:1"


def acme(registry: RegistryServer, **fields: Any) -> dict[str, Any]:
    return {"name": "acme", "match": [f"{registry.host}/acme/**"], "authorities": [{"name": "acme-release", "key": "acme.pub"}], **fields}


def vendor(registry: RegistryServer, **fields: Any) -> dict[str, Any]:
    return {"name": "vendor", "match": [f"{registry.host}/vendor/**"], "authorities": [{"name": "vendor-key", "key": "vendor.pub"}], **fields}


def test_a_vendor_key_cannot_make_an_acme_image_pass(check: Check, signers: dict[str, Signing], registry: RegistryServer, repo: str) -> None:
    ours, theirs = pushed(registry, repo, "acme"), pushed(registry, repo, "vendor")
    signers["vendor"].sign(ours, signers["vendor"].keyed)
    signers["vendor"].sign(theirs, signers["vendor"].keyed)
    policies = [acme(registry), vendor(registry)]

    code, result = check(ref(ours), policies)
    assert code == 1 and rule_ids(result) == {"signature.missing"}
    (violation,) = violations(result, "signature.missing")
    assert "image policy `acme` needs 1 of its authorities (acme-release)" in violation["message"]
    assert "signed by: none; missing: acme-release" in violation["message"]
    assert "do not count for this image" in violation["message"]
    assert violation["details"]["image_policy"] == "acme" and violation["details"]["missing"] == ["acme-release"]

    code, result = check(ref(theirs), policies)
    assert code == 0 and result["violations"] == []
    (signer,) = only_evidence(result)["signatures"]
    assert signer["authorities"] == ["vendor-key"] and signer["kind"] == "key"


@pytest.mark.parametrize("signed_by, passes", [(("acme",), False), (("acme", "vendor"), True), (("acme", "acme"), False)])
def test_a_threshold_counts_distinct_authorities(
    check: Check, signers: dict[str, Signing], registry: RegistryServer, repo: str, signed_by: tuple[str, ...], passes: bool
) -> None:
    image = pushed(registry, repo, "acme")
    for index, name in enumerate(signed_by):
        signers[name].sign(image, signers[name].keyed, "sig" if index == 0 else "bundle")
    authorities = [{"name": "acme-release", "key": "acme.pub"}, {"name": "vendor-countersign", "key": "vendor.pub"}]
    code, result = check(ref(image), [acme(registry, authorities=authorities, threshold=2)])
    assert (code == 0) is passes, result["violations"]
    if not passes:
        (violation,) = violations(result, "signature.missing")
        assert violation["details"]["signed_by"] == ["acme-release"] and violation["details"]["missing"] == ["vendor-countersign"]


@pytest.mark.parametrize("trigger, passes", [("push", True), ("pull_request", False)])
def test_keyless_certificate_extensions_are_matched(
    check: Check, signers: dict[str, Signing], registry: RegistryServer, repo: str, trigger: str, passes: bool
) -> None:
    image = pushed(registry, repo, "acme")
    extensions = (("github_workflow_trigger", trigger), ("source_repository_ref", "refs/heads/main"))
    signers["acme"].sign(image, Keyless(WORKFLOW, ISSUER, extensions=extensions), "bundle")
    keyless = {
        "issuer": ISSUER,
        "subject_regex": r"^https://github\.com/acme/.+$",
        "extensions": {"github_workflow_trigger": "push", "source_repository_ref": "refs/heads/main"},
    }
    code, result = check(ref(image), [acme(registry, authorities=[{"name": "acme-ci", "keyless": keyless}])])
    assert (code == 0) is passes, result["violations"]
    if passes:
        (signer,) = only_evidence(result)["signatures"]
        assert signer["extensions"] == dict(extensions) and signer["authority"] == "acme-ci"
    else:
        (violation,) = violations(result, "signature.missing")
        assert violation["details"]["untrusted_signers"] == [f"{ISSUER} {WORKFLOW}"] and violation["details"]["missing"] == ["acme-ci"]


def test_an_entry_without_authorities_admits_unsigned_images_it_matches_only(check: Check, registry: RegistryServer, repo: str) -> None:
    bases = {"name": "public-bases", "match": [f"{registry.host}/library/*"], "authorities": []}
    base, other = pushed(registry, repo, "library"), pushed(registry, repo, "other")
    assert check(ref(base), [bases])[0] == 0
    code, result = check(ref(other), [bases])
    assert code == 1 and rule_ids(result) == {"signature.missing"}  # unmatched: trust.keys, which did not sign it


def test_overlapping_entries_must_all_hold(check: Check, signers: dict[str, Signing], registry: RegistryServer, repo: str) -> None:
    image = pushed(registry, repo, "acme/payments")
    signers["acme"].sign(image, signers["acme"].keyed)
    payments = {"name": "payments", "match": [f"{registry.host}/acme/payments/*"], "authorities": [{"name": "payments-key", "key": "vendor.pub"}]}
    code, result = check(ref(image), [acme(registry), payments])
    assert code == 1
    (violation,) = violations(result, "signature.missing")
    assert violation["details"]["image_policy"] == "payments"
    signers["vendor"].sign(image, signers["vendor"].keyed, "bundle")
    assert check(ref(image), [acme(registry), payments])[0] == 0


def test_namespace_scoped_entries_apply_only_in_their_namespaces(check: Check, signers: dict[str, Signing], registry: RegistryServer, repo: str) -> None:
    image = pushed(registry, repo, "acme")
    signers["acme"].sign(image, signers["acme"].keyed)
    strict = {"name": "payments-only", "match": [f"{registry.host}/acme/**"], "namespaces": ["payments", "pay-*"], "authorities": [{"key": "vendor.pub"}]}
    policies = [acme(registry), strict]
    for namespace in ("payments", "pay-eu"):
        code, result = check(ref(image), policies, "--namespace", namespace)
        assert code == 1 and violations(result, "signature.missing")[0]["details"]["image_policy"] == "payments-only"
    assert check(ref(image), policies, "--namespace", "shop")[0] == 0
    assert check(ref(image), policies)[0] == 0  # no namespace: the scoped entry does not apply


@pytest.mark.parametrize("attested_by, present", [(None, False), ("vendor", True), ("acme", True)])
def test_a_required_attestation_must_be_signed_by_the_entrys_authorities(
    check: Check, signers: dict[str, Signing], registry: RegistryServer, repo: str, attested_by: str | None, present: bool
) -> None:
    image = pushed(registry, repo, "acme")
    signers["acme"].sign(image, signers["acme"].keyed)
    if attested_by is not None:
        document = statement(image.digest, VULN_SUMMARY, {"critical": 0, "high": 2})
        signers[attested_by].attest(image, document, signers[attested_by].keyed)
    code, result = check(ref(image), [acme(registry, attestations=[{"type": VULN_SUMMARY}]), vendor(registry)])
    if attested_by == "acme":
        assert code == 0, result["violations"]
        return
    assert code == 1 and rule_ids(result) == {"attestation.missing"}
    (violation,) = violations(result, "attestation.missing")
    assert violation["details"] == {"image_policy": "acme", "predicate_type": VULN_SUMMARY, "present": present, "authorities": ["acme-release"]}
    assert ("none is signed by the entry's authorities" if present else "none is attached") in violation["message"]


def test_per_image_rule_overrides_and_the_strictest_wins(check: Check, signers: dict[str, Signing], registry: RegistryServer, repo: str) -> None:
    image = pushed(registry, repo, "acme/batch", user="")
    signers["acme"].sign(image, signers["acme"].keyed)
    lenient = acme(registry, rules={"user.root": {"action": "warn"}})
    strict = {"name": "batch", "match": [f"{registry.host}/acme/batch/*"], "authorities": [{"key": "acme.pub"}], "rules": {"user.root": {"action": "deny"}}}
    code, result = check(ref(image), [lenient])
    assert code == 0 and [v["action"] for v in violations(result, "user.root")] == ["warn"]
    code, result = check(ref(image), [lenient, strict])
    assert code == 1 and [v["action"] for v in violations(result, "user.root")] == ["deny"]
    code, result = check(ref(image), [lenient], rules={"user.root": {"action": "deny"}})
    assert code == 0 and [v["action"] for v in violations(result, "user.root")] == ["warn"]  # the image's override beats the top level


def test_unmatched_images_are_judged_against_trust_as_before(check: Check, signers: dict[str, Signing], registry: RegistryServer, repo: str) -> None:
    image = pushed(registry, repo, "tools")
    signers["vendor"].sign(image, signers["vendor"].keyed)
    code, result = check(ref(image), [acme(registry), vendor(registry)])
    assert code == 1 and rule_ids(result) == {"signature.missing"}
    assert "untrusted signer(s)" in violations(result, "signature.missing")[0]["message"]  # the message of old
    signers["legacy"].sign(image, signers["legacy"].keyed, "bundle")
    code, result = check(ref(image), [acme(registry), vendor(registry)])
    assert code == 0, result["violations"]
    (signer,) = only_evidence(result)["signatures"]
    assert signer["authority"].endswith("legacy.pub")


SITE_RULE = """package gate.rules.acme_layers

import data.gate.lib
import rego.v1

violations contains v if {
	limit := lib.param("acme.few-findings", "max_findings", 100)
	count(input.findings) >= limit
	v := {"rule": "acme.few-findings", "message": concat("", ["at least ", lib.text(limit), " findings"]), "details": {"limit": limit}}
}
"""


def test_a_site_rule_gets_its_action_and_parameters_at_every_level(
    check: Check, signers: dict[str, Signing], registry: RegistryServer, repo: str, tmp_path: Path
) -> None:
    policies = tmp_path / "site"
    policies.mkdir()
    (policies / "layers.rego").write_text(SITE_RULE)
    image = pushed(registry, repo, "acme")
    signers["acme"].sign(image, signers["acme"].keyed)
    site = {"dirs": [str(policies)]}

    code, result = check(ref(image), [acme(registry)], rules={"acme.few-findings": {"action": "warn", "max_findings": 0}}, policy=site)
    assert code == 0 and [(v["action"], v["message"], v["details"]) for v in violations(result, "acme.few-findings")] == [
        ("warn", "at least 0 findings", {"limit": 0})
    ]
    code, result = check(ref(image), [acme(registry, rules={"acme.few-findings": {"action": "deny", "max_findings": 0}})], policy=site)
    assert code == 1 and violations(result, "acme.few-findings")[0]["action"] == "deny"
    namespaces = {"shop": {"rules": {"acme.few-findings": {"max_findings": 0}}}}
    assert check(ref(image), [acme(registry)], "--namespace", "shop", policy=site, namespaces=namespaces)[0] == 1
    assert check(ref(image), [acme(registry)], "--namespace", "other", policy=site, namespaces=namespaces)[0] == 0


def test_namespace_parameters_of_shipped_rules_reach_the_rego(check: Check, signers: dict[str, Signing], registry: RegistryServer, repo: str) -> None:
    image = pushed(registry, repo, "acme")
    signers["acme"].sign(image, signers["acme"].keyed)
    namespaces = {"strict": {"rules": {"image.stale": {"action": "deny", "max_age_days": 0}}}}
    code, result = check(ref(image), [acme(registry)], "--namespace", "strict", namespaces=namespaces)
    assert code == 1 and "more than `max_age_days` 0" in violations(result, "image.stale")[0]["message"]
    assert check(ref(image), [acme(registry)], "--namespace", "relaxed", namespaces=namespaces)[0] == 0


def test_policies_see_the_verified_attestations_content(check: Check, signers: dict[str, Signing], registry: RegistryServer, repo: str, tmp_path: Path) -> None:
    policies = tmp_path / "site"
    policies.mkdir()
    (policies / "vulns.rego").write_text(
        'package gate.rules.acme_vulns\n\nimport rego.v1\n\nviolations contains v if {\n'
        f'\tsome a in input.attestations\n\ta.predicate_type == "{VULN_SUMMARY}"\n\ta.predicate.high > 0\n'
        '\tv := {"rule": "acme.high-vulns", "message": "high vulnerabilities", "details": {"signer": a.signer.authority}}\n}\n'
    )
    image = pushed(registry, repo, "acme")
    signers["acme"].sign(image, signers["acme"].keyed)
    signers["acme"].attest(image, statement(image.digest, VULN_SUMMARY, {"critical": 0, "high": 2}), signers["acme"].keyed)
    code, result = check(ref(image), [acme(registry)], policy={"dirs": [str(policies)]})
    assert code == 1 and [v["details"] for v in violations(result, "acme.high-vulns")] == [{"signer": "acme-release"}]


LICENCE_RULE = """package gate.rules.acme_licences

import rego.v1

violations contains v if {
	some c in input.sbom.component_list
	some licence in c.licenses
	licence in lib_forbidden
	v := {"rule": "acme.forbidden-licence", "message": concat("", [c.name, " is ", licence]), "details": {"purl": c.purl}}
}

lib_forbidden := {l | some l in data.gate.params["acme.forbidden-licence"].licenses}
"""


def test_policies_see_sbom_components_and_documents_follow_the_schema(
    check: Check, signers: dict[str, Signing], registry: RegistryServer, repo: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import jsonschema

    from gate.policy import PolicyEvaluator

    seen: list[dict[str, Any]] = []
    evaluate = PolicyEvaluator.evaluate
    monkeypatch.setattr(PolicyEvaluator, "evaluate", lambda self, document: seen.append(document) or evaluate(self, document))
    policies = tmp_path / "site"
    policies.mkdir()
    (policies / "licences.rego").write_text(LICENCE_RULE)
    image = pushed(registry, repo, "acme")
    signers["acme"].sign(image, signers["acme"].keyed)
    spdx = {
        "spdxVersion": "SPDX-2.3", "SPDXID": "SPDXRef-DOCUMENT", "name": "app", "dataLicense": "CC0-1.0",
        "packages": [{"SPDXID": "SPDXRef-a", "name": "readline", "versionInfo": "8.2", "licenseConcluded": "GPL-3.0-only",
                      "externalRefs": [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": "pkg:deb/debian/readline@8.2"}]}],
    }
    signers["acme"].attest(image, statement(image.digest, "https://spdx.dev/Document", spdx), signers["acme"].keyed)
    rules = {"acme.forbidden-licence": {"action": "deny", "licenses": ["GPL-3.0-only"]}}

    code, result = check(ref(image), [acme(registry)], rules=rules, policy={"dirs": [str(policies)]})
    assert code == 1 and [v["message"] for v in violations(result, "acme.forbidden-licence")] == ["readline is GPL-3.0-only"]
    (document,) = seen
    assert document["sbom"]["component_list"][0]["licenses"] == ["GPL-3.0-only"] and document["image_policies"][0]["name"] == "acme"

    assert check(ref(image), [acme(registry)])[0] == 0
    assert seen[1]["sbom"]["component_list"] == [] and seen[1]["sbom"]["components"] == 1  # no policy reads the list: left out
    schema = json.loads((Path(__file__).resolve().parents[1] / "docs" / "input.schema.json").read_text())
    for document in seen:
        jsonschema.Draft202012Validator(schema).validate(document)

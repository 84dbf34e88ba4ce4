"""`gate check image` end to end through the real CLI, against the real test registry.

Images are built and pushed with the image factory; signatures and attestations are made by
``SigstoreInstanceDouble`` (``tests/support/sigstore_double.py``), the test double of a private
Sigstore instance (Fulcio CA, CT log, Rekor log) whose ``trusted_root.json`` the config trusts,
because the public Sigstore services cannot run here. Every test goes through
``gate.cli.main([... "--output", "json"])`` and asserts on the JSON report: the rule IDs, the
messages people read and the details tools read.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric import ec

from gate import config as config_module
from gate.cli import main
from gate.engine import Engine
from gate.evidence._vuln import VULN_PREDICATE
from gate.evidence._signatures import StoredLayer
from tests.evidence import _statements as buildkit
from tests.support.artifacts import Blob, push_cosign_tag, push_index, push_sigstore_bundle
from tests.support.images import ImageBuilder
from tests.support.push import PushedManifest
from tests.support.registry_server import RegistryServer
from tests.support.sigstore_double import Keyed, Keyless, SigstoreInstanceDouble, pem_public, simple_signing, statement
from tests.support.vectors import VECTORS
from tests.support.reports import only_evidence

ISSUER = "https://accounts.example"
SUBJECT = "release@example.com"
GOLANG = "2" * 64
ALPINE = "3" * 64
SPDX_PREDICATE = "https://spdx.dev/Document"
# Shaped like a real npm token (npm_ + 36 alphanumerics) but derived, so no literal secret sits in the repo.
NPM_TOKEN = "npm_" + hashlib.sha256(b"gate end-to-end test").hexdigest()[:36]
NPMRC = f"//registry.npmjs.org/:_authToken={NPM_TOKEN}\n"
PINNED_DOCKERFILE = f"FROM golang:1.22@sha256:{GOLANG} AS build\nRUN go build -o /app\nFROM scratch\nCOPY --from=build /app /app\n"
PINNED_MATERIALS = [buildkit.material(f"pkg:docker/golang@1.22?digest=sha256:{GOLANG}&platform=linux%2Famd64", GOLANG)]
SPDX_LODASH = {
    "spdxVersion": "SPDX-2.3",
    "SPDXID": "SPDXRef-DOCUMENT",
    "name": "app",
    "dataLicense": "CC0-1.0",
    "packages": [
        {
            "SPDXID": "SPDXRef-lodash",
            "name": "lodash",
            "versionInfo": "4.17.20",
            "externalRefs": [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": "pkg:npm/lodash@4.17.20"}],
        }
    ],
}
DENY_LODASH = {"deny": [{"purl": "pkg:npm/lodash", "range": "vers:npm/<4.17.21", "reason": "CVE-2021-23337"}]}

CheckCli = Callable[..., tuple[int, dict[str, Any]]]


# --- trust, config and the CLI ----------------------------------------------------------------


@dataclass(frozen=True)
class Signing:
    """Signs pushed manifests with the test Sigstore instance, in the layouts cosign stores them."""

    registry: RegistryServer
    double: SigstoreInstanceDouble
    key: ec.EllipticCurvePrivateKey

    @property
    def keyed(self) -> Keyed:
        return Keyed(self.key)

    @property
    def keyless(self) -> Keyless:
        return Keyless(SUBJECT, ISSUER)

    def sign(self, subject: PushedManifest, signer: Keyed | Keyless, layout: str = "sig", *, claimed: str | None = None) -> None:
        """A ``.sig`` tag layer or a Sigstore bundle referrer over ``claimed`` (default: the subject's digest)."""
        digest = claimed or subject.digest
        if layout == "sig":
            payload = simple_signing(digest, f"{subject.host}/{subject.repository}")
            layer = self.double.sign_legacy(payload, signer, _signing_time())
            push_cosign_tag(self.registry, subject, ".sig", [_pushable(layer)])
        else:
            push_sigstore_bundle(self.registry, subject, self.double.bundle(statement(digest), signer, _signing_time()))

    def attest(self, subject: PushedManifest, document: dict[str, Any], signer: Keyed | Keyless) -> None:
        """A signed DSSE attestation in the ``.att`` tag (``cosign attest``)."""
        layer = self.double.attest_legacy(document, signer, _signing_time())
        push_cosign_tag(self.registry, subject, ".att", [_pushable(layer)])


def _pushable(layer: StoredLayer) -> Blob:
    """A layer the double signed, as a blob for the factory's cosign tags."""
    return Blob(layer.data, layer.media_type, dict(layer.annotations))


def _signing_time() -> dt.datetime:
    """Just now: the engine judges against the real clock, and a Rekor time may not lie in the future."""
    return dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=5)


@pytest.fixture(scope="module")
def signing(registry: RegistryServer) -> Signing:
    return Signing(registry, SigstoreInstanceDouble(), ec.generate_private_key(ec.SECP256R1()))


@pytest.fixture(scope="module")
def trust_dir(tmp_path_factory: pytest.TempPathFactory, signing: Signing) -> Path:
    """``cosign.pub`` and the double's ``trusted_root.json``, installed as an operator would."""
    directory = tmp_path_factory.mktemp("trust")
    (directory / "cosign.pub").write_bytes(pem_public(signing.key))
    (directory / "trusted_root.json").write_bytes(signing.double.trusted_root_json())
    return directory


@pytest.fixture
def write_config(tmp_path: Path, trust_dir: Path, registry: RegistryServer) -> Callable[..., Path]:
    """Write a gate config trusting the key and the keyless identity, plus the given ``rules``."""

    def write(rules: Mapping[str, Any] | None = None) -> Path:
        trust = {"keys": ["cosign.pub"], "keyless": [{"issuer": ISSUER, "subject": SUBJECT}], "trusted_root": "trusted_root.json"}
        document = {"trust": trust | {"require_tlog": True}, "registries": {"insecure": [registry.host]}, "rules": dict(rules or {})}
        path = trust_dir / f"gate-{tmp_path.name}.yaml"  # beside the key: paths in the file are relative to it
        path.write_text(yaml.safe_dump(document))
        return path

    return write


@pytest.fixture
def check(write_config: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> CheckCli:
    """``gate check image REF --output json [extra]`` with ``rules=`` in the config: (exit code, the one result)."""

    def run(reference: str, *extra: str, rules: Mapping[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
        code = main(["check", "image", reference, "--config", str(write_config(rules)), "--output", "json", *extra])
        (result,) = json.loads(capsys.readouterr().out)["results"]
        return code, result

    return run


def violations(result: dict[str, Any], rule: str) -> list[dict[str, Any]]:
    return [violation for violation in result["violations"] if violation["rule"] == rule]


def rule_ids(result: dict[str, Any]) -> set[str]:
    return {violation["rule"] for violation in result["violations"]}


# --- images -----------------------------------------------------------------------------------


def recent() -> str:
    """A creation time well inside any staleness window."""
    return (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")


def app_image(platform: str = "linux/amd64", *, created: str | None = None) -> ImageBuilder:
    """A clean image running as a numeric non-root user."""
    image = ImageBuilder(platform=platform).layer({"app/server": "#!/bin/sh\necho ok\n"}, created_by="COPY app /app # buildkit")
    return image.config(user="10001", created=created or recent())


def provenance(subject_digest: str, dockerfile: str = PINNED_DOCKERFILE, materials: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """BuildKit ``mode=max`` SLSA v0.2 provenance recording ``dockerfile``, built yesterday."""
    document = buildkit.provenance_v02(subject_digest, PINNED_MATERIALS if materials is None else materials, dockerfile=dockerfile)
    document["predicate"]["metadata"] |= {"buildStartedOn": recent(), "buildFinishedOn": recent()}
    return document


def spdx(subject_digest: str) -> dict[str, Any]:
    """The SPDX SBOM attestation BuildKit's ``--sbom=true`` attaches (one npm package)."""
    return buildkit.statement(SPDX_PREDICATE, SPDX_LODASH, subject_digest)


def buildkit_index(registry: RegistryServer, repo: str, statements: Callable[[str], list[dict[str, Any]]], style: str = "legacy"):
    """A one-platform index whose amd64 image carries ``statements(digest)`` as BuildKit attestations."""
    image = app_image().push(registry, repo)
    return push_index(registry, f"{repo}:1", [image], attestations={"linux/amd64": statements(image.digest)}, style=style)


# --- signatures -------------------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["sig", "bundle"], ids=["cosign-sig-tag", "sigstore-bundle-referrer"])
@pytest.mark.parametrize("kind", ["keyed", "keyless"])
def test_a_trusted_signature_in_each_layout(layout: str, kind: str, signing: Signing, check: CheckCli, repo: str) -> None:
    image = app_image().push(signing.registry, f"{repo}:1")
    signing.sign(image, getattr(signing, kind), layout)
    _, result = check(image.ref)
    assert "signature.missing" not in rule_ids(result)
    (signer,) = only_evidence(result)["signatures"]
    assert signer["kind"] == ("key" if kind == "keyed" else "keyless")
    assert signer["layout"] == {"sig": "cosign-legacy", "bundle": "sigstore-bundle"}[layout]


@pytest.mark.parametrize("kind", ["keyed", "keyless"])
def test_a_signed_att_tag_verifies_provenance_but_is_no_image_signature(kind: str, signing: Signing, check: CheckCli, repo: str) -> None:
    """docs/signatures.md: `.att` is the attestation layout (`cosign verify-attestation`), not `cosign verify`'s."""
    image = app_image().push(signing.registry, f"{repo}:1")
    signing.attest(image, buildkit.provenance_v1(image.digest, PINNED_MATERIALS, dockerfile=PINNED_DOCKERFILE), getattr(signing, kind))
    _, result = check(image.ref)
    assert not rule_ids(result) & {"provenance.missing", "provenance.unverified", "builder.unpinned"}
    assert only_evidence(result)["provenance"]["verified"] is True
    assert "no signature found" in violations(result, "signature.missing")[0]["message"]


def test_unsigned_image(check: CheckCli, registry: RegistryServer, repo: str) -> None:
    image = app_image().push(registry, f"{repo}:1")
    code, result = check(image.ref)
    (missing,) = violations(result, "signature.missing")
    assert (code, result["decision"], missing["action"]) == (1, "deny", "deny")
    assert "no signature found" in missing["message"]
    assert missing["details"]["found"] == 0


@pytest.mark.parametrize(
    ("signer", "named"),
    [
        (Keyless("intruder@example.com", ISSUER), f"{ISSUER} intruder@example.com"),
        (Keyless(SUBJECT, "https://other-issuer.example"), f"https://other-issuer.example {SUBJECT}"),
        (Keyed(ec.generate_private_key(ec.SECP256R1())), "an unconfigured key"),
    ],
    ids=["other-subject", "other-issuer", "other-key"],
)
def test_a_signature_by_someone_else_names_them(signer: Keyed | Keyless, named: str, signing: Signing, check: CheckCli, repo: str) -> None:
    image = app_image().push(signing.registry, f"{repo}:1")
    signing.sign(image, signer, "bundle")
    _, result = check(image.ref)
    (missing,) = violations(result, "signature.missing")
    assert "untrusted signer(s)" in missing["message"] and named in missing["message"]
    assert missing["details"]["untrusted_signers"] == [named]


def test_a_signature_for_another_digest(signing: Signing, check: CheckCli, repo: str) -> None:
    image = app_image().push(signing.registry, f"{repo}:1")
    other = app_image("linux/arm64").push(signing.registry, f"{repo}:other")
    signing.sign(image, signing.keyed, "sig", claimed=other.digest)
    _, result = check(image.ref)
    (missing,) = violations(result, "signature.missing")
    assert f"signature is for {other.digest}, not {image.digest}" in missing["message"]
    assert missing["details"]["found"] == 1 and missing["details"]["untrusted_signers"] == []


def test_an_index_signature_covers_every_platform(signing: Signing, check: CheckCli, repo: str) -> None:
    index = push_index(signing.registry, f"{repo}:1", [app_image("linux/amd64"), app_image("linux/arm64")])
    signing.sign(index, signing.keyed, "sig")
    _, result = check(index.ref)
    assert "signature.missing" not in rule_ids(result)
    platforms = result["evidence"]["platforms"]
    assert sorted(platforms) == ["linux/amd64", "linux/arm64"]
    assert all(found["signatures"][0]["kind"] == "key" for found in platforms.values())
    _, platform_only = check(f"{signing.registry.host}/{repo}@{index.images[1].digest}")
    assert "signature.missing" in rule_ids(platform_only)  # reached without its index, nothing covers it


# --- provenance and builders -----------------------------------------------------------------


@pytest.mark.parametrize("style", ["legacy", "oci-artifact"])
def test_buildkit_provenance_counts_only_under_a_trusted_index_signature(style: str, signing: Signing, check: CheckCli, repo: str) -> None:
    index = buildkit_index(signing.registry, repo, lambda digest: [provenance(digest), spdx(digest)], style)
    _, unsigned = check(index.ref)
    (unverified,) = violations(unsigned, "provenance.unverified")
    assert "https://slsa.dev/provenance/v0.2" in unverified["message"] and unverified["platform"] == "linux/amd64"
    assert "provenance.missing" not in rule_ids(unsigned)

    signing.sign(index.images[0], signing.keyed, "sig")  # the platform image's own signature covers no sibling
    _, platform_signed = check(index.ref)
    assert rule_ids(platform_signed) >= {"provenance.unverified", "sbom.missing"}
    assert "signature.missing" not in rule_ids(platform_signed)

    signing.sign(index, signing.keyless, "bundle")
    code, signed = check(index.ref)
    assert (code, signed["decision"], signed["violations"]) == (0, "allow", [])
    assert only_evidence(signed)["provenance"]["verified"] is True and only_evidence(signed)["sbom"]["verified"] is True


def test_no_provenance(check: CheckCli, registry: RegistryServer, repo: str) -> None:
    _, result = check(app_image().push(registry, f"{repo}:1").ref)
    (missing,) = violations(result, "provenance.missing")
    assert missing["action"] == "deny" and "--provenance=mode=max" in missing["message"]


def test_a_tag_only_builder_gets_the_digest_to_pin_to(signing: Signing, check: CheckCli, repo: str) -> None:
    dockerfile = "FROM golang:1.22 AS build\nRUN go build -o /app\nFROM scratch\nCOPY --from=build /app /app\n"
    materials = [buildkit.material("pkg:docker/golang@1.22?platform=linux%2Famd64", GOLANG)]
    index = buildkit_index(signing.registry, repo, lambda digest: [provenance(digest, dockerfile, materials)])
    signing.sign(index, signing.keyed, "sig")
    _, result = check(index.ref)
    (unpinned,) = violations(result, "builder.unpinned")
    assert f"pin `FROM golang:1.22` to `golang:1.22@sha256:{GOLANG}`" in unpinned["message"]
    assert unpinned["details"]["line"] == "FROM golang:1.22 AS build" and unpinned["details"]["digest_used"] == f"sha256:{GOLANG}"


def test_a_base_pinned_through_an_arg_is_pinned(signing: Signing, check: CheckCli, repo: str) -> None:
    dockerfile = f"ARG BASE=alpine:3.19@sha256:{ALPINE}\nFROM ${{BASE}}\nCOPY app /app\n"
    materials = [buildkit.material(f"pkg:docker/alpine@3.19?digest=sha256:{ALPINE}&platform=linux%2Famd64", ALPINE)]
    index = buildkit_index(signing.registry, repo, lambda digest: [provenance(digest, dockerfile, materials)])
    signing.sign(index, signing.keyed, "sig")
    _, result = check(index.ref)
    assert not rule_ids(result) & {"builder.unpinned", "provenance.missing", "provenance.unverified"}
    (stage,) = only_evidence(result)["provenance"]["stages"]
    assert (stage["pinned"], stage["digest_used"]) == (True, f"sha256:{ALPINE}")


# --- SBOM -------------------------------------------------------------------------------------


def test_sbom_absent_and_present(signing: Signing, check: CheckCli, repo: str) -> None:
    without = buildkit_index(signing.registry, f"{repo}-without", lambda digest: [provenance(digest)])
    with_sbom = buildkit_index(signing.registry, f"{repo}-with", lambda digest: [provenance(digest), spdx(digest)])
    for index in (without, with_sbom):
        signing.sign(index, signing.keyed, "sig")
    code, result = check(without.ref)
    (missing,) = violations(result, "sbom.missing")
    assert (code, missing["action"]) == (0, "warn")  # warn by default: reported, not blocking
    _, result = check(with_sbom.ref)
    assert "sbom.missing" not in rule_ids(result)
    assert only_evidence(result)["sbom"]["formats"] == ["spdx"]


def test_a_denied_component(signing: Signing, check: CheckCli, repo: str) -> None:
    index = buildkit_index(signing.registry, repo, lambda digest: [provenance(digest), spdx(digest)])
    signing.sign(index, signing.keyed, "sig")
    code, result = check(index.ref, rules={"sbom.denied-component": DENY_LODASH})
    (denied,) = violations(result, "sbom.denied-component")
    assert code == 1 and "pkg:npm/lodash@4.17.20" in denied["message"] and "CVE-2021-23337" in denied["message"]
    _, allowed = check(index.ref)
    assert "sbom.denied-component" not in rule_ids(allowed)


def test_a_vulnerability_scan_attestation_reaches_the_facts(signing: Signing, check: CheckCli, repo: str) -> None:
    predicate = json.loads((VECTORS / "formats" / "cosign-vuln-predicate.json").read_text())
    index = buildkit_index(signing.registry, repo, lambda digest: [provenance(digest), buildkit.statement(VULN_PREDICATE, predicate, digest)])
    _, unsigned = check(index.ref)
    signing.sign(index, signing.keyed, "sig")
    _, signed = check(index.ref)
    (scan,) = only_evidence(signed)["vulnerability_scans"]
    assert scan["scanner_uri"] == "fakescanner.example.com/cosign-testing" and scan["verified"] is True
    assert [s["verified"] for s in only_evidence(unsigned)["vulnerability_scans"]] == [False]


# --- the image itself -------------------------------------------------------------------------


def test_a_stale_build(check: CheckCli, registry: RegistryServer, repo: str) -> None:
    old = app_image(created="2025-01-01T00:00:00Z").push(registry, f"{repo}:old")
    fresh = app_image().push(registry, f"{repo}:fresh")
    rules = {"image.stale": {"action": "deny", "max_age_days": 30}}
    _, result = check(old.ref, rules=rules)
    (stale,) = violations(result, "image.stale")
    assert stale["action"] == "deny" and "30" in stale["message"]
    _, result = check(fresh.ref, rules=rules)
    assert "image.stale" not in rule_ids(result)


def test_verified_provenance_gives_the_build_time(signing: Signing, check: CheckCli, repo: str) -> None:
    """A reproducible build (``SOURCE_DATE_EPOCH``) keeps ``created`` old; signed provenance tells the real build time."""
    image = app_image(created="1970-01-01T00:00:00Z").push(signing.registry, repo)
    index = push_index(signing.registry, f"{repo}:1", [image], attestations={"linux/amd64": [provenance(image.digest)]})
    _, unsigned = check(index.ref)
    assert "by the image config's `created`" in violations(unsigned, "image.stale")[0]["message"]  # unverified time does not count
    signing.sign(index, signing.keyed, "sig")
    _, signed = check(index.ref)
    assert "image.stale" not in rule_ids(signed)


def test_one_platform_leaking_a_secret_is_named(check: CheckCli, registry: RegistryServer, repo: str) -> None:
    leaky = app_image("linux/arm64").layer({"root/.npmrc": NPMRC}, created_by="COPY .npmrc /root/ # buildkit")
    index = push_index(registry, f"{repo}:1", [app_image("linux/amd64"), leaky])
    _, result = check(index.ref)
    (leak,) = violations(result, "secret.file")
    assert leak["platform"] == "linux/arm64" and leak["platform_digest"] == index.images[1].digest
    assert leak["details"]["path"] == "root/.npmrc" and leak["details"]["layer"] == 1
    assert NPM_TOKEN not in json.dumps(result)  # the report names the secret, never repeats it


def test_copy_then_delete_npmrc(check: CheckCli, registry: RegistryServer, repo: str) -> None:
    image = app_image().layer({"root/.npmrc": NPMRC}, created_by="COPY .npmrc /root/ # buildkit")
    image.layer({"app/node_modules/left-pad/index.js": "module.exports = 1\n"}, created_by="RUN npm ci # buildkit")
    image.layer(whiteouts=["root/.npmrc"], created_by="RUN rm /root/.npmrc # buildkit")
    _, result = check(image.push(registry, f"{repo}:1").ref)
    (deleted,) = violations(result, "secret.deleted-file")
    assert (deleted["details"]["layer"], deleted["details"]["deleted_in_layer"], deleted["details"]["path"]) == (1, 3, "root/.npmrc")
    assert "layer 1" in deleted["message"] and "--mount=type=secret" in deleted["message"]
    assert "secret.file" not in rule_ids(result)  # gone from the final view


def test_a_layer_shared_by_two_platforms_is_named_by_its_place_in_each(check: CheckCli, registry: RegistryServer, repo: str) -> None:
    """Layer scans are cached by digest; the layer numbers in messages must still be per image."""

    def image(platform: str, *, extra_layer: bool) -> ImageBuilder:
        builder = ImageBuilder(platform=platform)
        if extra_layer:
            builder.layer({"etc/os-release": "ID=debian\n"}, created_by="debian base")
        builder.layer({"root/.npmrc": NPMRC}, created_by="COPY .npmrc /root/ # buildkit")
        return builder.layer(whiteouts=["root/.npmrc"], created_by="RUN rm /root/.npmrc # buildkit").config(user="10001", created=recent())

    index = push_index(registry, f"{repo}:1", [image("linux/amd64", extra_layer=False), image("linux/arm64", extra_layer=True)])
    _, result = check(index.ref)
    placed = sorted((v["platform"], v["details"]["layer"], v["details"]["deleted_in_layer"]) for v in violations(result, "secret.deleted-file"))
    assert placed == [("linux/amd64", 0, 1), ("linux/arm64", 1, 2)]


def test_a_secret_build_arg_in_history(check: CheckCli, registry: RegistryServer, repo: str) -> None:
    image = app_image().step("ARG NPM_TOKEN").layer(
        {"app/node_modules/.package-lock.json": "{}\n"}, created_by=f"RUN |1 NPM_TOKEN={NPM_TOKEN} /bin/sh -c npm ci # buildkit"
    )
    _, result = check(image.push(registry, f"{repo}:1").ref)
    (leak,) = violations(result, "secret.build-arg")
    assert leak["action"] == "deny" and "NPM_TOKEN" in leak["message"]
    assert NPM_TOKEN not in json.dumps(result)


def test_a_secret_build_arg_in_provenance(check: CheckCli, registry: RegistryServer, repo: str) -> None:
    """BuildKit ``mode=max`` records build arguments: the leak shows even with a clean history."""

    def leaky(digest: str) -> list[dict[str, Any]]:
        return [buildkit.provenance_v02(digest, PINNED_MATERIALS, dockerfile=PINNED_DOCKERFILE, args={"NPM_TOKEN": NPM_TOKEN})]

    _, result = check(buildkit_index(registry, repo, leaky).ref)
    (leak,) = violations(result, "secret.build-arg")
    assert leak["details"]["name"] == "NPM_TOKEN" and leak["details"]["history"] == "provenance build arguments"
    assert NPM_TOKEN not in json.dumps(result)


# --- output and cost --------------------------------------------------------------------------


def test_sarif_has_one_result_per_violation(write_config: Callable[..., Path], capsys: pytest.CaptureFixture[str], registry: RegistryServer, repo: str) -> None:
    image = ImageBuilder().layer({"root/.npmrc": NPMRC}, created_by="COPY .npmrc /root/ # buildkit").push(registry, f"{repo}:1")
    config = str(write_config())
    main(["check", "image", image.ref, "--config", config, "--output", "json"])
    expected = [(v["rule"], v["message"]) for v in json.loads(capsys.readouterr().out)["results"][0]["violations"]]
    code = main(["check", "image", image.ref, "--config", config, "--output", "sarif"])
    (run,) = json.loads(capsys.readouterr().out)["runs"]
    assert code == 1 and len(expected) >= 4  # root, unsigned, no provenance, .npmrc, ...
    assert sorted((r["ruleId"], r["message"]["text"]) for r in run["results"]) == sorted(expected)
    assert all(run["tool"]["driver"]["rules"][r["ruleIndex"]]["id"] == r["ruleId"] for r in run["results"])


def test_requests_for_one_cold_check_of_a_signed_image(signing: Signing, write_config: Callable[..., Path], repo: str) -> None:
    """Measured: 9 requests for a signed single-platform image with one layer.

    The manifest by tag (1); discovery's five lookups (``.sig``, ``.att``, ``.sbom`` tags, the
    referrers API probe, the tag-schema fallback), the ``.sig`` manifest among them; the ``.sig``
    layer (1); the config (1); the one layer (1). The bound leaves one request of slack.
    """
    image = app_image().push(signing.registry, f"{repo}:1")
    signing.sign(image, signing.keyed, "sig")

    async def cold_check() -> tuple[str, int]:
        async with Engine(config_module.load(write_config())) as engine:
            result = await engine.check(image.ref)
            return result.decision, engine.client.request_count

    decision, requests = asyncio.run(cold_check())
    assert decision == "deny"  # no provenance; the count is what matters here
    assert requests <= 10

"""Every real attestation in tests/vectors/attestations parses (or fails) as its index says.

Sources: slsa-framework/slsa-verifier ``cli/slsa-verifier/testdata`` (``slsa-verifier/index.json``,
whose ``files`` table lists each provenance's statement type, predicate type, subjects, builder id
and build type), moby/buildkit docs, slsa-framework/slsa-github-generator fixtures, sigstore/cosign
policy test data and e2e predicates, sigstore/sigstore-go bundles (``attestations/index.json``,
``sigstore-go/index.json``).
"""

from __future__ import annotations

import json

import pytest

from gate.errors import EvidenceError
from gate.evidence import Provenance, Sbom, Statement, VulnScan
from tests.evidence._vectors import ATTESTATIONS, load_index

SLSA_VERIFIER = load_index(ATTESTATIONS / "slsa-verifier" / "index.json")
TOP = load_index(ATTESTATIONS / "index.json")
SIGSTORE_GO = load_index(ATTESTATIONS / "sigstore-go" / "index.json")
WRAPPERS = {"dsse-envelope": "dsse", "sigstore-bundle": "sigstore-bundle"}


@pytest.mark.parametrize("entry", SLSA_VERIFIER["files"], ids=lambda e: e["file"])
def test_slsa_verifier_provenance_matches_index(entry: dict) -> None:
    expected = entry["provenance"][0]
    data = (ATTESTATIONS / "slsa-verifier" / entry["file"]).read_bytes()
    statement = Statement.from_bytes(data)
    assert statement.wrapper == WRAPPERS[expected["format"]]
    assert statement.statement_type == expected["statement_type"]
    assert statement.predicate_type == expected["predicateType"]
    assert [(s.name, dict(s.digests)) for s in statement.subjects] == [(s["name"], s["digest"]) for s in expected["subject"]]
    provenance = Provenance.from_statement(statement)
    assert provenance.builder_id == expected["builder_id"]
    assert provenance.build_type == expected["buildType"]
    assert statement.covers("sha256:" + expected["subject"][0]["digest"]["sha256"])
    assert not statement.covers("sha256:" + "0" * 64)


STATEMENT_ENTRIES = [e for group in ("buildkit", "slsa-github-generator") for e in TOP[group] if "_type" in e]


@pytest.mark.parametrize("entry", STATEMENT_ENTRIES, ids=lambda e: e["file"])
def test_indexed_statements_parse(entry: dict) -> None:
    statement = Statement.from_bytes((ATTESTATIONS / entry["file"]).read_bytes())
    assert statement.statement_type == entry["_type"]
    assert statement.predicate_type == entry["predicateType"]
    assert statement.subjects[0].name == entry["subject"][0]["name"]
    assert dict(statement.subjects[0].digests) == entry["subject"][0]["digest"]
    assert statement.wrapper == ("dsse" if entry.get("wrapper", "").startswith("DSSE") else "bare")
    provenance = Provenance.from_statement(statement)
    assert provenance.build_type


@pytest.mark.parametrize(
    ("file", "started_ns", "finished_ns", "has_dockerfile"),
    [
        ("provenance_statement-v0.1_slsa-v0.2_mode-min.json", 1670500139466513707, 1670500141256820297, False),
        ("provenance_statement-v0.1_slsa-v0.2_mode-max.json", 1670500254953375437, 1670500255447841328, True),
        ("provenance_statement-v0.1_slsa-v1_mode-min.json", 1670500139466513707, 1670500141256820297, False),
        ("provenance_statement-v0.1_slsa-v1_mode-max.json", 1670500254953375437, 1670500255447841328, False),
        ("provenance_statement-v1_slsa-v1_mode-min.json", 1670500139466513707, 1670500141256820297, False),
        ("provenance_statement-v1_slsa-v1_mode-max.json", 1670500254953375437, 1670500255447841328, False),
    ],
)
def test_buildkit_docs_provenance_values(file: str, started_ns: int, finished_ns: int, has_dockerfile: bool) -> None:
    provenance = Provenance.from_bytes((ATTESTATIONS / "buildkit" / file).read_bytes())
    assert provenance.builder_id is None  # BuildKit writes "" when no builder id is configured
    assert [(m.uri, m.digest) for m in provenance.materials] == [
        ("pkg:docker/alpine@latest?platform=linux%2Famd64", "sha256:8914eb54f968791faf6a8638949e480fef81e697984fba772b3976835194c6d4")
    ]
    assert (provenance.started_ns, provenance.finished_ns) == (started_ns, finished_ns)
    assert (provenance.dockerfile == "FROM alpine:latest\n") if has_dockerfile else provenance.dockerfile is None
    assert dict(provenance.build_args) == {} and provenance.secret_ids == ()


def test_buildkit_elided_spdx_statement_is_refused() -> None:
    """The docs example elides the predicate with ``...``: not JSON, so an EvidenceError, not a crash."""
    data = (ATTESTATIONS / "buildkit" / "attestation-storage_example_4_in-toto-spdx-statement.elided.json.txt").read_bytes()
    with pytest.raises(EvidenceError, match="not valid JSON"):
        Statement.from_bytes(data)


def test_slsa_github_generator_fragments_parse_as_predicates() -> None:
    """``valid-slsa-v02.json`` (v0.2 body) and ``build-definition.json`` (v1 buildDefinition) inside a statement."""
    subject = [{"name": "x", "digest": {"sha256": "ab" * 32}}]
    v02 = json.loads((ATTESTATIONS / "slsa-github-generator" / "valid-slsa-v02.json").read_text())
    definition = json.loads((ATTESTATIONS / "slsa-github-generator" / "build-definition.json").read_text())
    old = _statement("https://slsa.dev/provenance/v0.2", v02, subject)
    new = _statement("https://slsa.dev/provenance/v1", {"buildDefinition": definition, "runDetails": {}}, subject)
    assert Provenance.from_bytes(old).builder_id == "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/builder_go_slsa3.yml@refs/tags/v0.0.1"
    parsed = Provenance.from_bytes(new)
    assert parsed.build_type == "https://slsa.dev/container-based-build/v0.1?draft"
    assert parsed.builder_id is None
    assert all(m.uri for m in parsed.materials)


COSIGN = {e["file"]: e for e in TOP["cosign"]}


def test_cosign_valid_vuln_attestation() -> None:
    entry = COSIGN["cosign/policy-testdata/valid/vuln.dsse.json"]
    scan = VulnScan.from_bytes((ATTESTATIONS / entry["file"]).read_bytes())
    assert (scan.scanner_uri, scan.db_uri, scan.result) == (None, None, None)
    assert (scan.started_ns, scan.finished_ns) == (None, None)  # Go's zero time means unset


def test_cosign_valid_custom_attestation_is_a_statement() -> None:
    entry = COSIGN["cosign/policy-testdata/valid/custom.dsse.json"]
    statement = Statement.from_bytes((ATTESTATIONS / entry["file"]).read_bytes())
    assert statement.predicate_type == entry["predicateType"]
    assert statement.predicate["Data"] == "foobar test attestation"
    with pytest.raises(EvidenceError, match="not SLSA provenance"):
        Provenance.from_statement(statement)


@pytest.mark.parametrize("file", [f for f, e in COSIGN.items() if "/malformed/" in f])
def test_cosign_malformed_attestations_are_refused(file: str) -> None:
    """The upstream ``malformed`` folder: predicateType without a URI scheme."""
    with pytest.raises(EvidenceError, match="is not a URI"):
        Statement.from_bytes((ATTESTATIONS / file).read_bytes())


def test_cosign_vuln_predicate_body() -> None:
    scan = VulnScan.from_predicate(json.loads((ATTESTATIONS / "cosign" / "vuln-predicate.json").read_text()))
    assert scan.scanner_uri == "fakescanner.example.com/cosign-testing"
    assert (scan.started_ns, scan.finished_ns) == (1649721600000000000, 1649722200000000000)


@pytest.mark.parametrize(("file", "fmt", "version"), [("cosign/bom-go-mod.cyclonedx.json", "cyclonedx", "1.4"), ("cosign/bom-go-mod.spdx.json", "spdx", "SPDX-2.2")])
def test_cosign_sbom_predicate_bodies(file: str, fmt: str, version: str) -> None:
    sbom = Sbom.from_bytes((ATTESTATIONS / file).read_bytes())
    assert (sbom.format, sbom.spec_version, sbom.components) == (fmt, version, ())


def test_cosign_custom_predicate_body_is_no_sbom() -> None:
    with pytest.raises(EvidenceError, match="neither CycloneDX"):
        Sbom.from_bytes((ATTESTATIONS / "cosign" / "test-result.json").read_bytes())


BUNDLE_CASES = {case["bundle"]: case for case in SIGSTORE_GO["cases"]}


@pytest.mark.parametrize("bundle", sorted(BUNDLE_CASES))
def test_sigstore_go_bundles(bundle: str) -> None:
    data = (ATTESTATIONS / "sigstore-go" / bundle).read_bytes()
    if "messageSignature" in json.loads(data):
        with pytest.raises(EvidenceError, match="not an attestation"):
            Statement.from_bytes(data)
        return
    statement = Statement.from_bytes(data)
    assert statement.wrapper == "sigstore-bundle"
    predicate_types = {c["predicateType"] for c in SIGSTORE_GO["cases"] if c["bundle"] == bundle and "predicateType" in c}
    assert predicate_types <= {statement.predicate_type}
    for case in SIGSTORE_GO["cases"]:
        if case["bundle"] == bundle and case.get("artifact_digest") and case["expect"].startswith("pass"):
            assert statement.covers(case["artifact_digest"])


def test_sigstore_go_decoded_statement_equals_bundle_payload() -> None:
    bundled = Provenance.from_bytes((ATTESTATIONS / "sigstore-go" / "examples" / "bundle-provenance.json").read_bytes())
    bare = Provenance.from_bytes((ATTESTATIONS / "sigstore-go" / "examples" / "statement-provenance-sigstorejs1.3.0.json").read_bytes())
    assert bundled == bare
    assert bare.build_type == "https://github.com/npm/cli/gha/v2"


def _statement(predicate_type: str, predicate: dict, subject: list) -> bytes:
    return json.dumps({"_type": "https://in-toto.io/Statement/v1", "predicateType": predicate_type, "subject": subject, "predicate": predicate}).encode()


# Also named by attestations/index.json "notes": predicate bodies in ../sigstore-python, cosign's
# new-bundle-format attestation in ../cosign, and the DSSE cases of ../sigstore-conformance.
VECTORS = ATTESTATIONS.parent


@pytest.mark.parametrize(("file", "predicate_type", "builder_id"), [
    ("slsa_predicate_v0_2.json", "https://slsa.dev/provenance/v0.2", "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_generic_slsa3.yml@refs/tags/v2.0.0"),
    ("slsa_predicate_v1_0.json", "https://slsa.dev/provenance/v1", None),
])
def test_sigstore_python_predicate_bodies(file: str, predicate_type: str, builder_id: str | None) -> None:
    predicate = json.loads((VECTORS / "sigstore-python" / "integration" / "attest" / file).read_text())
    provenance = Provenance.from_bytes(_statement(predicate_type, predicate, [{"name": "a", "digest": {"sha256": "ab" * 32}}]))
    assert provenance.build_type and provenance.build_type.startswith("https://")
    if builder_id:
        assert provenance.builder_id == builder_id
    else:
        assert provenance.builder_id and provenance.materials


def test_cosign_repo_new_bundle_format_attestation() -> None:
    statement = Statement.from_bytes((VECTORS / "cosign" / "cosign-repo" / "oci-attestation.sigstore.json").read_bytes())
    assert (statement.wrapper, statement.predicate_type) == ("sigstore-bundle", "https://cosign.sigstore.dev/attestation/v1")


CONFORMANCE = load_index(VECTORS / "sigstore-conformance" / "cases.json")
DSSE_CASES = [c for c in CONFORMANCE if b'"dsseEnvelope"' in (VECTORS / "sigstore-conformance" / c["bundle"]).read_bytes()]


@pytest.mark.parametrize("case", DSSE_CASES, ids=lambda c: c["name"])
def test_sigstore_conformance_dsse_bundles(case: dict) -> None:
    """Passing cases hold a statement about their artifact; failing ones parse or raise EvidenceError, never crash."""
    data = (VECTORS / "sigstore-conformance" / case["bundle"]).read_bytes()
    if case["expect"] != "pass":
        try:
            Statement.from_bytes(data)
        except EvidenceError:
            pass
        return
    statement = Statement.from_bytes(data)
    assert statement.wrapper == "sigstore-bundle"
    if case.get("artifact_sha256"):
        assert statement.covers(case["artifact_sha256"])

"""The evidence examples in tests/vectors/formats (see its PROVENANCE.md for source and commit).

Real BuildKit output (AlexGustafsson/cupdate test data), BuildKit docs examples, the SLSA GitHub
Actions workflow buildType example, a CycloneDX BOM example and cosign bundles and predicates.
The files that are not evidence (AdmissionReviews, image config, simple-signing payload, legacy
bundle annotation) belong to other packages' tests.
"""

from __future__ import annotations

import pytest

from gate.errors import EvidenceError
from gate.evidence import Provenance, Sbom, Statement, VulnScan, pinning
from gate.evidence._discover import _is_buildkit_attestation
from gate.registry import Manifest
from gate.registry._digest import compute
from tests.evidence._vectors import FORMATS, load_index

CUPDATE_PROVENANCE = FORMATS / "buildkit-provenance-slsa0.2-max.json"


def test_every_format_vector_is_covered() -> None:
    """A new evidence vector in the folder must get assertions here (the rest are listed as not ours)."""
    not_evidence = {
        "admissionreview-v1-deployment-create.json",
        "admissionreview-v1-pod-create.json",
        "image-config-history-buildkit-golden.json",
        "cosign-simplesigning-payload.json",
        "cosign-legacy-bundle-annotation.json",
        "PROVENANCE.md",
    }
    covered = set(COVERED)
    assert {p.name for p in FORMATS.iterdir()} - not_evidence == covered


def test_real_buildkit_slsa02_max_provenance() -> None:
    provenance = Provenance.from_bytes(CUPDATE_PROVENANCE.read_bytes())
    assert provenance.predicate_type == "https://slsa.dev/provenance/v0.2"
    assert provenance.builder_id == "https://github.com/AlexGustafsson/cupdate/actions/runs/14008088422/attempts/1"
    assert provenance.build_type == "https://mobyproject.org/buildkit@v1"
    assert dict(provenance.build_args) == {"CUPDATE_VERSION": "v0.19.0-6-g2fbefbc"}  # label:* args are not build args
    assert provenance.secret_ids == ()
    assert provenance.started_ns == 1742642595399801890 and provenance.finished_ns == 1742642770631712748
    assert [m.uri.split("?")[0] for m in provenance.materials] == [
        "pkg:docker/docker/buildkit-syft-scanner@stable-1",
        "pkg:docker/golang@1.24.1",
        "pkg:docker/node@22.14.0",
    ]
    assert provenance.dockerfile is not None and provenance.dockerfile.startswith("FROM --platform=${BUILDPLATFORM} node:22.14.0@sha256:cfef")
    assert provenance.subjects[0].matches("sha256:29528c15c494f84b8a2f33e0faa6eaa8cb6966824cf2ff95791c234fc07c247a")


def test_real_buildkit_provenance_stages_are_pinned() -> None:
    facts = pinning(Provenance.from_bytes(CUPDATE_PROVENANCE.read_bytes()))
    assert facts.source == "dockerfile"
    assert [(s.index, s.name, s.line_no, s.pinned, s.scratch, s.parent_stage) for s in facts.stages] == [
        (0, "web-builder", 1, True, False, None),
        (1, "builder", 16, True, False, None),
        (2, "export", 36, True, True, None),
        (3, None, 40, True, False, "export"),
    ]
    assert facts.stages[1].base == "golang:1.24.1@sha256:c5adecdb7b3f8c5ca3c88648a861882849cc8b02fed68ece31e25de88ad13418"
    assert facts.stages[1].digest_used == "sha256:c5adecdb7b3f8c5ca3c88648a861882849cc8b02fed68ece31e25de88ad13418"
    assert facts.stages[0].digest_used == "sha256:cfef4432ab2901fd6ab2cb05b177d3c6f8a7f48cb22ad9d7ae28bb6aa5f8b471"
    assert facts.frontend is None  # no `# syntax=` line; the SBOM scanner material is not a stage


def test_buildkit_docs_slsa1_max_provenance() -> None:
    provenance = Provenance.from_bytes((FORMATS / "buildkit-provenance-slsa1-max.docs.json").read_bytes())
    assert provenance.build_type == "https://github.com/moby/buildkit/blob/master/docs/attestations/slsa-definitions.md"
    assert provenance.dockerfile is None  # `infos` names the file but carries no data
    stages = pinning(provenance).stages
    assert [(s.base, s.pinned, s.digest_used) for s in stages] == [
        ("alpine:latest", False, "sha256:8914eb54f968791faf6a8638949e480fef81e697984fba772b3976835194c6d4")
    ]


def test_slsa_v1_github_workflow_example() -> None:
    provenance = Provenance.from_bytes((FORMATS / "slsa-provenance-v1-gha-workflow-example.json").read_bytes())
    assert provenance.builder_id == "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/builder_go_slsa3.yml@refs/tags/v0.0.1"
    assert [(m.uri, m.digest) for m in provenance.materials] == [
        ("git+https://github.com/octocat/hello-world@refs/heads/main", "gitCommit:c27d339ee6075c1f744c5d4b200f7901aad2c369"),
        ("https://github.com/actions/virtual-environments/releases/tag/ubuntu20/20220515.1", None),
    ]
    assert provenance.started_ns == 1672576496000000000 and provenance.finished_ns is None
    assert pinning(provenance).stages == ()  # no container images among the materials


def test_real_buildkit_spdx_statement() -> None:
    statement = Statement.from_bytes((FORMATS / "buildkit-sbom-spdx-intoto.json").read_bytes())
    sbom = Sbom.from_statement(statement)
    assert (sbom.format, sbom.spec_version, sbom.encoding) == ("spdx", "SPDX-2.3", "json")
    purls = [c.purl for c in sbom.components]
    assert "pkg:golang/github.com/caarlos0/env@v11.3.1#v11" in purls
    assert sbom.components[0].name == "github.com/AlexGustafsson/cupdate" and sbom.components[0].version == "v0.19.0-30-g509402d"


def test_cyclonedx_13_example() -> None:
    sbom = Sbom.from_bytes((FORMATS / "cyclonedx-sbom-1.3-example.json").read_bytes())
    assert (sbom.format, sbom.spec_version) == ("cyclonedx", "1.3")
    assert {(c.name, c.version, c.type) for c in sbom.components} == {
        ("jackson-databind", "2.10.0", "library"),
        ("jackson-annotations", "2.10.0", "library"),
        ("jackson-core", "2.10.0", "library"),
    }
    assert all(c.purl and c.purl.startswith("pkg:maven/com.fasterxml.jackson.core/") for c in sbom.components)


def test_cosign_vuln_predicate() -> None:
    scan = VulnScan.from_predicate(load_index(FORMATS / "cosign-vuln-predicate.json"))
    assert scan.scanner_uri == "fakescanner.example.com/cosign-testing"
    assert scan.started_ns == 1649721600000000000


def test_cosign_bundle_dsse_attestation() -> None:
    statement = Statement.from_bytes((FORMATS / "cosign-bundle-v0.3-dsse-attestation.sigstore.json").read_bytes())
    assert (statement.wrapper, statement.predicate_type) == ("sigstore-bundle", "https://cosign.sigstore.dev/attestation/v1")
    assert statement.covers("sha256:732112270d7e59418a8c080b134b24cabd67d250d0d0147a97ed95ba5c280aa4")


def test_cosign_v3_image_signature_bundle_is_a_sign_statement() -> None:
    statement = Statement.from_bytes((FORMATS / "cosign-v3-image-signature-bundle.sigstore.json").read_bytes())
    assert (statement.statement_type, statement.predicate_type) == ("https://in-toto.io/Statement/v1", "https://sigstore.dev/cosign/sign/v1")
    with pytest.raises(EvidenceError, match="is not SLSA provenance"):
        Provenance.from_statement(statement)


@pytest.mark.parametrize(
    ("file", "subject"),
    [
        ("buildkit-attestation-manifest-oci-artifact.docs.json", "sha256:23678f31b3b3586c4fb318aecfe64a96a1f0916ba8faf9b2be2abee63fa9e827"),
        ("buildkit-attestation-manifest-legacy.docs.json", None),
    ],
)
def test_buildkit_attestation_manifest_shapes(file: str, subject: str | None) -> None:
    """Both shapes read as manifests whose in-toto layers discovery fetches; only the new one has ``subject``."""
    raw = (FORMATS / file).read_bytes()
    manifest = Manifest.from_bytes(raw, compute(raw), None, file)
    assert (manifest.subject.digest if manifest.subject else None) == subject
    assert [layer.media_type for layer in manifest.layers] == ["application/vnd.in-toto+json"]


def test_buildkit_attestation_index_marks_its_attestation() -> None:
    raw = (FORMATS / "buildkit-attestation-index.docs.json").read_bytes()
    entries = Manifest.from_bytes(raw, compute(raw), None, "index").manifests
    assert [_is_buildkit_attestation(d) for d in entries] == [False, True]
    assert entries[1].annotations["vnd.docker.reference.digest"] == entries[0].digest


COVERED = {
    "buildkit-provenance-slsa0.2-max.json",
    "buildkit-provenance-slsa1-max.docs.json",
    "slsa-provenance-v1-gha-workflow-example.json",
    "buildkit-sbom-spdx-intoto.json",
    "cyclonedx-sbom-1.3-example.json",
    "cosign-vuln-predicate.json",
    "cosign-bundle-v0.3-dsse-attestation.sigstore.json",
    "cosign-v3-image-signature-bundle.sigstore.json",
    "buildkit-attestation-manifest-oci-artifact.docs.json",
    "buildkit-attestation-manifest-legacy.docs.json",
    "buildkit-attestation-index.docs.json",
}

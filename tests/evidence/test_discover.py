"""Discovery end to end on the test registry: every storage layout, no evidence, wasted requests.

Registry 2.8 has no referrers API, so every subject costs five requests before anything is found:
``.sig``, ``.att`` and ``.sbom`` tag lookups, the referrers API probe (404) and the tag-schema
fallback. Everything beyond that is one request per manifest or blob that is parsed.
"""

from __future__ import annotations

import asyncio
import hashlib
import json

from gate.config import Config
from gate.evidence import Artifact, AttachedEvidence, DenyList, collect, discover, pinning, provenance_section, sbom_section
from gate.registry import Manifest, Reference, RegistryClient
from tests.evidence._statements import dsse, material, provenance_v02, provenance_v1, statement
from tests.support.artifacts import (
    COSIGN_SIMPLESIGNING,
    CYCLONEDX_JSON,
    IN_TOTO,
    SIGSTORE_BUNDLE_V03,
    SPDX_JSON,
    Blob,
    add_referrer,
    cosign_attestation_layer,
    cosign_signature_layer,
    cosign_tag,
    in_toto_layer,
    push_artifact,
    push_attestation_manifest,
    push_cosign_tag,
    push_index,
    simple_signing_payload,
)
from tests.support.images import ImageBuilder, push_json_manifest
from tests.support.push import OCI_INDEX, OCI_MANIFEST, PushedManifest
from tests.support.registry_server import RegistryServer

PER_SUBJECT = 5
VULN = "https://cosign.sigstore.dev/attestation/vuln/v1"
GOLANG = "2" * 64
DOCKERFILE = "FROM golang:1.22 AS builder\nRUN go build\nFROM scratch\nCOPY --from=builder /app /app\n"
SPDX = {
    "spdxVersion": "SPDX-2.3",
    "SPDXID": "SPDXRef-DOCUMENT",
    "name": "sbom",
    "dataLicense": "CC0-1.0",
    "packages": [{"SPDXID": "SPDXRef-p", "name": "lodash", "versionInfo": "4.17.20", "externalRefs": [{"referenceType": "purl", "referenceLocator": "pkg:npm/lodash@4.17.20"}]}],
}
CYCLONEDX = {"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1, "components": [{"type": "library", "name": "left-pad", "version": "1.3.0"}]}


def run(config: Config, host: str, repository: str, tag: str) -> tuple[AttachedEvidence, Manifest, int]:
    """Fetch the top manifest, then discover; returns the requests discovery alone made."""

    async def scenario() -> tuple[AttachedEvidence, Manifest, int]:
        async with RegistryClient(config) as client:
            ref = Reference.parse(f"{host}/{repository}:{tag}")
            manifest = await client.manifest(ref)
            before = client.request_count
            attached = await discover(client, ref, manifest, blob_bytes=config.limits.blob_bytes)
            return attached, manifest, client.request_count - before

    return asyncio.run(scenario())


def image(platform: str = "linux/amd64") -> ImageBuilder:
    return ImageBuilder(platform=platform).layer({"app": "binary"}).config(user="1000")


def test_no_evidence_costs_five_requests(registry: RegistryServer, gate_config: Config, repo: str) -> None:
    image().push(registry, f"{repo}:1")
    attached, manifest, requests = run(gate_config, registry.host, repo, "1")
    assert (attached.artifacts, attached.problems, attached.subjects) == ((), (), (manifest.digest,))
    assert requests == PER_SUBJECT
    evidence = collect(attached, manifest.digest)
    assert (evidence.provenance, evidence.sboms, evidence.problems) == ((), (), ())


def _buildkit_index(registry: RegistryServer, repo: str, style: str):
    amd64 = image().push(registry, repo)
    arm64 = image("linux/arm64").push(registry, repo)
    provenance = provenance_v02(amd64.digest, [material("pkg:docker/golang@1.22?platform=linux%2Famd64", GOLANG)], dockerfile=DOCKERFILE)
    sbom = statement("https://spdx.dev/Document", SPDX, amd64.digest)
    return push_index(registry, f"{repo}:1", [amd64, arm64], attestations={"linux/amd64": [provenance, sbom]}, style=style)


def test_buildkit_legacy_attestations_in_the_index(registry: RegistryServer, gate_config: Config, repo: str) -> None:
    _check_buildkit(registry, gate_config, repo, "legacy")


def test_buildkit_oci_artifact_attestations_in_the_index(registry: RegistryServer, gate_config: Config, repo: str) -> None:
    _check_buildkit(registry, gate_config, repo, "oci-artifact")


def _check_buildkit(registry: RegistryServer, config: Config, repo: str, style: str) -> None:
    index = _buildkit_index(registry, repo, style)
    amd64, arm64 = index.images
    attached, manifest, requests = run(config, registry.host, repo, "1")
    assert attached.subjects == (index.digest, amd64.digest, arm64.digest)  # the attestation manifest is no subject
    assert [(a.store, a.subject, a.manifest, a.reachable_from) for a in attached.artifacts] == [
        ("buildkit", amd64.digest, index.attestations[0].digest, index.digest)
    ] * 2
    assert attached.problems == ()
    # 3 subjects x 5 lookups, less the 2 referrers API probes the first one's 404 made needless,
    # the attestation manifest, its two in-toto layers
    assert requests == 3 * PER_SUBJECT - 2 + 1 + 2
    evidence = collect(attached, amd64.digest, index.digest)
    assert len(evidence.provenance) == 1 and len(evidence.sboms) == 1 and evidence.problems == ()
    stages = pinning(evidence.provenance[0].value).stages
    assert [(s.line, s.pinned, s.digest_used) for s in stages] == [("FROM golang:1.22 AS builder", False, f"sha256:{GOLANG}"), ("FROM scratch", True, None)]
    assert evidence.sboms[0].value.components[0].purl == "pkg:npm/lodash@4.17.20"

    def signed_index(artifact: Artifact) -> bool:  # what gate.verify answers when the index is signed
        return artifact.reachable_from == index.digest

    section, problems = provenance_section(evidence, signed_index)
    assert problems == () and section["verified"] and [s["pinned"] for s in section["stages"]] == [False, True]
    deny = DenyList.from_params({"deny": [{"purl": "pkg:npm/lodash", "range": "vers:npm/<4.17.21", "reason": "CVE-2021-23337"}]})
    sbom = sbom_section(evidence, deny, signed_index)
    assert (sbom["formats"], sbom["verified"], sbom["denied"][0]["purl"]) == (["spdx"], True, "pkg:npm/lodash@4.17.20")
    other = collect(attached, arm64.digest, index.digest)
    assert (other.provenance, other.sboms) == ((), ())  # amd64's attestations say nothing about arm64


def test_cosign_att_tag_with_dsse_provenance(registry: RegistryServer, gate_config: Config, repo: str) -> None:
    subject = image().push(registry, f"{repo}:1")
    good = provenance_v1(subject.digest, [material("pkg:docker/golang@1.22?platform=linux%2Famd64", GOLANG)])
    elsewhere = provenance_v1("sha256:" + "9" * 64, [])
    vuln = statement(VULN, {"scanner": {"uri": "pkg:github/aquasecurity/trivy", "version": "0.50.0", "db": {"uri": "", "version": ""}}}, subject.digest)
    custom = statement("https://cosign.sigstore.dev/attestation/v1", {"Data": "hello"}, subject.digest)
    layers = [cosign_attestation_layer(dsse(document), document["predicateType"]) for document in (good, elsewhere, vuln, custom)]
    push_cosign_tag(registry, subject, ".att", layers)
    attached, _, requests = run(gate_config, registry.host, repo, "1")
    assert [(a.store, a.subject, a.reachable_from) for a in attached.artifacts] == [("cosign-att", subject.digest, None)] * 4
    assert len(attached.signature_layers()) == 4  # the verifier checks the DSSE envelopes
    assert requests == PER_SUBJECT + 4
    evidence = collect(attached, subject.digest)
    assert len(evidence.provenance) == 1 and evidence.provenance[0].value.predicate_type == "https://slsa.dev/provenance/v1"
    assert [s.base for s in pinning(evidence.provenance[0].value).stages] == ["golang:1.22"]
    assert [(f.value.scanner_uri, f.value.scanner_version) for f in evidence.vulns] == [("pkg:github/aquasecurity/trivy", "0.50.0")]
    assert evidence.other_predicates == ("https://cosign.sigstore.dev/attestation/v1",)
    assert len(evidence.problems) == 1 and "not " + subject.digest in evidence.problems[0].message


def test_cosign_sbom_tag(registry: RegistryServer, gate_config: Config, repo: str) -> None:
    subject = image().push(registry, f"{repo}:1")
    push_cosign_tag(registry, subject, ".sbom", [Blob(SPDX, SPDX_JSON)])
    attached, _, requests = run(gate_config, registry.host, repo, "1")
    assert requests == PER_SUBJECT + 1
    sboms = collect(attached, subject.digest).sboms
    assert [(f.artifact.store, f.value.format, len(f.value.components)) for f in sboms] == [("cosign-sbom", "spdx", 1)]


def test_oci_referrers(registry: RegistryServer, gate_config: Config, repo: str) -> None:
    subject = image().push(registry, f"{repo}:1")
    prov = provenance_v02(subject.digest, [material(f"pkg:docker/golang@1.22?digest=sha256:{GOLANG}", GOLANG)])
    push_artifact(registry, subject, IN_TOTO, [in_toto_layer(prov)])
    push_artifact(registry, subject, CYCLONEDX_JSON, [Blob(CYCLONEDX, CYCLONEDX_JSON)])
    bundle = {"mediaType": SIGSTORE_BUNDLE_V03, "verificationMaterial": {}, "dsseEnvelope": json.loads(dsse(prov))}
    push_artifact(registry, subject, SIGSTORE_BUNDLE_V03, [Blob(bundle, SIGSTORE_BUNDLE_V03)])
    signature = cosign_signature_layer(simple_signing_payload(subject), "MEUCIQ==")
    push_artifact(registry, subject, "application/vnd.dev.cosign.artifact.sig.v1+json", [signature])
    push_artifact(registry, subject, "application/vnd.example.unrelated", [Blob(b"x" * 10, "application/octet-stream")])
    attached, _, requests = run(gate_config, registry.host, repo, "1")
    assert sorted(a.media_type for a in attached.artifacts) == sorted([IN_TOTO, CYCLONEDX_JSON, SIGSTORE_BUNDLE_V03, COSIGN_SIMPLESIGNING])
    # four referrer manifests and their layers; the unrelated artifact type costs nothing
    assert requests == PER_SUBJECT + 4 + 4
    assert sorted(layer.media_type for layer in attached.signature_layers()) == sorted([SIGSTORE_BUNDLE_V03, COSIGN_SIMPLESIGNING])
    evidence = collect(attached, subject.digest)
    assert sorted(f.artifact.descriptor.media_type for f in evidence.provenance) == sorted([IN_TOTO, SIGSTORE_BUNDLE_V03])
    assert all(s.pinned for f in evidence.provenance for s in pinning(f.value).stages)
    assert [f.value.components[0].name for f in evidence.sboms] == ["left-pad"]


def test_over_cap_blob_is_reported_without_fetching(registry: RegistryServer, gate_config: Config, repo: str) -> None:
    subject = image().push(registry, f"{repo}:1")
    push_cosign_tag(registry, subject, ".sbom", [Blob(SPDX, SPDX_JSON)])
    config = gate_config.model_copy(update={"limits": gate_config.limits.model_copy(update={"blob_bytes": 64})})
    attached, _, requests = run(config, registry.host, repo, "1")
    assert attached.artifacts == () and requests == PER_SUBJECT
    assert len(attached.problems) == 1 and "above the 64-byte cap" in attached.problems[0].message


def test_layer_declaring_another_predicate_type_is_reported(registry: RegistryServer, gate_config: Config, repo: str) -> None:
    amd64 = image().push(registry, repo)
    mislabelled = in_toto_layer(provenance_v02(amd64.digest, []), predicate_type="https://spdx.dev/Document")
    index = push_index(registry, f"{repo}:1", [amd64], attestations={0: [mislabelled]})
    attached, _, _ = run(gate_config, registry.host, repo, "1")
    evidence = collect(attached, amd64.digest, index.digest)
    assert evidence.provenance == () and evidence.sboms == ()
    assert [p.message.split(": ", 1)[1] for p in evidence.problems] == [
        "the layer declares predicate type 'https://spdx.dev/Document' but the statement holds 'https://slsa.dev/provenance/v0.2'; ignored"
    ]


def test_malformed_attestation_is_reported_not_raised(registry: RegistryServer, gate_config: Config, repo: str) -> None:
    amd64 = image().push(registry, repo)
    bad = Blob(b"{not json", IN_TOTO, {"in-toto.io/predicate-type": "https://slsa.dev/provenance/v0.2"})
    index = push_index(registry, f"{repo}:1", [amd64], attestations={0: [bad]})
    attached, _, _ = run(gate_config, registry.host, repo, "1")
    evidence = collect(attached, amd64.digest, index.digest)
    assert evidence.provenance == () and len(evidence.problems) == 1 and "not valid JSON" in evidence.problems[0].message



def test_sha512_platform_manifest_has_no_cosign_tags_to_look_up(registry: RegistryServer, gate_config: Config, repo: str) -> None:
    """A cosign tag for a sha512 digest would be 139 characters, past the 128 a tag may have: no
    such tag can exist, so discovery skips it instead of failing the whole evaluation."""
    amd64 = image().push(registry, f"{repo}:1")
    sha512 = "sha512:" + "ab" * 64
    document = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [amd64.descriptor(platform=amd64.platform), {"mediaType": OCI_MANIFEST, "digest": sha512, "size": 2}]}
    raw = json.dumps(document).encode()
    index = Manifest.from_bytes(raw, "sha256:" + hashlib.sha256(raw).hexdigest(), OCI_INDEX, "test index")

    async def scenario() -> AttachedEvidence:
        async with RegistryClient(gate_config) as client:
            return await discover(client, Reference.parse(f"{registry.host}/{repo}:1"), index)

    attached = asyncio.run(scenario())
    assert (attached.subjects, attached.artifacts, attached.problems) == ((index.digest, amd64.digest, sha512), (), ())


def _attestation_descriptor(attestation: PushedManifest, points_at: str) -> dict:
    annotations = {"vnd.docker.reference.digest": points_at, "vnd.docker.reference.type": "attestation-manifest"}
    return attestation.descriptor(annotations=annotations, platform={"architecture": "unknown", "os": "unknown"})


def test_inconsistent_buildkit_attestations_are_reported(registry: RegistryServer, gate_config: Config, repo: str) -> None:
    amd64, arm64 = image().push(registry, repo), image("linux/arm64").push(registry, repo)
    stranger = image("linux/s390x").push(registry, repo)  # in the repository, not in the index
    provenance = provenance_v02(amd64.digest, [])
    disagreeing = push_attestation_manifest(registry, amd64, [provenance], style="oci-artifact")  # subject: amd64
    elsewhere = push_attestation_manifest(registry, stranger, [provenance], style="legacy")
    document = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            amd64.descriptor(platform=amd64.platform),
            arm64.descriptor(platform=arm64.platform),
            _attestation_descriptor(disagreeing, arm64.digest),
            _attestation_descriptor(elsewhere, stranger.digest),
        ],
    }
    push_json_manifest(registry, repo, document, "1")
    attached, _, _ = run(gate_config, registry.host, repo, "1")
    assert attached.artifacts == ()
    messages = sorted(problem.message for problem in attached.problems)
    assert len(messages) == 2
    assert f"index annotation says {arm64.digest} but the manifest's subject is {amd64.digest}" in messages[0]
    assert f"refers to {stranger.digest}, which is not a manifest of this index" in messages[1]


def test_misplaced_cosign_tag_and_referrer_are_reported(registry: RegistryServer, gate_config: Config, repo: str) -> None:
    subject, other = image().push(registry, f"{repo}:1"), image("linux/arm64").push(registry, repo)
    push_json_manifest(registry, repo, {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [other.descriptor()]}, cosign_tag(subject.digest, ".sig"))
    about_other = push_artifact(registry, other, IN_TOTO, [in_toto_layer(provenance_v02(other.digest, []))], referrers_fallback=False)
    add_referrer(registry, subject, about_other)  # listed for `subject`, but its own subject is `other`
    attached, _, requests = run(gate_config, registry.host, repo, "1")
    assert attached.artifacts == ()
    messages = sorted(problem.message for problem in attached.problems)
    assert "holds an index, not a manifest" in messages[0]
    assert f"is listed for {subject.digest} but its subject is {other.digest}" in messages[1]
    assert requests == PER_SUBJECT + 1  # the listed referrer manifest; none of its layers


def test_a_flood_of_attachments_stops_at_the_evidence_budget(registry: RegistryServer, gate_config: Config, repo: str) -> None:
    """Whoever can push to a repository must not be able to make the gate read without bound."""
    subject = image().push(registry, f"{repo}:1")
    for n in range(6):
        bom = dict(CYCLONEDX, serialNumber=f"urn:uuid:00000000-0000-0000-0000-00000000000{n}")
        push_artifact(registry, subject, CYCLONEDX_JSON, [Blob(bom, CYCLONEDX_JSON)])
    config = gate_config.model_copy(update={"limits": gate_config.limits.model_copy(update={"evidence_bytes": 3500})})

    async def scenario() -> AttachedEvidence:
        async with RegistryClient(config) as client:
            ref = Reference.parse(subject.ref)
            return await discover(client, ref, await client.manifest(ref), total_bytes=config.limits.evidence_bytes)

    attached = asyncio.run(scenario())
    assert 0 < len(attached.artifacts) < 6
    spent = [p for p in attached.problems if "limits.evidence_bytes" in p.message]
    assert spent and all("ignored" in p.message for p in spent)

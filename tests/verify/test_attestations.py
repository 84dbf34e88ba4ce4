"""Attestations (``.att`` DSSE layers and DSSE bundles) and what a trusted signature covers."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from gate.config import KeylessIdentity
from gate.errors import VerificationError
from gate.evidence._signatures import CosignAttestation, SigstoreBundle, StoredLayer, parse_signature_layers
from gate.verify import TrustPolicy, covered_digests, verify_attestation
from tests.support.sigstore_double import Keyed, Keyless, pem_public, statement
from tests.verify._vectors import VECTORS

NOW = dt.datetime(2026, 11, 26, 14, 0, tzinfo=dt.timezone.utc)
IMAGE = "sha256:" + "3" * 64
SLSA = "https://slsa.dev/provenance/v1"
SIGNER = Keyless("builder@example.com", "https://accounts.example")


@pytest.fixture(scope="module")
def trust(double, key) -> TrustPolicy:
    return TrustPolicy.from_parts(
        keys=[("builder.pub", pem_public(key))],
        identities=[KeylessIdentity(issuer="https://accounts.example", subject="builder@example.com")],
        trusted_root_json=double.trusted_root_json(),
    )


def attestation(double, layout: str, signer, digest: str = IMAGE) -> CosignAttestation | SigstoreBundle:
    body = statement(digest, SLSA, {"buildDefinition": {"buildType": "https://example/build"}})
    if layout.startswith("cosign-attestation"):
        kind = "dsse" if layout.endswith("dsse") else "intoto"
        (parsed,) = parse_signature_layers([double.attest_legacy(body, signer, NOW, entry_kind=kind)])
        return parsed
    return SigstoreBundle.from_bytes(double.bundle(body, signer, NOW), source="referrer")


@pytest.mark.parametrize("layout", ["cosign-attestation", "cosign-attestation-dsse", "sigstore-bundle"])
@pytest.mark.parametrize("keyed", [False, True], ids=["keyless", "keyed"])
def test_attestation_verifies_with_its_statement(double, key, trust, layout, keyed) -> None:
    verified = verify_attestation(attestation(double, layout, Keyed(key) if keyed else SIGNER), IMAGE, trust, NOW)
    assert verified.predicate_type == SLSA
    assert verified.statement.covers(IMAGE)
    assert layout.startswith(verified.signer.layout) and verified.signer.kind == ("key" if keyed else "keyless")
    assert json.loads(verified.payload)["predicate"]["buildDefinition"]["buildType"] == "https://example/build"


@pytest.mark.parametrize("layout", ["cosign-attestation", "sigstore-bundle"])
def test_attestation_about_another_image_is_refused(double, trust, layout) -> None:
    with pytest.raises(VerificationError, match="another artifact"):
        verify_attestation(attestation(double, layout, SIGNER, digest="sha256:" + "4" * 64), IMAGE, trust, NOW)


@pytest.mark.parametrize("layout", ["cosign-attestation", "sigstore-bundle"])
def test_attestation_by_untrusted_identity_is_refused_as_untrusted(double, trust, layout) -> None:
    with pytest.raises(VerificationError) as caught:
        verify_attestation(attestation(double, layout, Keyless("eve@example.com", "https://accounts.example")), IMAGE, trust, NOW)
    assert caught.value.details["status"] == "untrusted"
    assert caught.value.details["found"] == "https://accounts.example eve@example.com"


def test_attestation_with_swapped_payload_is_refused(double, trust) -> None:
    layer = double.attest_legacy(statement(IMAGE, SLSA), SIGNER, NOW)
    envelope = json.loads(layer.data)
    other = json.loads(double.attest_legacy(statement(IMAGE, "https://example/other"), SIGNER, NOW).data)
    envelope["payload"] = other["payload"]
    (tampered,) = parse_signature_layers([StoredLayer(layer.media_type, layer.annotations, json.dumps(envelope).encode(), "swapped")])
    with pytest.raises(VerificationError, match="does not verify"):
        verify_attestation(tampered, IMAGE, trust, NOW)


def test_buildkit_index_signature_covers_platforms_and_attestations() -> None:
    index = json.loads((VECTORS / "attestations/buildkit/attestation-storage_example_2_image-index.json").read_text())
    listed = {entry["digest"] for entry in index["manifests"]}
    covered = covered_digests("sha256:" + "9" * 64, index)
    assert covered == listed | {"sha256:" + "9" * 64}
    attestation_manifests = {e["digest"] for e in index["manifests"] if e.get("annotations", {}).get("vnd.docker.reference.type") == "attestation-manifest"}
    assert attestation_manifests and attestation_manifests <= covered


def test_platform_manifest_signature_covers_only_itself() -> None:
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "config": {}, "layers": []}
    assert covered_digests(IMAGE, manifest) == frozenset({IMAGE})
    assert covered_digests(IMAGE, None) == frozenset({IMAGE})

"""Cosign tags, OCI 1.1 artifacts and the referrers tag-schema fallback, read back with skopeo."""

from __future__ import annotations

import httpx
import pytest

from tests.support.artifacts import (
    CYCLONEDX_JSON,
    SIGSTORE_BUNDLE_V03,
    SPDX_JSON,
    Blob,
    cosign_attestation_layer,
    cosign_signature_layer,
    push_artifact,
    push_cosign_tag,
    push_sigstore_bundle,
    referrers_tag,
    simple_signing_payload,
)
from tests.support.images import OCI_EMPTY, ImageBuilder, PushedImage
from tests.support.registry_server import RegistryServer
from tests.support.skopeo import skopeo_inspect as skopeo


@pytest.fixture
def subject(registry: RegistryServer, repo: str) -> PushedImage:
    return ImageBuilder().layer({"app/run": "#!/bin/sh\n"}).config(user="1000").push(registry, f"{repo}:1.0")


def test_cosign_sig_tag_appends_signatures(registry: RegistryServer, subject: PushedImage) -> None:
    payload = simple_signing_payload(subject)
    push_cosign_tag(registry, subject, ".sig", [cosign_signature_layer(payload, "MEUCIQ==", bundle={"Payload": {}})])
    sig = push_cosign_tag(registry, subject, ".sig", [cosign_signature_layer(payload, "MEQCIA==", certificate="PEM")])

    raw = skopeo("--raw", f"docker://{registry.host}/{subject.repository}:sha256-{subject.digest[7:]}.sig")

    assert sig.tag == f"sha256-{subject.digest.removeprefix('sha256:')}.sig"
    assert raw == sig.json
    assert raw["config"]["mediaType"] == "application/vnd.oci.image.config.v1+json"
    assert [layer["mediaType"] for layer in raw["layers"]] == ["application/vnd.dev.cosign.simplesigning.v1+json"] * 2
    first, second = (layer["annotations"] for layer in raw["layers"])
    assert first == {"dev.cosignproject.cosign/signature": "MEUCIQ==", "dev.sigstore.cosign/bundle": '{"Payload":{}}'}
    assert second == {"dev.cosignproject.cosign/signature": "MEQCIA==", "dev.sigstore.cosign/certificate": "PEM"}
    assert payload["critical"]["image"]["docker-manifest-digest"] == subject.digest


def test_cosign_att_tag_holds_dsse_envelopes(registry: RegistryServer, subject: PushedImage) -> None:
    envelope = {"payloadType": "application/vnd.in-toto+json", "payload": "e30=", "signatures": [{"sig": "AA=="}]}
    att = push_cosign_tag(registry, subject, ".att", [cosign_attestation_layer(envelope, "https://slsa.dev/provenance/v1")])

    layer = skopeo("--raw", f"docker://{att.ref}")["layers"][0]

    assert layer["mediaType"] == "application/vnd.dsse.envelope.v1+json"
    assert layer["annotations"] == {"dev.cosignproject.cosign/signature": "", "predicateType": "https://slsa.dev/provenance/v1"}


def test_artifacts_are_listed_in_the_referrers_fallback_index(registry: RegistryServer, subject: PushedImage) -> None:
    sbom = push_artifact(registry, subject, CYCLONEDX_JSON, [Blob({"bomFormat": "CycloneDX"}, CYCLONEDX_JSON)])
    spdx = push_artifact(registry, subject, SPDX_JSON, [Blob({"spdxVersion": "SPDX-2.3"}, SPDX_JSON)])
    bundle = push_sigstore_bundle(registry, subject, {"mediaType": SIGSTORE_BUNDLE_V03})
    push_artifact(registry, subject, CYCLONEDX_JSON, [Blob({"bomFormat": "CycloneDX"}, CYCLONEDX_JSON)])  # same again

    index = skopeo("--raw", f"docker://{registry.host}/{subject.repository}:{referrers_tag(subject.digest)}")
    artifact = skopeo("--raw", f"docker://{sbom.by_digest}")

    assert index["mediaType"] == "application/vnd.oci.image.index.v1+json"
    assert [(d["digest"], d["artifactType"]) for d in index["manifests"]] == [
        (spdx.digest, SPDX_JSON),
        (bundle.digest, SIGSTORE_BUNDLE_V03),
        (sbom.digest, CYCLONEDX_JSON),
    ]
    assert index["manifests"][1]["annotations"]["dev.sigstore.bundle.content"] == "dsse-envelope"
    assert artifact["artifactType"] == CYCLONEDX_JSON
    assert artifact["config"]["mediaType"] == OCI_EMPTY
    assert artifact["subject"] == subject.descriptor()


def test_artifact_without_blobs_uses_the_empty_layer(registry: RegistryServer, subject: PushedImage) -> None:
    marker = push_artifact(registry, subject, "application/vnd.example.marker", referrers_fallback=False)

    raw = skopeo("--raw", f"docker://{marker.by_digest}")
    fallback = httpx.get(f"{registry.url}/v2/{subject.repository}/manifests/{referrers_tag(subject.digest)}")

    assert [layer["mediaType"] for layer in raw["layers"]] == [OCI_EMPTY]
    assert fallback.status_code == 404


def test_cosign_sbom_tag_holds_the_document(registry: RegistryServer, subject: PushedImage) -> None:
    document = {"spdxVersion": "SPDX-2.3", "name": "app"}
    sbom = push_cosign_tag(registry, subject, ".sbom", [Blob(document, "text/spdx+json")])

    raw = skopeo("--raw", f"docker://{sbom.ref}")

    assert sbom.tag == f"sha256-{subject.digest.removeprefix('sha256:')}.sbom"
    assert [(layer["mediaType"], layer["size"]) for layer in raw["layers"]] == [("text/spdx+json", len(Blob(document, "").content()))]

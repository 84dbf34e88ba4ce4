"""Manifest and descriptor validation when built from (already digest-checked) bytes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gate.errors import EvidenceError
from gate.registry import DOCKER_LIST, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST, Manifest

DIGEST = "sha256:" + "c" * 64
CONFIG = {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": DIGEST, "size": 2}


def _manifest(document: dict[str, Any], content_type: str | None = None) -> Manifest:
    return Manifest.from_bytes(json.dumps(document).encode(), DIGEST, content_type, "manifest of test")


@pytest.mark.parametrize("media_type", [OCI_MANIFEST, DOCKER_MANIFEST])
def test_image_manifest_accessors(media_type: str) -> None:
    layer = {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": DIGEST, "size": 9, "annotations": {"a": "b"}}
    m = _manifest({"schemaVersion": 2, "mediaType": media_type, "config": CONFIG, "layers": [layer]})
    assert not m.is_index and m.media_type == media_type
    assert m.config is not None and m.config.size == 2
    assert m.layers[0].annotations == {"a": "b"}
    assert m.artifact_type == CONFIG["mediaType"]  # OCI referrers rule: config media type when no artifactType
    assert m.descriptor.size == len(m.raw)


@pytest.mark.parametrize("media_type", [OCI_INDEX, DOCKER_LIST])
def test_index_accessors(media_type: str) -> None:
    child = {"mediaType": OCI_MANIFEST, "digest": DIGEST, "size": 5, "platform": {"os": "linux", "architecture": "arm64"}}
    m = _manifest({"schemaVersion": 2, "mediaType": media_type, "manifests": [child]})
    assert m.is_index and m.manifests[0].platform == {"os": "linux", "architecture": "arm64"}
    assert m.config is None and m.layers == ()


def test_media_type_from_content_type_when_the_body_has_none() -> None:
    m = _manifest({"schemaVersion": 2, "config": CONFIG, "layers": []}, content_type=f"{OCI_MANIFEST}; charset=utf-8")
    assert m.media_type == OCI_MANIFEST


def test_artifact_type_and_subject() -> None:
    subject = {"mediaType": OCI_MANIFEST, "digest": DIGEST, "size": 1}
    m = _manifest({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": "application/x", "config": CONFIG, "layers": [], "subject": subject})
    assert m.artifact_type == "application/x" and m.subject is not None and m.subject.digest == DIGEST


@pytest.mark.parametrize(
    ("document", "content_type", "fragment"),
    [
        ({"schemaVersion": 1, "name": "a", "tag": "b", "fsLayers": []}, "application/vnd.docker.distribution.manifest.v1+prettyjws", "schema 1"),
        ({"schemaVersion": 1, "name": "a", "fsLayers": []}, "application/json", "schema 1"),
        ({"schemaVersion": 2, "mediaType": "application/vnd.example.thing+json"}, None, "unknown manifest media type 'application/vnd.example.thing+json'"),
        ({"schemaVersion": 2, "config": CONFIG, "layers": []}, "text/plain", "unknown manifest media type 'text/plain'"),
        ({"schemaVersion": 2, "config": CONFIG, "layers": []}, None, "unknown manifest media type ''"),
        ({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": CONFIG, "layers": []}, DOCKER_MANIFEST, "ambiguous"),
        ({"schemaVersion": 3, "mediaType": OCI_MANIFEST, "config": CONFIG, "layers": []}, None, "schemaVersion must be 2"),
        ({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "layers": []}, None, "needs `config`"),
        ({"schemaVersion": 2, "mediaType": OCI_INDEX}, None, "no `manifests` list"),
        ({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": {**CONFIG, "digest": "sha256:12"}, "layers": []}, None, "digest is invalid"),
        ({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": {**CONFIG, "size": -1}, "layers": []}, None, "no valid size"),
        ({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": CONFIG, "layers": [{"digest": DIGEST, "size": 1}]}, None, "layers[0]: descriptor has no mediaType"),
        ({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": CONFIG, "layers": [], "annotations": {"a": 1}}, None, "annotations must map strings"),
    ],
)
def test_refuses_what_it_cannot_trust_by_name(document: dict[str, Any], content_type: str | None, fragment: str) -> None:
    with pytest.raises(EvidenceError) as caught:
        _manifest(document, content_type)
    assert fragment in caught.value.message and "manifest of test" in caught.value.message


@pytest.mark.parametrize("raw", [b"\xff\xfe", b"not json", b"[1, 2]"])
def test_refuses_non_json(raw: bytes) -> None:
    with pytest.raises(EvidenceError, match="manifest of test"):
        Manifest.from_bytes(raw, DIGEST, OCI_MANIFEST, "manifest of test")

"""Things attached to images: indexes with BuildKit attestations, cosign tags, OCI 1.1 artifacts.

Payloads (signatures, DSSE envelopes, bundles, SBOMs) come in as bytes or mappings made by the
caller; nothing here signs. Shapes follow:

- BuildKit attestation storage (``docs/attestations/attestation-storage.md``): an attestation
  manifest per platform image inside the index, described there with
  ``vnd.docker.reference.type: attestation-manifest``, ``vnd.docker.reference.digest`` and platform
  ``unknown/unknown``; in-toto layers ``application/vnd.in-toto+json`` annotated with
  ``in-toto.io/predicate-type``. ``style="legacy"`` uses an image config and no subject;
  ``style="oci-artifact"`` (BuildKit v0.32+) adds ``artifactType``, the empty config and ``subject``.
- cosign tags ``sha256-<hex>.sig`` / ``.att`` / ``.sbom`` in the subject's repository.
- OCI 1.1 artifacts with ``subject`` + ``artifactType``. Registry 2.8 has no referrers API, so
  :func:`push_artifact` also maintains the distribution spec 1.1 "referrers tag schema" index
  tagged ``sha256-<hex of subject>``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from tests.support.images import (
    MEDIA_TYPES,
    OCI_CONFIG,
    ImageBuilder,
    Media,
    PushedImage,
    PushedIndex,
    empty_descriptor,
    push_json_manifest,
    split_target,
)
from tests.support.push import OCI_INDEX, OCI_MANIFEST, PushedManifest, PushTarget, canonical_json, client_for

IN_TOTO = "application/vnd.in-toto+json"
DSSE_ENVELOPE = "application/vnd.dsse.envelope.v1+json"
COSIGN_SIMPLESIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
SIGSTORE_BUNDLE_V03 = "application/vnd.dev.sigstore.bundle.v0.3+json"
CYCLONEDX_JSON = "application/vnd.cyclonedx+json"
SPDX_JSON = "application/spdx+json"
BUILDKIT_ATTESTATION_ARTIFACT = "application/vnd.docker.attestation.manifest.v1+json"
PREDICATE_TYPE_ANNOTATION = "in-toto.io/predicate-type"

AttestationStyle = Literal["legacy", "oci-artifact"]


@dataclass(frozen=True)
class Blob:
    """Content to push as a layer: bytes, text, or a mapping (serialised as compact JSON)."""

    data: bytes | str | Mapping[str, Any]
    media_type: str
    annotations: Mapping[str, str] = field(default_factory=dict)

    def content(self) -> bytes:
        if isinstance(self.data, bytes):
            return self.data
        return self.data.encode() if isinstance(self.data, str) else canonical_json(self.data)

    def push(self, target: PushTarget, repository: str) -> dict[str, Any]:
        """Upload it; return its descriptor."""
        data = self.content()
        descriptor: dict[str, Any] = {
            "mediaType": self.media_type,
            "digest": client_for(target).push_blob(repository, data),
            "size": len(data),
        }
        if self.annotations:
            descriptor["annotations"] = dict(self.annotations)
        return descriptor


def in_toto_layer(statement: Mapping[str, Any] | bytes, predicate_type: str | None = None) -> Blob:
    """An in-toto statement layer as BuildKit stores it (predicate type read from the statement)."""
    if predicate_type is None:
        if not isinstance(statement, Mapping):
            raise ValueError("pass predicate_type= for a statement given as bytes")
        predicate_type = str(statement["predicateType"])
    return Blob(statement, IN_TOTO, {PREDICATE_TYPE_ANNOTATION: predicate_type})


# --- indexes ---------------------------------------------------------------------------------


def push_index(
    target: PushTarget,
    reference: str,
    images: Sequence[ImageBuilder | PushedImage],
    *,
    attestations: Mapping[str | int, Sequence[Blob | Mapping[str, Any]]] | None = None,
    style: AttestationStyle = "legacy",
    media: Media | None = None,
    annotations: Mapping[str, str] | None = None,
) -> PushedIndex:
    """Push the platform images (untagged) and an index over them, tagged as ``reference``.

    ``attestations`` maps a platform (``"linux/amd64"``) or a position in ``images`` to in-toto
    statements (mappings, or :func:`in_toto_layer` blobs); each gets a BuildKit attestation
    manifest in ``style`` listed after the images. ``media`` defaults to the first builder's.

    Raises:
        PushError: the registry refused something.
        ValueError: an already pushed image lives in another repository (2.8 would refuse the index).
    """
    repository, tag = split_target(target, reference)
    strays = [i.ref for i in images if isinstance(i, PushedImage) and i.repository != repository]
    if strays:
        raise ValueError(f"index {reference!r} can only list images of its own repository, not {strays}")
    pushed = tuple(image if isinstance(image, PushedImage) else image.push(target, repository) for image in images)
    media = media or next((image.media for image in images if isinstance(image, ImageBuilder)), "oci")
    descriptors = [image.descriptor(platform=image.platform) for image in pushed]
    attached = []
    for key, statements in (attestations or {}).items():
        subject = _select(pushed, key)
        manifest = push_attestation_manifest(target, subject, statements, style)
        attached.append(manifest)
        descriptors.append(
            manifest.descriptor(
                annotations={"vnd.docker.reference.digest": subject.digest, "vnd.docker.reference.type": "attestation-manifest"},
                platform={"architecture": "unknown", "os": "unknown"},
            )
        )
    document: dict[str, Any] = {"schemaVersion": 2, "mediaType": MEDIA_TYPES[media][2], "manifests": descriptors}
    if annotations:
        document["annotations"] = dict(annotations)
    index = push_json_manifest(target, repository, document, tag)
    return PushedIndex(**_fields(index), images=pushed, attestations=tuple(attached))


def _select(images: Sequence[PushedImage], key: str | int) -> PushedImage:
    if isinstance(key, int):
        return images[key]
    for image in images:
        platform = image.platform or {}
        name = "/".join(filter(None, (platform.get("os"), platform.get("architecture"), platform.get("variant"))))
        if name == key:
            return image
    raise KeyError(f"no image for platform {key!r} in the index")


def _fields(manifest: PushedManifest) -> dict[str, Any]:
    return {name: getattr(manifest, name) for name in ("host", "repository", "digest", "media_type", "raw", "tag")}


def push_attestation_manifest(
    target: PushTarget,
    subject: PushedManifest,
    statements: Sequence[Blob | Mapping[str, Any]],
    style: AttestationStyle = "legacy",
) -> PushedManifest:
    """Push one BuildKit attestation manifest for ``subject`` (untagged) in the given style."""
    repository = subject.repository
    layers = [(s if isinstance(s, Blob) else in_toto_layer(s)).push(target, repository) for s in statements]
    document: dict[str, Any] = {"schemaVersion": 2, "mediaType": OCI_MANIFEST}
    if style == "oci-artifact":
        document["artifactType"] = BUILDKIT_ATTESTATION_ARTIFACT
        document["config"] = _push_empty(target, repository)
    else:
        config = {"architecture": "unknown", "os": "unknown", "config": {}}
        config["rootfs"] = {"type": "layers", "diff_ids": [layer["digest"] for layer in layers]}
        document["config"] = Blob(config, OCI_CONFIG).push(target, repository)
    document["layers"] = layers
    if style == "oci-artifact":
        document["subject"] = subject.descriptor()
    return push_json_manifest(target, repository, document)


def _push_empty(target: PushTarget, repository: str) -> dict[str, Any]:
    """Registry 2.8 checks every descriptor's blob exists, inline ``data`` or not, so push ``{}``."""
    descriptor = empty_descriptor()
    client_for(target).push_blob(repository, b"{}")
    return descriptor


# --- cosign tags -----------------------------------------------------------------------------


def cosign_tag(subject_digest: str, suffix: str) -> str:
    """``sha256:abc``, ``.sig`` -> ``sha256-abc.sig`` (cosign's tag for things about that digest)."""
    return subject_digest.replace(":", "-") + suffix


def simple_signing_payload(subject: PushedManifest, docker_reference: str | None = None) -> dict[str, Any]:
    """The cosign "simple signing" payload naming ``subject``'s digest (the caller signs its bytes)."""
    return {
        "critical": {
            "identity": {"docker-reference": docker_reference or f"{subject.host}/{subject.repository}"},
            "image": {"docker-manifest-digest": subject.digest},
            "type": "cosign container image signature",
        },
        "optional": None,
    }


def cosign_signature_layer(
    payload: bytes | Mapping[str, Any],
    signature: str,
    *,
    certificate: str | None = None,
    chain: str | None = None,
    bundle: str | Mapping[str, Any] | None = None,
    annotations: Mapping[str, str] | None = None,
) -> Blob:
    """One ``.sig`` layer: the payload bytes, base64 ``signature``, optional PEM cert/chain and bundle."""
    values = {
        "dev.cosignproject.cosign/signature": signature,
        "dev.sigstore.cosign/certificate": certificate,
        "dev.sigstore.cosign/chain": chain,
        "dev.sigstore.cosign/bundle": bundle if isinstance(bundle, (str, type(None))) else canonical_json(bundle).decode(),
    }
    merged = {key: value for key, value in values.items() if value is not None} | dict(annotations or {})
    return Blob(payload, COSIGN_SIMPLESIGNING, merged)


def cosign_attestation_layer(
    envelope: bytes | Mapping[str, Any],
    predicate_type: str,
    *,
    certificate: str | None = None,
    chain: str | None = None,
    bundle: str | Mapping[str, Any] | None = None,
) -> Blob:
    """One ``.att`` layer: a DSSE envelope, annotated as ``cosign attest`` does (empty signature)."""
    layer = cosign_signature_layer(envelope, "", certificate=certificate, chain=chain, bundle=bundle)
    return Blob(layer.data, DSSE_ENVELOPE, {**layer.annotations, "predicateType": predicate_type})


def push_cosign_tag(
    target: PushTarget,
    subject: PushedManifest,
    suffix: Literal[".sig", ".att", ".sbom"],
    layers: Sequence[Blob],
    *,
    append: bool = True,
) -> PushedManifest:
    """Push (or, with ``append``, extend as cosign does) the ``sha256-<hex><suffix>`` manifest.

    The config is cosign's minimal image config listing the layer digests.
    """
    repository, tag = subject.repository, cosign_tag(subject.digest, suffix)
    descriptors = [blob.push(target, repository) for blob in layers]
    existing = client_for(target).get_manifest(repository, tag) if append else None
    if existing is not None:
        old = json.loads(existing[0]).get("layers", [])
        descriptors = old + [d for d in descriptors if d not in old]
    config = {
        "architecture": "",
        "created": "0001-01-01T00:00:00Z",
        "history": [{"created": "0001-01-01T00:00:00Z"}],
        "os": "",
        "rootfs": {"type": "layers", "diff_ids": [d["digest"] for d in descriptors]},
        "config": {},
    }
    document = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": Blob(config, OCI_CONFIG).push(target, repository),
        "layers": descriptors,
    }
    return push_json_manifest(target, repository, document, tag)


# --- OCI 1.1 artifacts -----------------------------------------------------------------------


def push_artifact(
    target: PushTarget,
    subject: PushedManifest | None,
    artifact_type: str,
    blobs: Sequence[Blob] = (),
    *,
    annotations: Mapping[str, str] | None = None,
    config: Blob | None = None,
    tag: str | None = None,
    repository: str | None = None,
    referrers_fallback: bool = True,
) -> PushedManifest:
    """Push an OCI 1.1 artifact manifest (``artifactType``, ``subject``), untagged unless ``tag``.

    With no blobs the single layer is the empty descriptor (image spec 1.1 guidance). With a
    subject and ``referrers_fallback``, the artifact is also added to the subject's
    ``sha256-<hex>`` referrers tag index, since registry 2.8 has no referrers API.
    """
    if repository is None:
        if subject is None:
            raise ValueError("push_artifact needs a subject or a repository")
        repository = subject.repository
    layers = [blob.push(target, repository) for blob in blobs] or [_push_empty(target, repository)]
    document: dict[str, Any] = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": artifact_type}
    document["config"] = config.push(target, repository) if config else _push_empty(target, repository)
    document["layers"] = layers
    if subject is not None:
        document["subject"] = subject.descriptor()
    if annotations:
        document["annotations"] = dict(annotations)
    artifact = push_json_manifest(target, repository, document, tag)
    if subject is not None and referrers_fallback:
        add_referrer(target, subject, artifact)
    return artifact


def push_sigstore_bundle(
    target: PushTarget,
    subject: PushedManifest,
    bundle: bytes | Mapping[str, Any],
    *,
    content: Literal["dsse-envelope", "message-signature"] = "dsse-envelope",
    predicate_type: str | None = "https://sigstore.dev/cosign/sign/v1",
    created: str = "2026-01-01T00:00:00Z",
) -> PushedManifest:
    """A Sigstore bundle v0.3 attached as an OCI 1.1 referrer, as ``cosign sign --new-bundle-format`` does."""
    annotations = {"dev.sigstore.bundle.content": content, "org.opencontainers.image.created": created}
    if predicate_type:
        annotations["dev.sigstore.bundle.predicateType"] = predicate_type
    blob = Blob(bundle, SIGSTORE_BUNDLE_V03)
    return push_artifact(target, subject, SIGSTORE_BUNDLE_V03, [blob], annotations=annotations)


def referrers_tag(subject_digest: str) -> str:
    """The distribution spec 1.1 referrers tag schema: ``<alg>-<hex>`` for ``<alg>:<hex>``."""
    algorithm, _, encoded = subject_digest.partition(":")
    return f"{algorithm}-{encoded}"[:128]


def add_referrer(target: PushTarget, subject: PushedManifest, artifact: PushedManifest) -> PushedManifest:
    """Add ``artifact`` to the subject's referrers tag index (created if missing), keeping the rest.

    Each descriptor carries ``artifactType`` (the manifest's, else its config media type) and the
    manifest's annotations, as the referrers API would return them.
    """
    repository, tag = subject.repository, referrers_tag(subject.digest)
    manifest = artifact.json
    descriptor = artifact.descriptor(artifactType=manifest.get("artifactType") or manifest["config"]["mediaType"])
    if manifest.get("annotations"):
        descriptor["annotations"] = manifest["annotations"]
    existing = client_for(target).get_manifest(repository, tag)
    current = json.loads(existing[0]).get("manifests", []) if existing else []
    manifests = [d for d in current if d.get("digest") != artifact.digest] + [descriptor]
    return push_json_manifest(target, repository, {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}, tag)

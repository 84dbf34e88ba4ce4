"""Find everything attached to an image in one parallel pass over every store.

Stores, for the top digest (index or single manifest) and for each platform manifest of an index:

* cosign tags ``sha256-<hex>.sig`` (simple-signing layers), ``.att`` (DSSE envelopes) and the
  deprecated ``.sbom`` (a raw SBOM layer);
* OCI 1.1 referrers (the API, else the ``sha256-<hex>`` tag-schema index), of the artifact types we
  read: Sigstore bundles, in-toto / DSSE, CycloneDX and SPDX. Other artifact types cost no request;
* BuildKit attestation manifests inside the index (both the legacy shape, with
  ``vnd.docker.reference.type: attestation-manifest`` and ``vnd.docker.reference.digest``
  annotations, and the OCI-artifact shape with ``artifactType
  application/vnd.docker.attestation.manifest.v1+json``, empty config and ``subject``).

Requests: per subject digest three tag lookups and one referrers listing; then each manifest and
blob we will parse, once (an artifact reachable two ways is fetched once). Sizes are checked against
the descriptor before any blob request (``limits.blob_bytes``, BuildKit's 40 MiB cap for its
attestations) and again by the client while reading. A store that fails (a malformed manifest, a
blob over the cap) becomes a :class:`Problem` — reported, never a crash — while the others still count.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Literal, Mapping, TypeVar

from gate.errors import GateError, RegistryError
from gate.evidence._signatures import BUNDLE_MEDIA_TYPES, DSSE_ENVELOPE, SIMPLE_SIGNING, StoredLayer
from gate.registry import Descriptor, Manifest, Reference, RegistryClient

Store = Literal["cosign-sig", "cosign-att", "cosign-sbom", "referrer", "buildkit"]

IN_TOTO = "application/vnd.in-toto+json"
BUILDKIT_ARTIFACT_TYPE = "application/vnd.docker.attestation.manifest.v1+json"
BUILDKIT_REFERENCE_TYPE = "vnd.docker.reference.type"
BUILDKIT_REFERENCE_DIGEST = "vnd.docker.reference.digest"
BUILDKIT_MAX_BYTES = 40 * 1024 * 1024  # BuildKit refuses to write attestations above this
# The SBOM media types of OCI referrers and cosign's deprecated `.sbom` tag.
SBOM_MEDIA_TYPES = (
    "application/vnd.cyclonedx+json",
    "application/vnd.cyclonedx+xml",
    "application/vnd.cyclonedx",
    "application/spdx+json",
    "text/spdx+json",
)
_COSIGN_TAGS: tuple[tuple[str, Store, frozenset[str]], ...] = (
    (".sig", "cosign-sig", frozenset({SIMPLE_SIGNING})),
    (".att", "cosign-att", frozenset({DSSE_ENVELOPE})),
    (".sbom", "cosign-sbom", frozenset(SBOM_MEDIA_TYPES)),
)
# cosign's OCI 1.1 mode (--registry-referrers-mode=oci-1-1) stores `.sig`/`.att` content as referrers.
COSIGN_SIG_ARTIFACT = "application/vnd.dev.cosign.artifact.sig.v1+json"
COSIGN_ATT_ARTIFACT = "application/vnd.dev.cosign.artifact.att.v1+json"
_SIGNATURE_MEDIA = frozenset({SIMPLE_SIGNING, DSSE_ENVELOPE, *BUNDLE_MEDIA_TYPES})
_REFERRER_LAYERS = frozenset({IN_TOTO, *_SIGNATURE_MEDIA, *SBOM_MEDIA_TYPES})
_REFERRER_TYPES = _REFERRER_LAYERS | {BUILDKIT_ARTIFACT_TYPE, COSIGN_SIG_ARTIFACT, COSIGN_ATT_ARTIFACT}

T = TypeVar("T")


@dataclass(frozen=True)
class Artifact:
    """One attached blob: where it was found, the manifest it hangs from, its descriptor and bytes.

    ``subject`` is the image digest the blob is about; ``manifest`` the manifest that lists the blob;
    ``reachable_from`` the digest of a manifest that lists ``manifest`` by digest (the index, for
    BuildKit attestations), so a trusted signature on it covers this blob (docs/report.md).
    """

    store: Store
    subject: str
    manifest: str
    descriptor: Descriptor
    data: bytes = field(repr=False)
    source: str
    reachable_from: str | None = None

    @property
    def media_type(self) -> str:
        return self.descriptor.media_type

    def stored_layer(self) -> StoredLayer:
        """The shape the signature parser reads."""
        return StoredLayer(self.media_type, MappingProxyType(dict(self.descriptor.annotations)), self.data, self.source)


@dataclass(frozen=True)
class Problem:
    """Something attached that is malformed or over a cap: ignored, and reported beside the verdict."""

    source: str
    message: str
    details: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class AttachedEvidence:
    """Everything :func:`discover` found for one image, plus what it could not read."""

    image_digest: str
    subjects: tuple[str, ...]
    artifacts: tuple[Artifact, ...]
    problems: tuple[Problem, ...]
    # Every manifest an artifact hangs from, by digest: its bytes prove each artifact's descriptor
    # when the evidence is checked again away from the registry (gate.engine's shared facts).
    manifests: Mapping[str, Manifest] = field(default_factory=dict, repr=False)

    def signature_layers(self) -> tuple[StoredLayer, ...]:
        """Layers the signature verifier reads: simple-signing, DSSE and Sigstore bundle layers, from any store."""
        return tuple(a.stored_layer() for a in self.artifacts if media_type_in(a.media_type, _SIGNATURE_MEDIA))

    def about(self, *digests: str) -> tuple[Artifact, ...]:
        """Artifacts hanging from any of ``digests`` (a platform manifest and its index, say)."""
        return tuple(a for a in self.artifacts if a.subject in digests)


class _Pass:
    """One discovery pass: the client, the caps, and the problems and manifests seen so far."""

    def __init__(self, client: RegistryClient, ref: Reference, blob_cap: int, total_cap: int):
        self.client, self.ref, self.blob_cap = client, ref, blob_cap
        self.remaining, self.total_cap = total_cap, total_cap
        self.problems: list[Problem] = []
        self.claimed: set[str] = set()  # manifests some job already fetches (each is read once)
        self.manifests: dict[str, Manifest] = {}  # each manifest whose layers were fetched

    async def attempt(self, source: str, action: Callable[[], Awaitable[T]], default: T) -> T:
        """Run one store's fetch; malformed or oversized content becomes a :class:`Problem`.

        Raises:
            RegistryError: the registry failed or lied (5xx, auth, timeout, digest mismatch): the
                evidence is unknown, not absent, so the whole evaluation fails closed and is retried.
        """
        try:
            return await action()
        except RegistryError:
            raise
        except GateError as exc:
            self.problems.append(Problem(source, exc.message, MappingProxyType(dict(exc.details))))
            return default

    async def layers(self, found: Artifact, manifest: Manifest, wanted: frozenset[str], cap: int) -> list[Artifact]:
        """Fetch the wanted layers of ``manifest`` in parallel, each capped; ``found`` holds the common fields."""
        chosen = [(i, d) for i, d in enumerate(manifest.layers) if media_type_in(d.media_type, wanted)]
        self.manifests[manifest.digest] = manifest
        fetched = await asyncio.gather(*(self._layer(found, i, d, cap) for i, d in chosen))
        return [artifact for artifact in fetched if artifact is not None]

    def charge(self, source: str, size: int) -> bool:
        """Reserve ``size`` bytes of the image's evidence budget before fetching; False (and a
        Problem) once it is spent, so whoever can push to a repository cannot flood a gate with
        attachments. Runs between awaits, so concurrent jobs never overdraw it."""
        if size > self.remaining:
            message = f"{source} of {self.ref} ignored: the evidence attached to this image exceeds {self.total_cap} bytes (limits.evidence_bytes)"
            self.problems.append(Problem(source, message, {"size": size, "cap": self.total_cap}))
            return False
        self.remaining -= size
        return True

    async def _layer(self, found: Artifact, index: int, layer: Descriptor, cap: int) -> Artifact | None:
        source = f"{found.source} layer {index}"
        if layer.size > cap:
            self.problems.append(Problem(source, f"{source} of {self.ref} is {layer.size} bytes, above the {cap}-byte cap; ignored", {"size": layer.size, "cap": cap}))
            return None
        if not self.charge(source, layer.size):
            return None
        data = await self.attempt(source, lambda: self.client.blob(self.ref, layer, max_bytes=cap), None)
        return None if data is None else replace(found, descriptor=layer, data=data, source=source)


async def discover(
    client: RegistryClient, ref: Reference, manifest: Manifest, *, blob_bytes: int = BUILDKIT_MAX_BYTES, total_bytes: int = 4 * BUILDKIT_MAX_BYTES
) -> AttachedEvidence:
    """Find signatures, attestations and SBOMs attached to ``manifest`` (as fetched from ``ref``).

    Args:
        client: an open registry client.
        ref: the image reference (its repository is searched).
        manifest: the top manifest or index of the image, already fetched and verified.
        blob_bytes: the cap for any attached blob (pass ``config.limits.blob_bytes``; default 40 MiB).
        total_bytes: the cap for all attached manifests and blobs together (``config.limits.evidence_bytes``).

    Never raises for what it finds: unreadable stores become :attr:`AttachedEvidence.problems`.
    """
    run = _Pass(client, ref, blob_bytes, total_bytes)
    entries = manifest.manifests if manifest.is_index else ()
    attestations = [d for d in entries if _is_buildkit_attestation(d)]
    subjects = [manifest.digest, *(d.digest for d in entries if not _is_buildkit_attestation(d))]
    run.claimed.update(d.digest for d in attestations)  # read through the index, not again as referrers
    # cosign's `<alg>-<hex>.sig` tag of a sha512 digest is longer than a tag may be: none can exist.
    tagged = [subject for subject in subjects if subject.startswith("sha256:")]
    jobs = [_cosign_tag(run, subject, suffix, store, wanted) for subject in tagged for suffix, store, wanted in _COSIGN_TAGS]
    jobs += [_referrers(run, subject) for subject in subjects]
    jobs += [_buildkit(run, manifest.digest, descriptor, set(subjects)) for descriptor in attestations]
    found = await asyncio.gather(*jobs)
    artifacts = tuple(artifact for group in found for artifact in group)
    return AttachedEvidence(manifest.digest, tuple(subjects), artifacts, tuple(run.problems), MappingProxyType(run.manifests))


async def _cosign_tag(run: _Pass, subject: str, suffix: str, store: Store, wanted: frozenset[str]) -> list[Artifact]:
    tag = subject.replace(":", "-") + suffix
    tagged = await run.attempt(tag, lambda: run.client.tag_manifest(run.ref, tag), None)
    if tagged is None:
        return []
    if tagged.is_index:
        run.problems.append(Problem(tag, f"cosign tag {tag} of {run.ref} holds an index, not a manifest; ignored"))
        return []
    return await run.layers(_found(store, subject, tagged, tag), tagged, wanted, run.blob_cap)


async def _referrers(run: _Pass, subject: str) -> list[Artifact]:
    listing: list[Descriptor] = await run.attempt(f"referrers of {subject}", lambda: run.client.referrers(run.ref, subject), [])
    wanted = [d for d in listing if media_type_in(d.artifact_type or "", _REFERRER_TYPES)]
    fresh = [d for d in wanted if d.digest not in run.claimed]
    run.claimed.update(d.digest for d in fresh)
    fresh = [d for d in fresh if run.charge(f"referrer {d.digest}", d.size)]
    groups = await asyncio.gather(*(_referrer(run, subject, d) for d in fresh))
    return [artifact for group in groups for artifact in group]


async def _referrer(run: _Pass, subject: str, descriptor: Descriptor) -> list[Artifact]:
    label = f"referrer {descriptor.digest}"
    referrer = await run.attempt(label, lambda: run.client.manifest(run.ref.with_digest(descriptor.digest)), None)
    if referrer is None or referrer.is_index:
        return []
    declared = referrer.subject.digest if referrer.subject else None
    if declared != subject:
        run.problems.append(Problem(label, f"{label} is listed for {subject} but its subject is {declared}; ignored"))
        return []
    store: Store = "buildkit" if referrer.artifact_type == BUILDKIT_ARTIFACT_TYPE else "referrer"
    cap = min(run.blob_cap, BUILDKIT_MAX_BYTES) if store == "buildkit" else run.blob_cap
    return await run.layers(_found(store, subject, referrer, label), referrer, _REFERRER_LAYERS, cap)


async def _buildkit(run: _Pass, index_digest: str, descriptor: Descriptor, subjects: set[str]) -> list[Artifact]:
    label = f"attestation manifest {descriptor.digest}"
    attestation = await run.attempt(label, lambda: run.client.manifest(run.ref.with_digest(descriptor.digest)), None)
    if attestation is None:
        return []
    subject = _buildkit_subject(run, descriptor, attestation, label)
    if subject is None:
        return []
    if subject not in subjects:
        run.problems.append(Problem(label, f"{label} refers to {subject}, which is not a manifest of this index; ignored"))
        return []
    found = replace(_found("buildkit", subject, attestation, label), reachable_from=index_digest)
    return await run.layers(found, attestation, frozenset({IN_TOTO}), min(run.blob_cap, BUILDKIT_MAX_BYTES))


def _buildkit_subject(run: _Pass, descriptor: Descriptor, attestation: Manifest, label: str) -> str | None:
    """The platform manifest an attestation manifest is about; both shapes, and they must agree."""
    annotated = descriptor.annotations.get(BUILDKIT_REFERENCE_DIGEST)
    declared = attestation.subject.digest if attestation.subject else None
    if annotated and declared and annotated != declared:
        run.problems.append(Problem(label, f"{label}: index annotation says {annotated} but the manifest's subject is {declared}; ignored"))
        return None
    if not (annotated or declared):
        run.problems.append(Problem(label, f"{label} names no image it attests (no {BUILDKIT_REFERENCE_DIGEST}, no subject); ignored"))
    return annotated or declared


def _found(store: Store, subject: str, manifest: Manifest, label: str) -> Artifact:
    """The fields every layer of ``manifest`` shares; each fetched layer fills in the rest."""
    return Artifact(store, subject, manifest.digest, manifest.descriptor, b"", label)


def media_type_in(media_type: str, types: frozenset[str]) -> bool:
    """``media_type`` is one of ``types``, with or without its parameters (``;version=0.3``)."""
    return media_type in types or media_type.split(";")[0].strip() in types


def _is_buildkit_attestation(descriptor: Descriptor) -> bool:
    return descriptor.annotations.get(BUILDKIT_REFERENCE_TYPE) == "attestation-manifest" or descriptor.artifact_type == BUILDKIT_ARTIFACT_TYPE

"""One platform image's facts in a form another gate process can check again: the evidence
attached to the image as the registry served it (manifest and blob bytes), never a verification result.

A replica reading facts from the shared cache, or a gate with ``images`` reading a verification
summary, rebuilds the attached evidence from these bytes and verifies every signature and
attestation itself, against its own trust. On the way back each manifest must match its digest;
each artifact must be a layer of one of those manifests (named by position, so the descriptor
with its media type and annotations comes from the manifest's own bytes) and match that layer's
digest and size; an artifact whose manifest names a ``subject`` must hang from that subject; the
index must match the image's digest and list the platform image; an artifact reachable from the
index must be listed by it. So every byte is one a registry served for these digests. What is
still taken on trust is which artifacts there were: a value can leave some out, as a registry can.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, get_args, get_type_hints

from gate.engine._image import ImageFacts
from gate.engine._verified import PlatformImage, VerifiedEvidence, verify_evidence
from gate.errors import EvidenceError
from gate.evidence import Artifact, AttachedEvidence, Problem
from gate.policy_input import ImageIdentity
from gate.registry import Manifest, Reference, digest_matches
from gate.verify import TrustPolicy

PORTABLE_BYTES = 4 * 1024 * 1024  # attached bytes beyond this stay where they were read (a large SBOM would bloat Redis and summaries)
_STORES = frozenset(get_args(get_type_hints(Artifact)["store"]))  # where discovery can find an artifact


@dataclass(frozen=True)
class PortableEvidence:
    """The attached evidence about one platform image (and its index), with the manifests that prove it.

    ``layers`` gives each artifact's position among its manifest's layers; ``manifests`` holds the
    index and every manifest an artifact hangs from, by digest.
    """

    subject: PlatformImage
    top: str  # the digest the reference resolved to: the index, or the platform image itself
    artifacts: tuple[Artifact, ...]
    layers: tuple[int, ...]
    problems: tuple[Problem, ...]
    manifests: Mapping[str, Manifest]

    @classmethod
    def of(cls, attached: AttachedEvidence, subject: PlatformImage) -> PortableEvidence | None:
        """The portable form of what ``attached`` holds about ``subject``; None when a manifest is
        unknown (the evidence was not read by discovery), so it could not be proven elsewhere."""
        about = attached.about(*_digests(subject))
        hung_from = {artifact.manifest for artifact in about}
        manifests = {digest: manifest for digest, manifest in attached.manifests.items() if digest in hung_from}
        if subject.index_digest is not None:
            if subject.index is None:
                return None
            manifests[subject.index_digest] = subject.index
        layers = []
        for artifact in about:
            listed = manifests[artifact.manifest].layers if artifact.manifest in manifests else ()
            position = next((i for i, layer in enumerate(listed) if layer == artifact.descriptor), None)
            if position is None:
                return None
            layers.append(position)
        return cls(subject, attached.image_digest, about, tuple(layers), attached.problems, MappingProxyType(manifests))

    @property
    def size(self) -> int:
        """Bytes of attached blobs and manifests carried."""
        return sum(len(artifact.data) for artifact in self.artifacts) + sum(len(manifest.raw) for manifest in self.manifests.values())

    @property
    def carriable(self) -> bool:
        """Small enough to carry to another process (shared cache, summary): at most ``PORTABLE_BYTES``."""
        return self.size <= PORTABLE_BYTES

    def attached(self) -> AttachedEvidence:
        """The evidence as discovery returned it, for :func:`verify_evidence`."""
        subjects = tuple(dict.fromkeys((self.top, self.subject.digest)))
        return AttachedEvidence(self.top, subjects, self.artifacts, self.problems, self.manifests)

    def to_json(self) -> dict[str, Any]:
        return {
            "digest": self.subject.digest,
            "index_digest": self.subject.index_digest,
            "manifests": {digest: {"media_type": m.media_type, "data": _b64(m.raw)} for digest, m in self.manifests.items()},
            "artifacts": [
                {
                    "store": a.store,
                    "subject": a.subject,
                    "manifest": a.manifest,
                    "layer": layer,
                    "data": _b64(a.data),
                    "source": a.source,
                    "reachable_from": a.reachable_from,
                }
                for a, layer in zip(self.artifacts, self.layers, strict=True)
            ],
            "problems": [{"source": p.source, "message": p.message, "details": json.loads(json.dumps(dict(p.details), default=str))} for p in self.problems],
        }

    @classmethod
    def from_json(cls, body: Any, top: str, what: str) -> PortableEvidence:
        """Rebuild and check the evidence of a platform image of ``top`` (the digest the reference resolved to).

        Raises:
            EvidenceError: a byte does not match its digest, a descriptor is not in its manifest,
                the index is not ``top`` or does not list the image, or a field is malformed.
        """
        try:
            return _from_json(_object(body, what), top, what)
        except (KeyError, TypeError, ValueError, binascii.Error) as exc:
            raise EvidenceError(f"{what}: malformed evidence ({type(exc).__name__}: {exc})") from exc


def _from_json(body: dict[str, Any], top: str, what: str) -> PortableEvidence:
    manifests = {digest: _manifest(digest, _object(item, what), what) for digest, item in _object(body["manifests"], what).items()}
    digest, index_digest = _text(body["digest"]), _optional_text(body["index_digest"])
    if (index_digest or digest) != top:
        raise EvidenceError(f"{what}: evidence about {index_digest or digest}, not {top}")
    index = manifests.get(index_digest) if index_digest else None
    listed = {entry.digest for entry in index.manifests} if index is not None and index.is_index else set()
    if index_digest is not None and digest not in listed:
        raise EvidenceError(f"{what}: the index {index_digest} is not among the manifests carried, or does not list {digest}")
    subject = PlatformImage(digest, index_digest, index.json if index else None, index)
    artifacts = tuple(_artifact(item, manifests, subject, listed, f"{what} artifact {i}") for i, item in enumerate(body["artifacts"]))
    problems = tuple(_problem(item) for item in body["problems"])
    return PortableEvidence(subject, top, artifacts, tuple(item["layer"] for item in body["artifacts"]), problems, MappingProxyType(manifests))


def _manifest(digest: str, item: dict[str, Any], what: str) -> Manifest:
    """A carried manifest, its bytes checked against its digest before they are read."""
    raw = _unb64(item["data"])
    if not digest_matches(raw, digest):
        raise EvidenceError(f"{what}: manifest bytes do not match {digest}")
    return Manifest.from_bytes(raw, digest, _text(item["media_type"]), f"{what} manifest {digest}")


def _artifact(item: Any, manifests: dict[str, Manifest], subject: PlatformImage, listed: set[str], what: str) -> Artifact:
    """One artifact, its descriptor read from its manifest's bytes and its data checked against it."""
    item = _object(item, what)
    manifest = manifests[_text(item["manifest"])]
    position = item["layer"]
    if not isinstance(position, int) or isinstance(position, bool) or not 0 <= position < len(manifest.layers):
        raise EvidenceError(f"{what}: {manifest.digest} has no layer {position!r}")
    descriptor = manifest.layers[position]
    data = _unb64(item["data"])
    if len(data) != descriptor.size or not digest_matches(data, descriptor.digest):
        raise EvidenceError(f"{what}: data does not match {descriptor.digest}")
    about = _text(item["subject"])
    if about not in _digests(subject) or (manifest.subject is not None and manifest.subject.digest != about):
        raise EvidenceError(f"{what}: hangs from {about}, which is not this image (or not its manifest's subject)")
    reachable_from = _optional_text(item["reachable_from"])
    if reachable_from is not None and (reachable_from != subject.index_digest or manifest.digest not in listed):
        raise EvidenceError(f"{what}: {manifest.digest} is not listed by {reachable_from}")
    if item["store"] not in _STORES:
        raise EvidenceError(f"{what}: unknown store {item['store']!r}")
    return Artifact(item["store"], about, manifest.digest, descriptor, data, _text(item["source"]), reachable_from)


def _problem(item: Any) -> Problem:
    item = _object(item, "problem")
    return Problem(_text(item["source"]), _text(item["message"]), MappingProxyType(_object(item["details"], "problem details")))


@dataclass(frozen=True)
class PlatformFacts:
    """What is known about one platform image, its evidence verified by this gate (cached by digest).

    ``evidence`` is the attached evidence as served, when it can be carried to another process
    (shared cache, summary); ``summary`` the report's ``evidence.summary`` when the scan facts
    came from a verification summary (the evidence was still verified here).
    """

    image: ImageIdentity
    scan: ImageFacts
    verified: VerifiedEvidence
    platform: str  # os/arch[/variant]: the index entry's, else the image config's
    inputs: tuple[str, ...] = ()  # digests of the attached manifests read as evidence (a summary's inputAttestations)
    ignored: tuple[str, ...] = ()  # verification summaries looked at and not used, with why
    evidence: PortableEvidence | None = None
    summary: dict[str, Any] | None = None

    @classmethod
    def verify(
        cls, identity: ImageIdentity, scan: ImageFacts, evidence: PortableEvidence, trust: TrustPolicy, now: dt.datetime, **extra: Any
    ) -> PlatformFacts:
        """Facts whose evidence is verified now against ``trust``; the platform is the index entry's, else the config's."""
        verified = verify_evidence(evidence.attached(), evidence.subject, trust, now)
        inputs = tuple(sorted({artifact.manifest for artifact in evidence.artifacts}))
        return cls(identity, scan, verified, identity.platform or scan.platform, inputs, evidence=evidence, **extra)

    def shareable(self) -> bool:
        """Whether another replica may be handed these facts: read here, and not too large to carry."""
        return self.summary is None and self.evidence is not None and self.evidence.carriable

    def to_json(self) -> dict[str, Any]:
        """The shared cache's record (only for :meth:`shareable` facts)."""
        if self.evidence is None:
            raise ValueError("facts without portable evidence are not shared")
        scan = self.scan
        return {
            "platform": self.image.platform,
            "scan": {"config": scan.config, "user": scan.user, "findings": list(scan.findings), "errors": list(scan.errors), "platform": scan.platform},
            "ignored": list(self.ignored),
            "evidence": self.evidence.to_json(),
        }

    @classmethod
    def from_json(cls, body: Any, key: tuple[str, str, str], trust: TrustPolicy, now: dt.datetime) -> PlatformFacts:
        """Rebuild a shared record for ``key`` (registry, repository, the digest the reference resolved
        to), verifying its evidence here; the scan facts are taken as stored, like shared layer scans.

        Raises:
            EvidenceError, KeyError, TypeError, ValueError: the record does not check out.
        """
        registry, repository, top = key
        body = _object(body, "facts")
        evidence = PortableEvidence.from_json(body["evidence"], top, "shared facts")
        scan = _object(body["scan"], "scan")
        facts = ImageFacts(
            config=_object(scan["config"], "config"),
            user=_object(scan["user"], "user"),
            findings=_objects(scan["findings"]),
            errors=_objects(scan["errors"]),
            platform=_text(scan["platform"]),
        )
        if facts.errors:
            raise ValueError("facts with scan errors are never shared")
        digest = evidence.subject.digest
        identity = ImageIdentity(
            reference=str(Reference(registry, repository, None, digest)),
            registry=registry,
            repository=repository,
            digest=digest,
            platform=_optional_text(body["platform"]),
            index_digest=evidence.subject.index_digest,
        )
        ignored = tuple(_text(text) for text in body["ignored"])
        return cls.verify(identity, facts, evidence, trust, now, ignored=ignored)


def _digests(subject: PlatformImage) -> tuple[str, ...]:
    return tuple(d for d in (subject.digest, subject.index_digest) if d)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: Any) -> bytes:
    return base64.b64decode(_text(text), validate=True)


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TypeError(f"{what} must be a JSON object")
    return value


def _objects(value: Any) -> tuple[dict[str, Any], ...]:
    if not isinstance(value, list):
        raise TypeError("expected a JSON array")
    return tuple(_object(item, "entry") for item in value)


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("expected a string")
    return value


def _optional_text(value: Any) -> str | None:
    return None if value is None else _text(value)

"""Descriptors and manifests, validated when they are built (OCI image-spec, Docker v2 schema 2).

A :class:`Manifest` is only ever built from bytes whose digest has been checked, and refuses
anything that is not one of the four manifest kinds we understand: Docker schema 1 (unsigned or
signed) and unknown media types are refused by name, never guessed at.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from gate.errors import EvidenceError
from gate.registry._digest import digest_problem

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_LIST})
MANIFEST_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
KNOWN_TYPES = INDEX_TYPES | MANIFEST_TYPES
ACCEPT = ", ".join([OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST])
_SCHEMA1 = ("application/vnd.docker.distribution.manifest.v1+json", "application/vnd.docker.distribution.manifest.v1+prettyjws")


def unsupported_type_problem(media_type: str) -> str | None:
    """Say why a manifest media type is refused, or None when it is one we read."""
    base = media_type.split(";")[0].strip().lower()
    if base in KNOWN_TYPES:
        return None
    if base in _SCHEMA1:
        return f"Docker schema 1 manifests ({base}) are deprecated and unverifiable; rebuild and push the image with a current builder"
    return f"unknown manifest media type {media_type!r}; expected one of {ACCEPT}"


@dataclass(frozen=True)
class Descriptor:
    """An OCI content descriptor: what a manifest, index or referrers list points at."""

    media_type: str
    digest: str
    size: int
    annotations: dict[str, str] = field(default_factory=dict)
    artifact_type: str | None = None
    platform: dict[str, Any] | None = None
    urls: tuple[str, ...] = ()

    def __hash__(self) -> int:
        return hash((self.media_type, self.digest, self.size))

    @classmethod
    def from_json(cls, value: Any, where: str) -> "Descriptor":
        """Build a descriptor from its JSON object.

        Raises:
            EvidenceError: a field is missing or has the wrong type; ``where`` names the document.
        """
        if not isinstance(value, dict):
            raise EvidenceError(f"{where}: descriptor is not a JSON object")
        media_type, digest, size = value.get("mediaType"), value.get("digest"), value.get("size")
        if not isinstance(media_type, str) or not media_type:
            raise EvidenceError(f"{where}: descriptor has no mediaType")
        if not isinstance(digest, str) or digest_problem(digest):
            raise EvidenceError(f"{where}: descriptor digest is invalid: {digest_problem(str(digest))}")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise EvidenceError(f"{where}: descriptor {digest} has no valid size")
        return cls(
            media_type=media_type,
            digest=digest,
            size=size,
            annotations=_string_map(value.get("annotations"), f"{where}: annotations"),
            artifact_type=_optional_str(value.get("artifactType"), f"{where}: artifactType"),
            platform=_optional_dict(value.get("platform"), f"{where}: platform"),
            urls=tuple(_string_list(value.get("urls"), f"{where}: urls")),
        )


@dataclass(frozen=True)
class Manifest:
    """A manifest or index whose bytes matched ``digest``. Build it with :meth:`from_bytes`.

    Its descriptors are read and validated once, when it is built: ``manifests`` (the entries of
    an index), ``config`` and ``layers`` (of an image manifest) and ``subject`` (OCI 1.1).
    """

    digest: str
    media_type: str
    raw: bytes
    json: dict[str, Any] = field(repr=False)
    manifests: tuple[Descriptor, ...] = field(default=(), repr=False, compare=False)
    config: Descriptor | None = field(default=None, repr=False, compare=False)
    layers: tuple[Descriptor, ...] = field(default=(), repr=False, compare=False)
    subject: Descriptor | None = field(default=None, repr=False, compare=False)

    def __hash__(self) -> int:
        return hash(self.digest)

    @classmethod
    def from_bytes(cls, raw: bytes, digest: str, content_type: str | None, where: str) -> "Manifest":
        """Parse verified manifest bytes; the body's ``mediaType`` wins over the Content-Type header.

        Raises:
            EvidenceError: not JSON, schema 1, an unknown or contradictory media type, or a
                malformed descriptor inside it.
        """
        document = _parse_json(raw, where)
        media_type = _media_type(document, content_type, where)
        _check_shape(document, media_type in INDEX_TYPES, where)
        return cls(
            digest=digest,
            media_type=media_type,
            raw=raw,
            json=document,
            manifests=_descriptors(document, "manifests", where),
            config=_descriptor(document, "config", where),
            layers=_descriptors(document, "layers", where),
            subject=_descriptor(document, "subject", where),
        )

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_TYPES

    @property
    def descriptor(self) -> Descriptor:
        """This manifest as a descriptor (its size is the length of its bytes)."""
        return Descriptor(self.media_type, self.digest, len(self.raw), self.annotations, self.artifact_type)

    @property
    def annotations(self) -> dict[str, str]:
        return dict(self.json.get("annotations") or {})

    @property
    def artifact_type(self) -> str | None:
        """``artifactType``, else the config media type of an image manifest (OCI referrers rule)."""
        explicit: str | None = self.json.get("artifactType")  # _check_shape refused any other type
        if explicit:
            return explicit
        return self.config.media_type if self.config is not None else None


def _check_shape(document: dict[str, Any], is_index: bool, where: str) -> None:
    if document.get("schemaVersion") != 2:
        raise EvidenceError(f"{where}: schemaVersion must be 2, got {document.get('schemaVersion')!r}")
    _string_map(document.get("annotations"), f"{where}: annotations")
    _optional_str(document.get("artifactType"), f"{where}: artifactType")
    if is_index:
        if not isinstance(document.get("manifests"), list):
            raise EvidenceError(f"{where}: index has no `manifests` list")
    elif document.get("config") is None or not isinstance(document.get("layers", []), list):
        raise EvidenceError(f"{where}: image manifest needs `config` and a `layers` list")


def _descriptors(document: dict[str, Any], key: str, where: str) -> tuple[Descriptor, ...]:
    return tuple(Descriptor.from_json(d, f"{where}: {key}[{i}]") for i, d in enumerate(document.get(key) or ()))


def _descriptor(document: dict[str, Any], key: str, where: str) -> Descriptor | None:
    value = document.get(key)
    return None if value is None else Descriptor.from_json(value, f"{where}: {key}")


def _parse_json(raw: bytes, where: str) -> dict[str, Any]:
    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EvidenceError(f"{where}: manifest is not valid JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise EvidenceError(f"{where}: manifest is not a JSON object")
    return document


def _media_type(document: dict[str, Any], content_type: str | None, where: str) -> str:
    declared = document.get("mediaType")
    header = (content_type or "").split(";")[0].strip().lower()
    if declared is None and document.get("schemaVersion") == 1:
        declared = _SCHEMA1[0]
    if declared is not None and not isinstance(declared, str):
        raise EvidenceError(f"{where}: mediaType is not a string")
    chosen = declared or header
    problem = unsupported_type_problem(chosen)
    if problem:
        raise EvidenceError(f"{where}: {problem}", details={"media_type": chosen})
    if declared and header in KNOWN_TYPES and header != declared:
        raise EvidenceError(f"{where}: registry says {header} but the manifest says {declared}; refusing an ambiguous manifest")
    return chosen


def _string_map(value: Any, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise EvidenceError(f"{where} must map strings to strings")
    return dict(value)


def _string_list(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise EvidenceError(f"{where} must be a list of strings")
    return value


def _optional_str(value: Any, where: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise EvidenceError(f"{where} must be a string")
    return value


def _optional_dict(value: Any, where: str) -> dict[str, Any] | None:
    if value is not None and not isinstance(value, dict):
        raise EvidenceError(f"{where} must be an object")
    return value

"""Per-stage pinning facts (``builder.unpinned``, ``builder.untrusted``) from SLSA provenance.

With the Dockerfile text (BuildKit ``mode=max``): every ``FROM`` is a stage; it is pinned when the
base, after ARG expansion with the recorded build args, carries ``@sha256:…``; the digest the build
actually used comes from the material with the same normalised name and tag (or digest). Image
materials no ``FROM`` accounts for (``COPY --from=<image>``, ``RUN --mount=from=<image>``, or a
``FROM`` this reader did not see) follow as extra stages decided from their URIs, so a reading
difference can only add stages, never hide one.
Without it: each image material is a stage; ``pkg:docker/…?digest=…`` (BuildKit writes the
qualifier only when the Dockerfile named a digest) or ``docker-image://…@sha256:…`` means pinned,
a tag-only URI means not.

Decisions:
- ``scratch`` and ``FROM <earlier stage>`` have nothing that can float: ``pinned`` is True
  (``scratch``/``parent_stage`` say why).
- Auxiliary images are not stages: BuildKit's SBOM scanner (``docker/buildkit-syft-scanner``) and
  Dockerfile frontends (``docker/dockerfile``, ``docker/dockerfile-upstream``).
- The ``# syntax=`` frontend is reported separately as :attr:`Pinning.frontend`: a floating frontend
  changes how the Dockerfile is interpreted, but it adds no files to the image, so it is a fact for
  users' policies and not part of ``builder.unpinned``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Literal, TypedDict
from urllib.parse import unquote

from packageurl import PackageURL

from gate.errors import EvidenceError, GateError
from gate.evidence._dockerfile import Dockerfile, FromInstruction
from gate.evidence._provenance import Material, Provenance
from gate.registry import Reference

_DIGEST = re.compile(r"^(?:sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})$")
FRONTEND_IMAGES = frozenset({"docker.io/docker/dockerfile", "docker.io/docker/dockerfile-upstream"})
AUXILIARY_IMAGES = FRONTEND_IMAGES | {"docker.io/docker/buildkit-syft-scanner"}


@dataclass(frozen=True)
class StageFact:
    """One build stage as the ``provenance.stages`` facts describe it (``line`` is None without Dockerfile text)."""

    index: int
    name: str | None
    line: str | None
    line_no: int | None
    base: str
    pinned: bool
    digest_used: str | None
    scratch: bool = False
    parent_stage: str | None = None


class _StageSource(TypedDict):
    """The fields of a :class:`StageFact` that come from its ``FROM`` line."""

    index: int
    name: str | None
    line: str | None
    line_no: int | None
    base: str


@dataclass(frozen=True)
class FrontendFact:
    """The Dockerfile frontend image the build ran (``# syntax=``), and whether it was pinned."""

    ref: str
    pinned: bool
    digest_used: str | None


@dataclass(frozen=True)
class Pinning:
    """Stages and frontend of one build, and whether they were read from the Dockerfile or the materials."""

    stages: tuple[StageFact, ...]
    frontend: FrontendFact | None
    source: Literal["dockerfile", "materials"]
    problem: str | None = None


@dataclass(frozen=True)
class _ImageMaterial:
    name: str  # registry/repository, normalised
    display: str  # how a person would write the reference
    tag: str | None
    written_digest: str | None  # the digest the Dockerfile named, per the URI
    resolved: str | None  # the digest the build pulled

    def matches(self, ref: Reference) -> bool:
        """A FROM written with a digest accounts only for a material that carries that same written
        digest: a decoy pinned stage must never absorb a material pulled by tag."""
        if ref.digest is not None:
            return self.written_digest == ref.digest
        return self.tag == (ref.tag or "latest")


def pinning(provenance: Provenance) -> Pinning:
    """Decide per stage whether its base was pinned, with the Dockerfile text when recorded.

    A recorded Dockerfile that cannot be read (BuildKit's parser would fail on it too) falls back
    to the materials, with :attr:`Pinning.problem` saying so.
    """
    images = [image for image in map(_image_material, provenance.materials) if image is not None]
    if provenance.dockerfile is None:
        return _from_materials(images)
    try:
        dockerfile = Dockerfile.parse(provenance.dockerfile, provenance.build_args)
    except EvidenceError as exc:
        # BuildKit would not have built from this text either; judge what the build pulled instead.
        return replace(_from_materials(images), problem=f"the recorded Dockerfile cannot be read ({exc.message}); stages are judged from the materials")
    matched: set[_ImageMaterial] = set()
    stages = [_stage_from_dockerfile(instruction, dockerfile, images, matched) for instruction in dockerfile.stages]
    unmatched = [image for image in images if image not in matched and image.name not in AUXILIARY_IMAGES]
    stages += [_material_stage(len(stages) + offset, image) for offset, image in enumerate(unmatched)]
    frontend = None
    if dockerfile.syntax:
        ref = _parse(dockerfile.syntax)
        used = _candidates(images, ref) if ref else []
        frontend = FrontendFact(dockerfile.syntax, bool(ref and ref.digest), used[0].resolved if used else None)
    return Pinning(tuple(stages), frontend, "dockerfile")


def _stage_from_dockerfile(instruction: FromInstruction, dockerfile: Dockerfile, images: list[_ImageMaterial], matched: set[_ImageMaterial]) -> StageFact:
    """One ``FROM``; the material it resolved to is added to ``matched``."""
    common: _StageSource = {"index": instruction.index, "name": instruction.name, "line": instruction.text, "line_no": instruction.line_no, "base": instruction.base}
    # BuildKit's dispatchStates.addState: only a stage named before this one is a parent, matched
    # exactly against the lowercased names (FROM node ... FROM node:20@sha256:… AS node reads an image).
    earlier = {stage.name for stage in dockerfile.stages[: instruction.index] if stage.name}
    if instruction.base in earlier:
        return StageFact(**common, pinned=True, digest_used=None, parent_stage=instruction.base)
    if instruction.base.lower() == "scratch":
        return StageFact(**common, pinned=True, digest_used=None, scratch=True)
    ref = _parse(instruction.base)
    candidates = _candidates(images, ref) if ref else []
    matched.update(candidates)  # every platform's pull of this base
    used = candidates[0] if candidates else None
    return StageFact(**common, pinned=bool(ref and ref.digest), digest_used=used.resolved if used else None)


def _from_materials(images: list[_ImageMaterial]) -> Pinning:
    frontend = next((FrontendFact(i.display, i.written_digest is not None, i.resolved) for i in images if i.name in FRONTEND_IMAGES), None)
    stages = [image for image in images if image.name not in AUXILIARY_IMAGES]
    return Pinning(tuple(_material_stage(index, image) for index, image in enumerate(stages)), frontend, "materials")


def _material_stage(index: int, image: _ImageMaterial) -> StageFact:
    """A stage known only from its material URI: pinned when the URI carries the written digest."""
    return StageFact(index, None, None, None, image.display, image.written_digest is not None, image.resolved)


def _candidates(images: list[_ImageMaterial], ref: Reference) -> list[_ImageMaterial]:
    """The materials that are ``ref`` (one per platform the build pulled it for)."""
    name = f"{ref.registry}/{ref.repository}"
    return [image for image in images if image.name == name and image.matches(ref)]


def _parse(text: str) -> Reference | None:
    try:
        return Reference.parse(text)
    except GateError:
        return None  # an unresolvable base (e.g. an unset ARG) cannot be pinned nor matched


def _image_material(material: Material) -> _ImageMaterial | None:
    """An image material from ``pkg:docker/…`` or ``docker-image://…`` URIs; None for anything else."""
    if material.uri.startswith("pkg:docker/"):
        return _from_purl(material)
    if material.uri.startswith("docker-image://"):
        text = material.uri[len("docker-image://") :]
        ref = _parse(text)
        if ref is None:  # still an image the build pulled: an unpinned stage, never silently dropped
            return _ImageMaterial(text, text, None, None, material.digest)
        return _ImageMaterial(f"{ref.registry}/{ref.repository}", _display(ref.registry, ref.repository, ref.tag), ref.tag, ref.digest, material.digest or ref.digest)
    return None


def _from_purl(material: Material) -> _ImageMaterial:
    """A ``pkg:docker/…`` material; one that does not parse still counts as an (unpinned) image."""
    try:
        purl = PackageURL.from_string(material.uri)
    except ValueError:
        return _ImageMaterial(material.uri, material.uri, None, None, material.digest)
    path = unquote(f"{purl.namespace}/{purl.name}" if purl.namespace else purl.name)
    qualifiers = purl.qualifiers if isinstance(purl.qualifiers, dict) else {}
    written = qualifiers.get("digest") if _DIGEST.match(qualifiers.get("digest") or "") else None
    tag = purl.version or (None if written else "latest")
    ref = _parse(path)
    if ref is None:
        return _ImageMaterial(path, f"{path}:{tag}" if tag else path, tag, written, material.digest or written)
    return _ImageMaterial(f"{ref.registry}/{ref.repository}", _display(ref.registry, ref.repository, tag), tag, written, material.digest or written)


def _display(registry: str, repository: str, tag: str | None) -> str:
    name = repository.removeprefix("library/") if registry == "docker.io" else f"{registry}/{repository}"
    return f"{name}:{tag}" if tag else name

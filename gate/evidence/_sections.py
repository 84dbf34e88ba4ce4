"""The ``provenance`` and ``sbom`` sections of the policy input document (docs/input.schema.json, built by facts.py).

Which artifacts count as verified is ``gate.verify``'s answer, passed in as a predicate; these
functions only pick and shape. Provenance: builder and times come from one statement (a verified one
wins over an unverified one, then one that recorded the Dockerfile, then one with materials, then
the first found); stages from every verified statement (every statement when none is verified). SBOM: deny-list matches are taken from every SBOM found, verified or not — an
unverified SBOM can only add denials, never remove them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gate.evidence._collect import Evidence
from gate.evidence._denylist import DenyList, without_purl
from gate.evidence._discover import Artifact, Problem

Verified = Callable[[Artifact], bool]


def provenance_section(evidence: Evidence, verified: Verified) -> tuple[dict[str, Any] | None, tuple[Problem, ...]]:
    """The ``provenance`` facts: the chosen statement's builder and times, and the stages of every statement judged.

    The stages (``builder.*``) come from every verified statement, or from every statement when none
    is verified: where statements about the image disagree, each stage any of them records is judged,
    so the stricter one decides and a second, cleaner attestation never masks a first. Returns the
    section (None when no provenance was found: ``facts.py`` fills the absent form) and any problem
    met while reading a recorded Dockerfile.
    """
    if not evidence.provenance:
        return None, ()
    from gate.evidence._pinning import pinning  # the Dockerfile parser loads with the first provenance

    chosen = min(evidence.provenance, key=lambda found: (not verified(found.artifact), found.value.dockerfile is None, not found.value.materials))
    judged = [found for found in evidence.provenance if verified(found.artifact)] or list(evidence.provenance)
    stages: list[dict[str, Any]] = []
    frontends: list[dict[str, Any]] = []
    problems: list[Problem] = []
    for found in judged:
        facts = pinning(found.value)
        if facts.problem:
            problems.append(Problem(found.artifact.source, f"{found.artifact.source}: {facts.problem}"))
        for s in facts.stages:
            stage = {"index": s.index, "name": s.name, "line": s.line, "base": s.base, "pinned": s.pinned,
                     "digest_used": s.digest_used, "scratch": s.scratch, "parent_stage": s.parent_stage}
            if stage not in stages:
                stages.append(stage)
        if facts.frontend is not None:
            frontends.append({"ref": facts.frontend.ref, "pinned": facts.frontend.pinned, "digest_used": facts.frontend.digest_used})
    value = chosen.value
    section = {
        "present": True,
        "verified": verified(chosen.artifact),
        "predicate_type": value.predicate_type,
        "builder_id": value.builder_id,
        "build_type": value.build_type,
        "started_ns": value.started_ns,
        "finished_ns": value.finished_ns,
        "stages": stages,
        "frontend": min(frontends, key=lambda frontend: frontend["pinned"]) if frontends else None,  # an unpinned one first
        "materials": [{"uri": m.uri, "digest": m.digest} for m in value.materials],
    }
    return section, tuple(problems)


def sbom_section(evidence: Evidence, deny: DenyList, verified: Verified) -> dict[str, Any] | None:
    """The ``sbom`` facts: formats found, distinct components, and deny-list matches (None without SBOM)."""
    if not evidence.sboms:
        return None
    components = {component for found in evidence.sboms for component in found.value.components}
    ordered = sorted(components, key=_component_order)
    return {
        "present": True,
        "verified": any(verified(found.artifact) for found in evidence.sboms),
        "formats": sorted({found.value.format for found in evidence.sboms}),
        "components": len(components),
        "component_list": [
            {"name": c.name, "version": c.version, "purl": c.purl, "type": c.type, "licenses": list(c.licenses)}
            for c in ordered
        ],
        "denied": sbom_matches(evidence, deny),
        "without_purl": without_purl(components),
    }


def sbom_matches(evidence: Evidence, wanted: DenyList) -> list[dict[str, Any]]:
    """Components of every SBOM found (verified or not) that an entry of ``wanted`` matches."""
    components = {component for found in evidence.sboms for component in found.value.components}
    matched = wanted.check(sorted(components, key=_component_order))
    return [{"purl": d.purl, "range": d.range, "reason": d.reason} for d in matched]


def _component_order(component: Any) -> tuple[str, str, str]:
    return (component.name, component.version or "", component.purl or "")


def vulnerability_section(evidence: Evidence, verified: Verified) -> list[dict[str, Any]]:
    """Cosign vulnerability scans, without the scanner's (possibly large) raw result."""
    return [
        {
            "scanner_uri": f.value.scanner_uri,
            "scanner_version": f.value.scanner_version,
            "db_uri": f.value.db_uri,
            "db_version": f.value.db_version,
            "started_ns": f.value.started_ns,
            "finished_ns": f.value.finished_ns,
            "verified": verified(f.artifact),
        }
        for f in evidence.vulns
    ]


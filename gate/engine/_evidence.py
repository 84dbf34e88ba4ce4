"""Turns what discovery found for one platform image into verified ``signatures``, ``provenance`` and
``sbom`` facts.

A platform image counts as signed when a trusted signature is on its own digest or on the index
that lists it; an attestation counts as verified when it is signed itself by a trusted signer or
reachable from a manifest whose signature verified (docs/report.md). Unverified evidence is reported but
never satisfies a rule that asks for evidence.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Mapping

from gate.evidence import (
    Artifact,
    AttachedEvidence,
    DenyList,
    Problem,
    collect,
    provenance_section,
    sbom_matches,
    sbom_section,
    vulnerability_section,
)
from gate.verify import TrustPolicy, attestation_trust, signatures_fact, trusted_coverage, verify_attached_signatures


@dataclass(frozen=True)
class Subject:
    """The digests a platform image is judged under: its own and (for an index) the index's."""

    digest: str
    index_digest: str | None
    index_manifest: Mapping[str, Any] | None


@dataclass(frozen=True)
class EvidenceFacts:
    """The verified evidence sections of the input document, plus what could not be read."""

    signatures: dict[str, Any]
    provenance: dict[str, Any] | None
    sbom: dict[str, Any] | None
    build_args: Mapping[str, str]
    vulnerability_scans: tuple[dict[str, Any], ...]
    problems: tuple[Problem, ...]
    contains: tuple[dict[str, Any], ...] = ()  # SBOM components a search list matched (``gate audit --contains``)


def evidence_facts(
    attached: AttachedEvidence, subject: Subject, trust: TrustPolicy, deny: DenyList, now: dt.datetime, search: DenyList | None = None
) -> EvidenceFacts:
    """Verify signatures and attestations about ``subject`` and shape them as facts; ``search``
    names components to look for in the SBOMs without judging them."""
    checks = verify_attached_signatures(attached, subject.digest, trust, now, index_digest=subject.index_digest)
    manifests = {subject.index_digest: subject.index_manifest} if subject.index_digest else {}
    covered = trusted_coverage(checks, manifests)

    answers: dict[int, bool] = {}

    def verified(artifact: Artifact) -> bool:
        if id(artifact) not in answers:
            answers[id(artifact)] = attestation_trust(artifact, artifact.subject, trust, now, covered).verified
        return answers[id(artifact)]

    evidence = collect(attached, subject.digest, subject.index_digest)
    provenance, provenance_problems = provenance_section(evidence, verified)
    # Build arguments can only add findings, so they are read from any provenance, verified or not.
    build_args = {key: value for found in evidence.provenance for key, value in found.value.build_args.items()}
    return EvidenceFacts(
        signatures=signatures_fact(checks),
        provenance=provenance,
        sbom=sbom_section(evidence, deny, verified),
        build_args=build_args,
        vulnerability_scans=tuple(vulnerability_section(evidence, verified)),
        problems=(*evidence.problems, *provenance_problems),
        contains=tuple(sbom_matches(evidence, search)) if search is not None else (),
    )

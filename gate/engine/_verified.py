"""Turns what discovery found for one platform image into verified evidence (once per digest), and
that into the ``signatures``, ``provenance``, ``sbom``, ``attestations`` and ``image_policies``
facts for one image scope (per verdict).

A platform image counts as signed when a trusted signature is on its own digest or on the index
that lists it; an attestation counts as verified when it is signed itself by a trusted signer or
reachable from a manifest whose signature verified (docs/report.md). "Trusted" means: by an
authority that counts for this image (``gate.verify.ImageScope``), so verification runs once for
every configured authority and is narrowed per image. Unverified evidence is reported but never
satisfies a rule that asks for evidence.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any, Mapping

from gate.evidence import (
    Artifact,
    AttachedEvidence,
    DenyList,
    Evidence,
    Problem,
    collect,
    provenance_section,
    sbom_matches,
    sbom_section,
    vulnerability_section,
)
from gate.registry import Manifest
from gate.verify import (
    AttestationTrust,
    ImageScope,
    SignatureCheck,
    TrustPolicy,
    attestation_trust,
    entry_fact,
    signatures_fact,
    trusted_coverage,
    verify_attached_signatures,
)

MAX_PREDICATE_BYTES = 1024 * 1024  # larger predicates reach the policies as null (see docs/policies.md)


@dataclass(frozen=True)
class PlatformImage:
    """A platform image whose evidence is verified: its digest and (for an index) the index's,
    whose signatures cover it; ``index`` is the index as served (its bytes prove it away from the registry)."""

    digest: str
    index_digest: str | None
    index_manifest: Mapping[str, Any] | None
    index: Manifest | None = field(default=None, repr=False)


@dataclass(frozen=True)
class VerifiedEvidence:
    """What verification learnt about one platform image against every configured authority;
    independent of the image's name and namespace, so it is cached by digest."""

    checks: tuple[SignatureCheck, ...]
    evidence: Evidence
    trusts: tuple[tuple[Artifact, AttestationTrust], ...]
    build_args: Mapping[str, str]

    def trust_of(self, artifact: Artifact) -> AttestationTrust:
        """The verification outcome of one attestation artifact of this evidence."""
        return next((found for known, found in self.trusts if known is artifact), AttestationTrust(verified=False))


@dataclass(frozen=True)
class EvidenceFacts:
    """The verified evidence sections of the input document for one image scope, plus what could not be read."""

    signatures: dict[str, Any]
    provenance: dict[str, Any] | None
    sbom: dict[str, Any] | None
    vulnerability_scans: tuple[dict[str, Any], ...]
    attestations: tuple[dict[str, Any], ...]
    image_policies: tuple[dict[str, Any], ...]
    problems: tuple[Problem, ...]
    contains: tuple[dict[str, Any], ...] = ()  # SBOM components a search list matched (``gate audit --contains``)


def verify_evidence(attached: AttachedEvidence, subject: PlatformImage, trust: TrustPolicy, now: dt.datetime) -> VerifiedEvidence:
    """Verify signatures and attestations about ``subject`` against every configured authority."""
    checks = verify_attached_signatures(attached, subject.digest, trust, now, index_digest=subject.index_digest)
    manifests = {subject.index_digest: subject.index_manifest} if subject.index_digest else {}
    covered = trusted_coverage(checks, manifests)
    evidence = collect(attached, subject.digest, subject.index_digest)
    artifacts = {id(found.artifact): found.artifact for group in (evidence.statements, evidence.sboms) for found in group}
    trusts = tuple((artifact, attestation_trust(artifact, artifact.subject, trust, now, covered)) for artifact in artifacts.values())
    # Build arguments can only add findings, so they are read from any provenance, verified or not.
    build_args = {key: value for found in evidence.provenance for key, value in found.value.build_args.items()}
    return VerifiedEvidence(tuple(checks), evidence, trusts, build_args)


def evidence_facts(
    verified: VerifiedEvidence,
    scope: ImageScope,
    trust: TrustPolicy,
    deny: DenyList,
    large: frozenset[str] = frozenset(),
    search: DenyList | None = None,
) -> EvidenceFacts:
    """The evidence sections as one image sees them: only its scope's authorities make evidence verified.

    ``search`` names components to look for in the SBOMs without judging them (``gate audit --contains``).

    ``large`` names the large facts the policies read (``PolicyEvaluator.reads_large``); the
    others stay empty, since the embedded engine's time grows faster than its input.
    """

    def counts(artifact: Artifact) -> bool:
        return scope.vouches(verified.trust_of(artifact).authorities)

    evidence = verified.evidence
    provenance, provenance_problems = provenance_section(evidence, counts)
    signers = [check.signer for check in verified.checks if check.ok and check.signer is not None]
    statements = [(found.value.predicate_type, verified.trust_of(found.artifact).authorities) for found in evidence.statements]
    sbom = sbom_section(evidence, deny, counts)
    if sbom is not None and "sbom.component_list" not in large:
        sbom["component_list"] = []
    attested = [found for found in evidence.statements if counts(found.artifact)] if "attestations" in large else []
    return EvidenceFacts(
        signatures=signatures_fact(verified.checks, scope),
        provenance=provenance,
        sbom=sbom,
        vulnerability_scans=tuple(vulnerability_section(evidence, counts)),
        attestations=tuple(_attestation(found.value, verified.trust_of(found.artifact), scope) for found in attested),
        image_policies=tuple(entry_fact(entry, signers, statements, trust) for entry in scope.entries),
        problems=(*evidence.problems, *provenance_problems),
        contains=tuple(sbom_matches(evidence, search)) if search is not None else (),
    )


def _attestation(statement: Any, found: AttestationTrust, scope: ImageScope) -> dict[str, Any]:
    """One verified attestation as the policies see it: type, who vouches, how, and its predicate."""
    predicate: dict[str, Any] | None = dict(statement.predicate)
    size = len(json.dumps(predicate, separators=(",", ":"), default=str))
    omitted = size > MAX_PREDICATE_BYTES
    return {
        "predicate_type": statement.predicate_type,
        "via": found.via,
        "signer": found.signer.fact(scope.in_scope(found.signer.authorities)) if found.signer and scope.vouches(found.signer.authorities) else None,
        "authorities": scope.in_scope(found.authorities),
        "predicate": None if omitted else predicate,
        "predicate_omitted": f"larger than {MAX_PREDICATE_BYTES} bytes" if omitted else None,
    }

"""What the engine knows about one platform image, and its form inside a verification summary.

The summary form is the ``gateFacts.platforms[]`` entry of gate's SLSA verification summary
(docs/scale.md): the input-document sections the policies read, keyed by the platform image's
digest. A consumer rebuilds :class:`Gathered` from it under its own reference, so the identity
(registry, repository, the reference as written) is never taken from the summary. The entry
also carries the attached evidence as the registry served it (``evidence``, see
``gate.engine._portable``), which a consumer with ``images`` verifies itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from gate.engine._portable import PortableEvidence
from gate.errors import EvidenceError
from gate.policy_input import Facts, ImageIdentity

_OPTIONAL_SECTIONS = ("signatures", "provenance", "sbom")
_LIST_SECTIONS = ("findings", "errors", "vulnerability_scans")
_PLATFORM_NAME = re.compile(r"unknown|[A-Za-z0-9._-]{1,64}/[A-Za-z0-9._-]{1,64}(/[A-Za-z0-9._-]{1,64})?", re.ASCII)


@dataclass(frozen=True)
class Gathered:
    """The facts of one platform image and what could not be read about it (cached by digest).

    ``inputs`` are the digests of the attached manifests read as evidence (a summary's
    ``inputAttestations``); ``contains`` the SBOM components a search asked about (reported under
    ``evidence.contains``, never part of a verdict, never in a summary); ``summary`` is the
    report's ``evidence.summary`` when the facts came from a verification summary rather than
    from the registry; ``evidence`` the attached evidence as served, which a summary carries so
    that a gate with ``images`` can verify it against its own authorities; ``declared_platform``
    the ``os/arch[/variant]`` the image config declares (the input's ``config`` section omits it),
    which names a single-manifest image's platform in the report.
    """

    facts: Facts
    problems: tuple[str, ...]
    inputs: tuple[str, ...] = ()
    contains: tuple[dict[str, Any], ...] = ()
    summary: dict[str, Any] | None = None
    evidence: PortableEvidence | None = None
    declared_platform: str = "unknown"

    def summary_json(self) -> dict[str, Any]:
        """This platform image's entry in a verification summary."""
        facts = self.facts
        return {
            "digest": facts.image.digest,
            "platform": facts.image.platform,
            "declared_platform": self.declared_platform,
            "config": facts.config,
            "user": facts.user,
            "signatures": facts.signatures,
            "provenance": facts.provenance,
            "sbom": facts.sbom,
            "findings": list(facts.findings),
            "errors": list(facts.errors),
            "vulnerability_scans": list(facts.vulnerability_scans),
            "problems": list(self.problems),
            "evidence": self.evidence.to_json() if self.evidence is not None and self.evidence.carriable else None,
        }

    @classmethod
    def from_summary_json(cls, entry: dict[str, Any], identity: ImageIdentity, summary: dict[str, Any], what: str) -> Gathered:
        """Rebuild a platform image's facts from its summary entry, under the consumer's ``identity``.

        Raises:
            EvidenceError: a section is missing or has the wrong type.
        """
        for name in ("config", "user"):
            if not isinstance(entry.get(name), dict):
                raise EvidenceError(f"{what}.{name} must be a JSON object")
        for name in _OPTIONAL_SECTIONS:
            if entry.get(name) is not None and not isinstance(entry[name], dict):
                raise EvidenceError(f"{what}.{name} must be a JSON object or null")
        for name in _LIST_SECTIONS:
            if not isinstance(entry.get(name, []), list) or not all(isinstance(item, dict) for item in entry.get(name, [])):
                raise EvidenceError(f"{what}.{name} must be an array of JSON objects")
        declared = entry.get("declared_platform", "unknown")  # absent from summaries of older gates
        if not isinstance(declared, str) or not _PLATFORM_NAME.fullmatch(declared):
            raise EvidenceError(f"{what}.declared_platform must be an os/arch[/variant] name")
        problems = entry.get("problems", [])
        if not isinstance(problems, list) or not all(isinstance(problem, str) for problem in problems):
            raise EvidenceError(f"{what}.problems must be an array of strings")
        facts = Facts(
            image=identity,
            config=entry["config"],
            user=entry["user"],
            signatures=entry.get("signatures"),
            provenance=entry.get("provenance"),
            sbom=entry.get("sbom"),
            findings=tuple(entry.get("findings", [])),
            errors=tuple(entry.get("errors", [])),
            vulnerability_scans=tuple(entry.get("vulnerability_scans", [])),
        )
        return cls(facts, tuple(problems), summary=summary, declared_platform=declared)

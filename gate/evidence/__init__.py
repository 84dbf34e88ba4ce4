"""Evidence attached to an image: find it in every store and parse it into frozen models.

Discovery (:func:`discover`) looks in cosign's ``sha256-<hex>.sig/.att/.sbom`` tags, OCI 1.1
referrers and BuildKit attestation manifests inside the index, in one parallel pass. Parsers turn
the bytes into models (in-toto statements, SLSA provenance, SBOMs, vulnerability scans) whose
``from_bytes()`` raises ``EvidenceError``; :func:`pinning` and :class:`DenyList` compute the
``builder.unpinned`` and ``sbom.denied-component`` facts. Signatures are parsed in
``_signatures`` and verified by ``gate.verify``.
"""

from gate.evidence._collect import Evidence, Found, collect
from gate.evidence._denylist import Denied, DenyList
from gate.evidence._discover import Artifact, AttachedEvidence, Problem, discover
from gate.evidence._dockerfile import Dockerfile, FromInstruction
from gate.evidence._facts import provenance_section, sbom_matches, sbom_section, vulnerability_section
from gate.evidence._intoto import Statement, Subject
from gate.evidence._pinning import FrontendFact, Pinning, StageFact, pinning
from gate.evidence._provenance import Material, Provenance
from gate.evidence._sbom import Component, Sbom
from gate.evidence._vuln import VulnScan

__all__ = [
    "Artifact",
    "AttachedEvidence",
    "Component",
    "Denied",
    "DenyList",
    "Dockerfile",
    "Evidence",
    "Found",
    "FromInstruction",
    "FrontendFact",
    "Material",
    "Pinning",
    "Problem",
    "Provenance",
    "Sbom",
    "StageFact",
    "Statement",
    "Subject",
    "VulnScan",
    "collect",
    "discover",
    "pinning",
    "provenance_section",
    "sbom_matches",
    "sbom_section",
    "vulnerability_section",
]

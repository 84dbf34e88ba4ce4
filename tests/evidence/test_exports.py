"""The public surface of gate.evidence is exactly what other packages are meant to use."""

from __future__ import annotations

import gate.evidence

PUBLIC = {
    # discovery and per-platform collection
    "discover", "AttachedEvidence", "Artifact", "Problem", "collect", "Evidence", "Found",
    # parsers (each model's from_bytes raises EvidenceError)
    "Statement", "Subject", "Provenance", "Material", "Sbom", "Component", "VulnScan", "Dockerfile", "FromInstruction",
    # facts
    "pinning", "Pinning", "StageFact", "FrontendFact", "DenyList", "Denied",
    "provenance_section", "sbom_matches", "sbom_section", "vulnerability_section",
}


def test_exported_members() -> None:
    assert set(gate.evidence.__all__) == PUBLIC
    assert len(gate.evidence.__all__) == len(PUBLIC)
    for name in gate.evidence.__all__:
        assert getattr(gate.evidence, name) is not None

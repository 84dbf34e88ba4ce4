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
    # signature layers and their vocabulary, for gate.verify (cosign .sig/.att, Sigstore bundles, Rekor, DSSE)
    "ANNOTATION_BUNDLE", "BUNDLE_MEDIA_TYPES", "DSSE_ENVELOPE", "LAYOUT_ATTESTATION", "CosignAttestation", "CosignMaterial",
    "CosignSignature", "DsseEnvelope", "MalformedSignature", "RekorSET", "SignatureArtifact", "SigstoreBundle",
    "parse_signature_layer", "parse_signature_layers", "COSIGN_SIGN_PREDICATE", "INTOTO_PAYLOAD_TYPE", "STATEMENT_TYPES",
    # verification summaries (gate.attest writes them, gate.verify checks them)
    "BUNDLE_V03", "CONTENT_ANNOTATION", "CREATED_ANNOTATION", "PREDICATE_ANNOTATION", "VERIFICATION_SUMMARY", "Summary",
    "created_at", "rfc3339", "rfc3339_micros", "summary_predicate",
}


def test_no_other_package_reaches_into_evidence_private_modules() -> None:
    """gate.verify, gate.engine and gate.attest import evidence models from their one public home."""
    import pathlib
    import re

    root = pathlib.Path(gate.evidence.__file__).resolve().parents[1]
    reaching = [str(path.relative_to(root)) for path in root.rglob("*.py")
                if path.parent.name != "evidence" and re.search(r"^from gate\.evidence\._", path.read_text(), re.M)]
    assert reaching == []


def test_exported_members() -> None:
    assert set(gate.evidence.__all__) == PUBLIC
    assert len(gate.evidence.__all__) == len(PUBLIC)
    for name in gate.evidence.__all__:
        assert getattr(gate.evidence, name) is not None

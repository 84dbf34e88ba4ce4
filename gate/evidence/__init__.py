"""Evidence attached to an image: find it in every store and parse it into frozen models.

Discovery (:func:`discover`) looks in cosign's ``sha256-<hex>.sig/.att/.sbom`` tags, OCI 1.1
referrers and BuildKit attestation manifests inside the index, in one parallel pass. Parsers turn
the bytes into models (in-toto statements, SLSA provenance, SBOMs, vulnerability scans) whose
``from_bytes()`` raises ``EvidenceError``; :func:`pinning` and :class:`DenyList` compute the
``builder.unpinned`` and ``sbom.denied-component`` facts. The signature-layer models (cosign
``.sig``/``.att`` layers, Sigstore bundles, DSSE envelopes, Rekor entries, verification summaries)
are exported here too: ``gate.verify`` checks them and never reaches into the private modules.
"""

from typing import TYPE_CHECKING

from gate._lazy import lazy_exports

if TYPE_CHECKING:
    from gate.evidence._collect import Evidence, Found, collect
    from gate.evidence._denylist import Denied, DenyList
    from gate.evidence._discover import Artifact, AttachedEvidence, Problem, discover
    from gate.evidence._dockerfile import Dockerfile, FromInstruction
    from gate.evidence._sections import provenance_section, sbom_matches, sbom_section, vulnerability_section
    from gate.evidence._intoto import COSIGN_SIGN_PREDICATE, INTOTO_PAYLOAD_TYPE, STATEMENT_TYPES, Statement, Subject
    from gate.evidence._pinning import FrontendFact, Pinning, StageFact, pinning
    from gate.evidence._provenance import Material, Provenance
    from gate.evidence._sbom import Component, Sbom
    from gate.evidence._signatures import (
        ANNOTATION_BUNDLE,
        BUNDLE_MEDIA_TYPES,
        DSSE_ENVELOPE,
        LAYOUT_ATTESTATION,
        CosignAttestation,
        CosignMaterial,
        CosignSignature,
        DsseEnvelope,
        MalformedSignature,
        RekorSET,
        SignatureArtifact,
        SigstoreBundle,
        parse_signature_layer,
        parse_signature_layers,
    )
    from gate.evidence._summary import (
        BUNDLE_V03,
        CONTENT_ANNOTATION,
        CREATED_ANNOTATION,
        PREDICATE_ANNOTATION,
        VERIFICATION_SUMMARY,
        Summary,
        created_at,
        rfc3339,
        rfc3339_micros,
        summary_predicate,
    )
    from gate.evidence._vuln import VulnScan

__getattr__ = lazy_exports(
    __name__,
    {
        "._collect": ("Evidence", "Found", "collect"),
        "._denylist": ("Denied", "DenyList"),
        "._discover": ("Artifact", "AttachedEvidence", "Problem", "discover"),
        "._dockerfile": ("Dockerfile", "FromInstruction"),
        "._sections": ("provenance_section", "sbom_matches", "sbom_section", "vulnerability_section"),
        "._intoto": ("COSIGN_SIGN_PREDICATE", "INTOTO_PAYLOAD_TYPE", "STATEMENT_TYPES", "Statement", "Subject"),
        "._pinning": ("FrontendFact", "Pinning", "StageFact", "pinning"),
        "._provenance": ("Material", "Provenance"),
        "._sbom": ("Component", "Sbom"),
        "._signatures": (
            "ANNOTATION_BUNDLE",
            "BUNDLE_MEDIA_TYPES",
            "DSSE_ENVELOPE",
            "LAYOUT_ATTESTATION",
            "CosignAttestation",
            "CosignMaterial",
            "CosignSignature",
            "DsseEnvelope",
            "MalformedSignature",
            "RekorSET",
            "SignatureArtifact",
            "SigstoreBundle",
            "parse_signature_layer",
            "parse_signature_layers",
        ),
        "._summary": (
            "BUNDLE_V03",
            "CONTENT_ANNOTATION",
            "CREATED_ANNOTATION",
            "PREDICATE_ANNOTATION",
            "VERIFICATION_SUMMARY",
            "Summary",
            "created_at",
            "rfc3339",
            "rfc3339_micros",
            "summary_predicate",
        ),
        "._vuln": ("VulnScan",),
    },
)

__all__ = [
    "ANNOTATION_BUNDLE",
    "Artifact",
    "AttachedEvidence",
    "BUNDLE_MEDIA_TYPES",
    "BUNDLE_V03",
    "CONTENT_ANNOTATION",
    "COSIGN_SIGN_PREDICATE",
    "CREATED_ANNOTATION",
    "Component",
    "CosignAttestation",
    "CosignMaterial",
    "CosignSignature",
    "DSSE_ENVELOPE",
    "Denied",
    "DenyList",
    "Dockerfile",
    "DsseEnvelope",
    "Evidence",
    "Found",
    "FromInstruction",
    "FrontendFact",
    "INTOTO_PAYLOAD_TYPE",
    "LAYOUT_ATTESTATION",
    "MalformedSignature",
    "Material",
    "PREDICATE_ANNOTATION",
    "Pinning",
    "Problem",
    "Provenance",
    "RekorSET",
    "STATEMENT_TYPES",
    "Sbom",
    "SignatureArtifact",
    "SigstoreBundle",
    "StageFact",
    "Statement",
    "Subject",
    "Summary",
    "VERIFICATION_SUMMARY",
    "VulnScan",
    "collect",
    "created_at",
    "discover",
    "parse_signature_layer",
    "parse_signature_layers",
    "pinning",
    "provenance_section",
    "rfc3339",
    "rfc3339_micros",
    "sbom_matches",
    "sbom_section",
    "summary_predicate",
    "vulnerability_section",
]

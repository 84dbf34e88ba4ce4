"""Signature and attestation verification against configured trust. Bytes in, verified signers out.

No I/O happens here (``TrustPolicy.from_config`` reads the configured key and root files once at
start-up); time is the caller's ``now``. Supported layouts: cosign ``.sig`` (simple signing +
annotations, Rekor SET), cosign ``.att`` (DSSE + annotations) and Sigstore bundles v0.1–v0.3,
keyless (Fulcio + CT + Rekor of the trusted root) and keyed (ECDSA, RSA, Ed25519).

    trust = TrustPolicy.from_config(config.trust)
    checks = verify_image_signatures(image_digest, artifacts, trust, now)
    checks = verify_attached_signatures(attached, platform_digest, trust, now, index_digest=index_digest)
    covered = trusted_coverage(checks, {index_digest: index_json, platform_digest: manifest_json})
    scope = image_scope(config.images, trust, (registry, repository, tag, digest), namespace)
    signatures_fact(checks, scope)     # policy input ``signatures``: signers that count for this image
    statement = verify_attestation(att_or_bundle, subject_digest, trust, now)
    attestation_trust(artifact, subject_digest, trust, now, covered)   # signed itself, or covered
    verify_summary(bundle, source, image_digest, policy_digest, listed_verifiers(config.trust), now)
"""

from typing import TYPE_CHECKING

from gate._lazy import lazy_exports

if TYPE_CHECKING:
    from gate.verify._bundle import BundleResult, verify_bundle
    from gate.verify._coverage import (
        AttestationTrust,
        attestation_trust,
        covered_digests,
        trusted_coverage,
        verify_attached_signatures,
    )
    from gate.verify._image_signatures import (
        signatures_fact,
        verify_attestation,
        verify_image_signatures,
    )
    from gate.verify._keys import key_id
    from gate.verify._cosign_layers import ReferenceMatch
    from gate.verify._model import SignatureCheck, VerifiedSigner, VerifiedStatement
    from gate.verify._scope import ImageScope, entry_fact, image_scope
    from gate.verify._summary import ListedVerifier, VerifiedSummary, listed_verifiers, verify_summary
    from gate.verify._trust import TrustedKey, TrustPolicy

__getattr__ = lazy_exports(
    __name__,
    {
        "._bundle": ("BundleResult", "verify_bundle"),
        "._coverage": ("AttestationTrust", "attestation_trust", "covered_digests", "trusted_coverage", "verify_attached_signatures"),
        "._image_signatures": ("signatures_fact", "verify_attestation", "verify_image_signatures"),
        "._keys": ("key_id",),
        "._cosign_layers": ("ReferenceMatch",),
        "._model": ("SignatureCheck", "VerifiedSigner", "VerifiedStatement"),
        "._scope": ("ImageScope", "entry_fact", "image_scope"),
        "._summary": ("ListedVerifier", "VerifiedSummary", "listed_verifiers", "verify_summary"),
        "._trust": ("TrustedKey", "TrustPolicy"),
    },
)

__all__ = [
    "AttestationTrust",
    "ListedVerifier",
    "BundleResult",
    "ImageScope",
    "ReferenceMatch",
    "SignatureCheck",
    "TrustPolicy",
    "TrustedKey",
    "VerifiedSigner",
    "VerifiedStatement",
    "VerifiedSummary",
    "attestation_trust",
    "covered_digests",
    "entry_fact",
    "image_scope",
    "key_id",
    "listed_verifiers",
    "signatures_fact",
    "trusted_coverage",
    "verify_attached_signatures",
    "verify_attestation",
    "verify_bundle",
    "verify_image_signatures",
    "verify_summary",
]

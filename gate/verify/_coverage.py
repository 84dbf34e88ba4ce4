"""What a trusted signature vouches for (docs/report.md), and whether one attestation counts as verified.

An attestation is verified when it is signed itself by a trusted signer (a DSSE ``.att`` layer or
a Sigstore bundle), or when it is reachable by digest from a manifest whose digest carries a
trusted signature: a signature on an index covers its platform manifests and BuildKit attestation
manifests; a signature on one platform manifest covers only that manifest.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from gate.errors import EvidenceError, LimitExceeded, VerificationError
from gate.evidence import DSSE_ENVELOPE, Artifact, AttachedEvidence, CosignAttestation, SigstoreBundle, parse_signature_layer, parse_signature_layers
from gate.verify._image_signatures import verify_attestation, verify_image_signatures
from gate.verify._model import SignatureCheck, VerifiedSigner
from gate.verify._trust import TrustPolicy

_INDEX_TYPES = frozenset({"application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json"})


def covered_digests(signed_digest: str, manifest: Mapping[str, Any] | None) -> frozenset[str]:
    """Digests a trusted signature on ``signed_digest`` (whose manifest JSON is ``manifest``) covers.

    Blobs reachable from a covered manifest are covered through that manifest's digest.
    """
    listed = manifest.get("manifests") if manifest is not None else None
    if manifest is None or (manifest.get("mediaType") not in _INDEX_TYPES and listed is None):
        return frozenset({signed_digest})
    children = {entry["digest"] for entry in listed if isinstance(entry, dict) and isinstance(entry.get("digest"), str)} if isinstance(listed, list) else set()
    return frozenset({signed_digest, *children})


def verify_attached_signatures(
    attached: AttachedEvidence, image_digest: str, trust: TrustPolicy, now: dt.datetime, *, index_digest: str | None = None
) -> list[SignatureCheck]:
    """Check the signatures discovered on a (platform) image and, when it came from an index, on
    that index (which covers it); each against the digest it hangs from."""
    checks = []
    for digest in (image_digest, index_digest) if index_digest else (image_digest,):
        # DSSE envelopes (.att layers) are attestations, never image signatures: not parsed here.
        layers = [artifact.stored_layer() for artifact in attached.about(digest) if artifact.media_type != DSSE_ENVELOPE]
        checks += verify_image_signatures(digest, parse_signature_layers(layers), trust, now)
    return checks


def trusted_coverage(checks: Iterable[SignatureCheck], manifests: Mapping[str, Mapping[str, Any] | None]) -> dict[str, frozenset[str]]:
    """Every digest some verified check covers, with the ids of the authorities whose signatures
    cover it; ``manifests`` maps a signed digest to its manifest JSON."""
    covered: dict[str, frozenset[str]] = {}
    for check in checks:
        if check.ok and check.signer is not None:
            for digest in covered_digests(check.digest, manifests.get(check.digest)):
                covered[digest] = covered.get(digest, frozenset()) | frozenset(check.signer.authorities)
    return covered


@dataclass(frozen=True)
class AttestationTrust:
    """Whether an attestation counts as verified, how, by whom when signed itself, and which
    configured authorities vouch for it (its own signer's, and those of signatures covering it)."""

    verified: bool
    via: Literal["signature", "coverage"] | None = None
    signer: VerifiedSigner | None = None
    reason: str = ""
    authorities: frozenset[str] = frozenset()


def attestation_trust(
    artifact: Artifact, subject_digest: str, trust: TrustPolicy, now: dt.datetime, covered: Mapping[str, frozenset[str]] | Iterable[str]
) -> AttestationTrust:
    """Decide for one discovered attestation; ``covered`` is :func:`trusted_coverage` (digest to
    authority ids), or just the covered digests.

    Signed envelopes are checked first (their own signer is the stronger evidence); an envelope
    that fails is still covered when its manifest is.
    """
    coverage = covered if isinstance(covered, Mapping) else dict.fromkeys(covered, frozenset())
    reason = "no trusted signature covers it and it is not signed itself"
    signer = None
    try:
        parsed = parse_signature_layer(artifact.stored_layer())
        if isinstance(parsed, (CosignAttestation, SigstoreBundle)):
            signer = verify_attestation(parsed, subject_digest, trust, now).signer
    except (VerificationError, EvidenceError, LimitExceeded) as exc:
        reason = exc.message
    holders = [digest for digest in (artifact.manifest, artifact.reachable_from) if digest is not None and digest in coverage]
    vouchers = frozenset(signer.authorities if signer else ()).union(*(coverage[digest] for digest in holders))
    if signer is not None:
        return AttestationTrust(verified=True, via="signature", signer=signer, authorities=vouchers)
    if holders:
        return AttestationTrust(verified=True, via="coverage", authorities=vouchers)
    return AttestationTrust(verified=False, reason=reason)

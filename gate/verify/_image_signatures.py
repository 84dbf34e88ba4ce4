"""Every stored signature of an image in, one :class:`SignatureCheck` each out; attestations; facts.

Nothing here raises for a bad signature: each becomes a failed check with its reason, so a garbage
``.sig`` layer or a tampered bundle is ``signature.missing`` with a message, never a crash.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from gate.errors import EvidenceError, VerificationError
from gate.evidence import COSIGN_SIGN_PREDICATE, LAYOUT_ATTESTATION, CosignAttestation, CosignSignature, MalformedSignature, SignatureArtifact, SigstoreBundle
from gate.verify._model import INVALID, UNTRUSTED, SignatureCheck, VerifiedSigner, VerifiedStatement
from gate.verify._scope import ImageScope
from gate.verify._trust import TrustPolicy

if TYPE_CHECKING:
    from gate.verify._cosign_layers import ReferenceMatch


def verify_image_signatures(
    image_digest: str,
    artifacts: Iterable[SignatureArtifact],
    trust: TrustPolicy,
    now: dt.datetime,
    *,
    reference: ReferenceMatch | None = None,
) -> list[SignatureCheck]:
    """Check each stored signature (``.sig`` layers, cosign-v3 signature bundles) against ``image_digest``.

    ``.att`` layers and bundles that are attestations rather than signatures are skipped (see
    :func:`verify_attestation`). ``reference``, when given, also requires the signed
    ``docker-reference`` of simple-signing payloads to name the image.
    """
    checks = []
    for artifact in artifacts:
        if not _is_signature(artifact):
            continue
        checks.append(_check(artifact, image_digest, trust, now, reference))
    return checks


def _check(artifact: SignatureArtifact, image_digest: str, trust: TrustPolicy, now: dt.datetime, reference: ReferenceMatch | None) -> SignatureCheck:
    if isinstance(artifact, MalformedSignature):
        return SignatureCheck(source=artifact.source, layout=artifact.layout, status=INVALID, digest=image_digest, reason=f"malformed: {artifact.reason}")
    from gate.verify._cosign_layers import verify_cosign_signature  # the cryptography path loads with the first signature

    try:
        if isinstance(artifact, CosignSignature):
            signer = verify_cosign_signature(artifact, image_digest, trust, now, reference)
        else:
            signer = _image_bundle(artifact, image_digest, trust, now)
    except (VerificationError, EvidenceError) as exc:
        # Only an explicit "untrusted" is read from the error; anything else is a failed check, so
        # no error's details can ever say "verified".
        status = UNTRUSTED if exc.details.get("status") == UNTRUSTED else INVALID
        return SignatureCheck(
            source=artifact.source, layout=artifact.layout, status=status, digest=image_digest, found=exc.details.get("found"), reason=exc.message
        )
    return SignatureCheck(source=artifact.source, layout=artifact.layout, status="verified", digest=image_digest, signer=signer)


def _image_bundle(bundle: CosignAttestation | SigstoreBundle, image_digest: str, trust: TrustPolicy, now: dt.datetime) -> VerifiedSigner:
    """A signature stored as a statement of cosign's sign predicate (`_is_signature` lets only bundles through)."""
    statement = verify_attestation(bundle, image_digest, trust, now)
    if statement.predicate_type != COSIGN_SIGN_PREDICATE:
        raise VerificationError(f"{bundle.source}: statement predicateType is {statement.predicate_type!r}, not {COSIGN_SIGN_PREDICATE}")
    return statement.signer


def verify_attestation(
    artifact: CosignAttestation | SigstoreBundle, subject_digest: str, trust: TrustPolicy, now: dt.datetime
) -> VerifiedStatement:
    """Verify a signed in-toto attestation (``.att`` DSSE layer or DSSE Sigstore bundle) about ``subject_digest``.

    Raises:
        VerificationError: it does not verify, its signer is untrusted (``details["status"]``), or
            its statement is not about ``subject_digest``.
    """
    from gate.verify._bundle import verify_bundle  # the cryptography path loads with the first attestation
    from gate.verify._cosign_layers import verify_cosign_attestation
    from gate.verify._statement import in_toto_statement, require_subject

    if isinstance(artifact, CosignAttestation):
        signer, statement = verify_cosign_attestation(artifact, trust, now)
        payload_type, payload = artifact.envelope.payload_type, artifact.envelope.payload
    else:
        result = verify_bundle(artifact, trust, now)
        if result.payload_type is None or result.payload is None:
            raise VerificationError(f"{artifact.source}: bundle signs a message digest, not an in-toto statement")
        signer, payload_type, payload = result.signer, result.payload_type, result.payload
        statement = in_toto_statement(payload_type, payload, artifact.source)
    require_subject(statement, subject_digest, artifact.source)
    return VerifiedStatement(payload_type=payload_type, payload=payload, statement=statement, signer=signer)


def _is_signature(artifact: SignatureArtifact) -> bool:
    if isinstance(artifact, CosignAttestation) or (isinstance(artifact, MalformedSignature) and artifact.layout == LAYOUT_ATTESTATION):
        return False
    return not isinstance(artifact, SigstoreBundle) or _is_signature_bundle(artifact)


def _is_signature_bundle(bundle: SigstoreBundle) -> bool:
    """Unverified peek: a DSSE bundle whose statement is not cosign's sign predicate is an attestation.

    Mislabelling only hides a signature (deny), it can never make one count.
    """
    try:
        envelope = json.loads(bundle.raw).get("dsseEnvelope")
        if not isinstance(envelope, dict):
            return True
        statement = json.loads(base64.b64decode(envelope.get("payload", "")))
        return not isinstance(statement, dict) or statement.get("predicateType") in (None, COSIGN_SIGN_PREDICATE)
    except (ValueError, TypeError, AttributeError, binascii.Error):
        return True


def signatures_fact(checks: Iterable[SignatureCheck], scope: ImageScope | None = None) -> dict[str, Any]:
    """The policy input's ``signatures`` object: how many were found, who verified, what was rejected.

    With a ``scope``, a verified signer counts only when one of the image's authorities names it;
    one trusted for other images only is listed as rejected (``untrusted``), by name.
    """
    checks = list(checks)
    verified, rejected = [], [check.rejected_fact() for check in checks if not check.ok]
    for check in checks:
        if not check.ok or check.signer is None:
            continue
        if scope is None:
            verified.append(check.signer.fact())
        elif scope.vouches(check.signer.authorities):
            verified.append(check.signer.fact(scope.in_scope(check.signer.authorities)))
        else:
            reason = f"signed by {check.signer.name}, whom no authority for this image names (it is trusted for other images only)"
            rejected.append({"layout": check.layout, "reason": reason, "signer": check.signer.name, "status": UNTRUSTED})
    return {"found": len(checks), "verified": verified, "rejected": rejected}

"""What a verified signature is *about*: the simple-signing claim or the in-toto statement subject.

A signature that verifies but names another digest must not count, so every layout ends here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from gate.errors import VerificationError

IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"
# cosign v3 signs an image as an in-toto statement of this predicate type (cosign does not check it).
COSIGN_SIGN_PREDICATE = "https://sigstore.dev/cosign/sign/v1"
SIMPLE_SIGNING_TYPE = "cosign container image signature"


@dataclass(frozen=True)
class SimpleSigningClaim:
    """The critical part of a cosign simple-signing payload."""

    manifest_digest: str
    docker_reference: str | None


def simple_signing_claim(payload: bytes, source: str) -> SimpleSigningClaim:
    """Parse ``{"critical": {"identity": {"docker-reference"}, "image": {"docker-manifest-digest"}, "type"}}``.

    Raises:
        VerificationError: not JSON or not that shape (the signature then signs nothing usable).
    """
    try:
        critical = json.loads(payload)["critical"]
        digest = critical["image"]["docker-manifest-digest"]
        kind = critical["type"]
        reference = (critical.get("identity") or {}).get("docker-reference")
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise VerificationError(f"{source}: payload is not a cosign simple-signing document") from exc
    if not isinstance(digest, str) or kind != SIMPLE_SIGNING_TYPE:
        raise VerificationError(f"{source}: payload is not a cosign container image signature (type {kind!r})")
    return SimpleSigningClaim(manifest_digest=digest, docker_reference=reference if isinstance(reference, str) else None)


def in_toto_statement(payload_type: str, payload: bytes, source: str) -> dict[str, Any]:
    """Decode an in-toto statement from a DSSE payload.

    Raises:
        VerificationError: another payload type, or not a JSON object with ``predicateType`` and ``subject``.
    """
    if payload_type != IN_TOTO_PAYLOAD_TYPE:
        raise VerificationError(f"{source}: DSSE payload type is {payload_type!r}, not {IN_TOTO_PAYLOAD_TYPE}")
    try:
        statement = json.loads(payload)
    except ValueError as exc:
        raise VerificationError(f"{source}: in-toto statement is not JSON") from exc
    if not isinstance(statement, dict) or not isinstance(statement.get("predicateType"), str) or not isinstance(statement.get("subject"), list):
        raise VerificationError(f"{source}: in-toto statement lacks predicateType or subject")
    return statement


def require_subject(statement: dict[str, Any], digest: str, source: str) -> None:
    """The statement must name ``digest`` (``sha256:<hex>``) among its subjects.

    Raises:
        VerificationError: it does not.
    """
    algorithm, _, value = digest.partition(":")
    for subject in statement["subject"]:
        if isinstance(subject, dict) and isinstance(subject.get("digest"), dict) and subject["digest"].get(algorithm) == value:
            return
    raise VerificationError(f"{source}: in-toto statement is about another artifact, not {digest}")

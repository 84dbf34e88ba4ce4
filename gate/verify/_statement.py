"""What a verified signature is *about*: the simple-signing claim or the in-toto statement subject.

A signature that verifies but names another digest must not count, so every layout ends here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from gate.errors import EvidenceError, LimitExceeded, VerificationError
from gate.evidence import INTOTO_PAYLOAD_TYPE, Statement

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


def in_toto_statement(payload_type: str, payload: bytes, source: str) -> Statement:
    """Decode the in-toto statement a verified DSSE payload carries.

    Raises:
        VerificationError: another payload type, or not an in-toto statement.
    """
    if payload_type != INTOTO_PAYLOAD_TYPE:
        raise VerificationError(f"{source}: DSSE payload type is {payload_type!r}, not {INTOTO_PAYLOAD_TYPE}")
    try:
        return Statement.from_bytes(payload, what=f"{source} statement")
    except (EvidenceError, LimitExceeded) as exc:
        raise VerificationError(exc.message) from exc


def require_subject(statement: Statement, digest: str, source: str) -> None:
    """The statement must name ``digest`` (``sha256:<hex>``) among its subjects.

    Raises:
        VerificationError: it does not.
    """
    if not statement.covers(digest):
        raise VerificationError(f"{source}: in-toto statement is about another artifact, not {digest}")

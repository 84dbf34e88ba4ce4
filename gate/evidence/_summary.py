"""gate's verification summaries: SLSA ``verification_summary/v1`` statements carrying gate's facts.

The predicate holds the VSA fields (``verifier.id``, ``timeVerified``, ``resourceUri``,
``policy.digest.sha256``, ``inputAttestations``, ``verificationResult``, ``verifiedLevels``) and,
in the extension field ``gateFacts``, the facts gate computed for each platform image. This module
only reads and writes the shape; whether the statement is signed by a listed verifier, about the
right digest, under the running policy and fresh enough is ``gate.verify``'s job.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal

from gate.errors import EvidenceError
from gate.evidence import _json
from gate.evidence._intoto import Statement

VERIFICATION_SUMMARY = "https://slsa.dev/verification_summary/v1"
# How cosign v3 attaches a bundle as an OCI referrer: its artifact type and manifest annotations.
BUNDLE_V03 = "application/vnd.dev.sigstore.bundle.v0.3+json"
CONTENT_ANNOTATION = "dev.sigstore.bundle.content"
PREDICATE_ANNOTATION = "dev.sigstore.bundle.predicateType"
CREATED_ANNOTATION = "org.opencontainers.image.created"
FACTS_FIELD = "gateFacts"
FACTS_VERSION = 1

Result = Literal["PASSED", "FAILED"]


@dataclass(frozen=True)
class Summary:
    """The parts of a verification summary a consumer checks and uses.

    ``platforms`` holds one facts document per platform image (``digest``, ``platform`` and the
    input-document sections), still to be checked against the image by the engine.
    """

    verifier_id: str
    time_verified: dt.datetime
    resource_uri: str
    policy_digest: str
    result: Result
    layers_scanned: bool
    platforms: tuple[dict[str, Any], ...]

    @classmethod
    def from_statement(cls, statement: Statement, what: str) -> Summary:
        """Read a summary statement.

        Raises:
            EvidenceError: another predicate type, or a field is missing or mistyped.
        """
        if statement.predicate_type != VERIFICATION_SUMMARY:
            raise EvidenceError(f"{what}: predicateType is {statement.predicate_type!r}, not {VERIFICATION_SUMMARY}")
        predicate = dict(statement.predicate)
        verifier_id = _json.string(_json.opt_obj(predicate, "verifier", what), "id", what)
        policy_hex = _json.string(_json.opt_obj(_json.opt_obj(predicate, "policy", what), "digest", f"{what}.policy"), "sha256", f"{what}.policy.digest")
        result = _json.string(predicate, "verificationResult", what)
        if result not in ("PASSED", "FAILED"):
            raise EvidenceError(f"{what}: verificationResult is {result!r}, not PASSED or FAILED")
        facts = _json.opt_obj(predicate, FACTS_FIELD, what)
        if facts.get("version") != FACTS_VERSION:
            raise EvidenceError(f"{what}: {FACTS_FIELD}.version is {facts.get('version')!r}; this gate reads version {FACTS_VERSION}")
        platforms = tuple(_json.obj(item, f"{what}.{FACTS_FIELD}.platforms[{i}]") for i, item in enumerate(_json.opt_list(facts, "platforms", what)))
        if not platforms:
            raise EvidenceError(f"{what}: {FACTS_FIELD} lists no platform image")
        layers_scanned = facts.get("layers_scanned")
        if not isinstance(layers_scanned, bool):
            raise EvidenceError(f"{what}: {FACTS_FIELD}.layers_scanned must be true or false")
        return cls(
            verifier_id=verifier_id,
            time_verified=_time(_json.string(predicate, "timeVerified", what), what),
            resource_uri=_json.string(predicate, "resourceUri", what),
            policy_digest=f"sha256:{policy_hex}",
            result=result,  # type: ignore[arg-type]  # checked above
            layers_scanned=layers_scanned,
            platforms=platforms,
        )


def summary_predicate(
    *,
    verifier_id: str,
    version: str,
    time_verified: dt.datetime,
    resource_uri: str,
    policy_digest: str,
    inputs: tuple[dict[str, Any], ...],
    passed: bool,
    layers_scanned: bool,
    platforms: list[dict[str, Any]],
) -> dict[str, Any]:
    """The predicate of a summary (SLSA VSA v1): ``verifiedLevels`` claims no SLSA track level, since
    gate's policy is not one; ``FAILED`` there mirrors a failed verification as the VSA asks."""
    algorithm, _, hexdigest = policy_digest.partition(":")
    return {
        "verifier": {"id": verifier_id, "version": {"gate": version}},
        "timeVerified": rfc3339(time_verified),
        "resourceUri": resource_uri,
        "policy": {"digest": {algorithm: hexdigest}},
        "inputAttestations": list(inputs),
        "verificationResult": "PASSED" if passed else "FAILED",
        "verifiedLevels": [] if passed else ["FAILED"],
        FACTS_FIELD: {"version": FACTS_VERSION, "layers_scanned": layers_scanned, "platforms": platforms},
    }


def rfc3339(moment: dt.datetime) -> str:
    """``moment`` as an RFC 3339 UTC time to the second (``2026-01-01T00:00:00Z``)."""
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def rfc3339_micros(moment: dt.datetime) -> str:
    """``moment`` to the microsecond (``2026-01-01T00:00:00.000123Z``): orders summaries made within one second."""
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def created_at(text: str) -> dt.datetime:
    """An RFC 3339 creation time (any precision); the earliest time when it does not parse, so an
    unreadable annotation sorts last among the newest-first candidates."""
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00")).astimezone(dt.timezone.utc)
    except ValueError:
        return dt.datetime.min.replace(tzinfo=dt.timezone.utc)


def _time(text: str, what: str) -> dt.datetime:
    """An RFC 3339 time with an offset (naive times are refused: their age would be a guess)."""
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as exc:
        raise EvidenceError(f"{what}: timeVerified {text!r} is not an RFC 3339 time") from exc
    if moment.tzinfo is None:
        raise EvidenceError(f"{what}: timeVerified {text!r} has no time zone")
    return moment

"""Verification summaries from listed verifiers: bundle bytes in, a summary this gate may use out.

A summary counts only when (1) it is a keyed Sigstore bundle over a DSSE in-toto statement, (2)
its signature verifies under a ``trust.verifiers[].key``, (3) its ``verifier.id`` is the id listed
with that key, (4) its subject is the image digest, (5) its policy digest is the running one, and
(6) it is younger than that verifier's ``max_age_hours`` (and not from the future). A summary that
fails any check raises; the engine then ignores it, reports why, and does the full check.

Transparency log: summaries are signed with a verifier's own key, and the listed key is the whole
trust (as ``cosign verify-attestation --key … --insecure-ignore-tlog`` would do), so a bundle's
log entries are neither required nor read; ``trust.require_tlog`` governs image signatures only.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gate.config import TrustConfig
from gate.errors import ConfigError, EvidenceError, VerificationError
from gate.evidence import DsseEnvelope, Summary, rfc3339
from gate.verify._keys import key_id, load_public_key, signature_matches

if TYPE_CHECKING:
    from gate.verify._keys import PublicKey

CLOCK_SKEW = dt.timedelta(minutes=5)  # a summary this far "in the future" is still accepted


@dataclass(frozen=True)
class ListedVerifier:
    """One ``trust.verifiers`` entry, its key loaded."""

    verifier_id: str
    public_key: PublicKey
    key_id: str
    max_age: dt.timedelta


@dataclass(frozen=True)
class VerifiedSummary:
    """A summary that passed every check, and the verifier entry it matched."""

    summary: Summary
    verifier: ListedVerifier
    source: str

    def report(self) -> dict[str, str]:
        """The report's ``evidence.summary`` object."""
        return {
            "verifier": self.summary.verifier_id,
            "key_id": self.verifier.key_id,
            "time_verified": rfc3339(self.summary.time_verified),
            "policy_digest": self.summary.policy_digest,
            "verification_result": self.summary.result,
            "source": self.source,
        }


def listed_verifiers(trust: TrustConfig) -> tuple[ListedVerifier, ...]:
    """``trust.verifiers`` with their keys loaded (once, at start-up).

    Raises:
        ConfigError: a key does not load.
    """
    listed = []
    for index, entry in enumerate(trust.verifiers):
        try:
            public_key = load_public_key(entry.key.read_bytes(), f"trust.verifiers[{index}].key {entry.key}")
        except (OSError, VerificationError) as exc:
            raise ConfigError(f"trust.verifiers[{index}].key: cannot load {entry.key}: {exc}") from exc
        listed.append(ListedVerifier(entry.id, public_key, key_id(public_key), dt.timedelta(hours=entry.max_age_hours)))
    return tuple(listed)


def verify_summary(
    bundle: bytes, source: str, subject_digest: str, policy_digest: str, verifiers: tuple[ListedVerifier, ...], now: dt.datetime
) -> VerifiedSummary:
    """Check one summary bundle against the listed verifiers (steps 1-6 of the module docstring).

    Raises:
        VerificationError: the summary must be ignored; the message says why.
    """
    from gate.verify._statement import in_toto_statement, require_subject  # loaded once a summary is found

    envelope = _keyed_envelope(bundle, source)
    signed_by = [v for v in verifiers if signature_matches(v.public_key, signature=envelope.signatures[0], data=envelope.pae())]
    if not signed_by:
        raise VerificationError(f"{source}: its signature verifies under no trust.verifiers key (another signer, or altered since)")
    statement = in_toto_statement(envelope.payload_type, envelope.payload, source)
    try:
        summary = Summary.from_statement(statement, source)
    except EvidenceError as exc:
        raise VerificationError(exc.message) from exc
    verifier = next((v for v in signed_by if v.verifier_id == summary.verifier_id), None)
    if verifier is None:
        listed = ", ".join(sorted({v.verifier_id for v in signed_by}))
        raise VerificationError(f"{source}: verifier.id is {summary.verifier_id!r}, but its key is listed for {listed}")
    require_subject(statement, subject_digest, source)
    if summary.policy_digest != policy_digest:
        raise VerificationError(f"{source}: made under policy {summary.policy_digest}, not the running policy {policy_digest}")
    _check_age(summary, verifier, now, source)
    return VerifiedSummary(summary, verifier, source)


def _keyed_envelope(bundle: bytes, source: str) -> DsseEnvelope:
    """The DSSE envelope of a keyed bundle with exactly one signature.

    Raises:
        VerificationError: not a bundle, keyless, a message signature, or several signatures.
    """
    from sigstore_models.bundle.v1 import Bundle as BundleDocument

    from gate.verify._bundle import dsse_envelope, library_errors

    try:
        document = BundleDocument.from_json(bundle)
    except library_errors() as exc:
        raise VerificationError(f"{source}: not a valid Sigstore bundle: {exc}") from exc
    if document.verification_material.public_key is None:
        raise VerificationError(f"{source}: a verification summary must be signed with a listed verifier key, not a certificate")
    if document.dsse_envelope is None:
        raise VerificationError(f"{source}: bundle carries no DSSE envelope")
    return dsse_envelope(document.dsse_envelope, source)


def _check_age(summary: Summary, verifier: ListedVerifier, now: dt.datetime, source: str) -> None:
    age = now - summary.time_verified
    if age > verifier.max_age:
        hours = verifier.max_age.total_seconds() / 3600
        raise VerificationError(f"{source}: verified {age.total_seconds() / 3600:.1f} h ago, older than max_age_hours {hours:g} for {verifier.verifier_id}")
    if age < -CLOCK_SKEW:
        raise VerificationError(f"{source}: timeVerified {summary.time_verified.isoformat()} is in the future")

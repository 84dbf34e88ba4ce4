"""Cosign vulnerability attestations (``https://cosign.sigstore.dev/attestation/vuln/v1``).

gate does not judge vulnerabilities itself; it exposes who scanned, with which database, when, and
the scanner's raw result so users' Rego can (e.g. require a scan younger than N days).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gate.errors import EvidenceError
from gate.evidence import _json
from gate.evidence._intoto import Statement

VULN_PREDICATE = "https://cosign.sigstore.dev/attestation/vuln/v1"


@dataclass(frozen=True)
class VulnScan:
    """One vulnerability scan report attached to the image."""

    scanner_uri: str | None
    scanner_version: str | None
    db_uri: str | None
    db_version: str | None
    started_ns: int | None
    finished_ns: int | None
    result: Any

    @classmethod
    def from_bytes(cls, data: bytes, *, max_bytes: int = _json.MAX_DOCUMENT_BYTES) -> VulnScan:
        """Parse a statement (bare, DSSE or bundle) carrying a cosign vuln predicate.

        Raises:
            EvidenceError: malformed, or another predicate type.
        """
        return cls.from_statement(Statement.from_bytes(data, what="vulnerability attestation", max_bytes=max_bytes))

    @classmethod
    def from_statement(cls, statement: Statement) -> VulnScan:
        """Read the predicate of a parsed statement.

        Raises:
            EvidenceError: the predicate type is not the vuln one, or ``scanner`` is missing.
        """
        if statement.predicate_type != VULN_PREDICATE:
            raise EvidenceError(f"predicateType {statement.predicate_type!r} is not {VULN_PREDICATE}")
        return cls.from_predicate(dict(statement.predicate))

    @classmethod
    def from_predicate(cls, predicate: dict[str, Any]) -> VulnScan:
        """Read a bare vuln predicate (what ``cosign attest --type vuln`` takes as input).

        Raises:
            EvidenceError: ``scanner`` is missing or a field has the wrong type.
        """
        what = "vuln predicate"
        if not isinstance(predicate.get("scanner"), dict):
            raise EvidenceError(f"{what} has no `scanner` object")
        scanner = _json.opt_obj(predicate, "scanner", what)
        db = _json.opt_obj(scanner, "db", f"{what}.scanner")
        metadata = _json.opt_obj(predicate, "metadata", what)
        return cls(
            scanner_uri=_json.opt_str(scanner, "uri", f"{what}.scanner"),
            scanner_version=_json.opt_str(scanner, "version", f"{what}.scanner"),
            db_uri=_json.opt_str(db, "uri", f"{what}.scanner.db"),
            db_version=_json.opt_str(db, "version", f"{what}.scanner.db"),
            started_ns=_json.timestamp_ns(metadata, "scanStartedOn", f"{what}.metadata"),
            finished_ns=_json.timestamp_ns(metadata, "scanFinishedOn", f"{what}.metadata"),
            result=scanner.get("result"),
        )

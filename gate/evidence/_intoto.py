"""in-toto Statements (v0.1 and v1) however they are stored: bare, in a DSSE envelope, or in a
Sigstore bundle.

This module only *reads* the statement; whether its envelope is signed by a trusted identity is
``gate/verify``'s job. BuildKit stores bare statements (``application/vnd.in-toto+json`` layers),
cosign ``.att`` layers hold DSSE envelopes, cosign v3 / GitHub attestations are Sigstore bundles.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal, Mapping
from urllib.parse import urlsplit

from gate.errors import EvidenceError
from gate.evidence import _json

STATEMENT_TYPES = ("https://in-toto.io/Statement/v0.1", "https://in-toto.io/Statement/v1")
INTOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"
BUNDLE_MEDIA_PREFIX = "application/vnd.dev.sigstore.bundle"
# cosign v3 signs an image as an in-toto statement of this predicate type: a signature, not evidence.
COSIGN_SIGN_PREDICATE = "https://sigstore.dev/cosign/sign/v1"

Wrapper = Literal["bare", "dsse", "sigstore-bundle"]


@dataclass(frozen=True)
class Subject:
    """One artifact a statement is about: a name and its digests (``{"sha256": "<hex>"}``)."""

    name: str
    digests: Mapping[str, str]

    def matches(self, digest: str) -> bool:
        """True when ``digest`` (``"sha256:<hex>"``) is one of this subject's digests."""
        algorithm, _, value = digest.partition(":")
        return bool(value) and self.digests.get(algorithm, "").lower() == value.lower()


@dataclass(frozen=True)
class Statement:
    """A parsed in-toto Statement; the predicate stays raw JSON for the typed parsers."""

    statement_type: str
    predicate_type: str
    subjects: tuple[Subject, ...]
    predicate: Mapping[str, Any]
    wrapper: Wrapper

    @classmethod
    def from_bytes(cls, data: bytes, *, what: str = "attestation", max_bytes: int = _json.MAX_DOCUMENT_BYTES) -> Statement:
        """Parse a bare statement, a DSSE envelope or a Sigstore bundle holding one.

        Raises:
            EvidenceError: not JSON, not an in-toto statement, or a required field is wrong.
            LimitExceeded: above ``max_bytes``.
        """
        return cls.from_json(_json.load(data, what, max_bytes=max_bytes), what=what, max_bytes=max_bytes)

    @classmethod
    def from_json(cls, document: Any, *, what: str = "attestation", max_bytes: int = _json.MAX_DOCUMENT_BYTES) -> Statement:
        """As :meth:`from_bytes`, for a document already decoded from JSON.

        Raises:
            EvidenceError, LimitExceeded: as :meth:`from_bytes`.
        """
        document = _json.obj(document, what)
        wrapper: Wrapper = "bare"
        if isinstance(document.get("mediaType"), str) and document["mediaType"].startswith(BUNDLE_MEDIA_PREFIX):
            if "dsseEnvelope" not in document:
                raise EvidenceError(f"{what} is a Sigstore bundle over a plain message signature, not an attestation")
            document, wrapper = _json.obj(document["dsseEnvelope"], f"{what}.dsseEnvelope"), "sigstore-bundle"
        if "payloadType" in document or "payload" in document:
            document = _unwrap_dsse(document, what, max_bytes)
            wrapper = "dsse" if wrapper == "bare" else wrapper
        return cls._from_document(document, what, wrapper)

    @classmethod
    def _from_document(cls, document: dict[str, Any], what: str, wrapper: Wrapper) -> Statement:
        statement_type = _json.string(document, "_type", what)
        if statement_type not in STATEMENT_TYPES:
            raise EvidenceError(f"{what}: unknown in-toto statement type {statement_type!r}; expected one of {', '.join(STATEMENT_TYPES)}")
        predicate_type = _json.string(document, "predicateType", what)
        if not urlsplit(predicate_type).scheme:
            raise EvidenceError(f"{what}: predicateType {predicate_type!r} is not a URI")
        subjects = tuple(_subject(entry, f"{what}.subject[{i}]") for i, entry in enumerate(_json.opt_list(document, "subject", what)))
        if not subjects:
            raise EvidenceError(f"{what}: the statement names no subject")
        predicate = _json.opt_obj(document, "predicate", what)  # in-toto v1: unset means empty
        return cls(statement_type, predicate_type, subjects, MappingProxyType(predicate), wrapper)

    def covers(self, digest: str) -> bool:
        """True when one subject carries ``digest`` (``"sha256:<hex>"``)."""
        return any(subject.matches(digest) for subject in self.subjects)


def _unwrap_dsse(envelope: dict[str, Any], what: str, max_bytes: int) -> dict[str, Any]:
    payload_type = _json.string(envelope, "payloadType", what)
    if payload_type != INTOTO_PAYLOAD_TYPE:
        raise EvidenceError(f"{what}: DSSE payloadType is {payload_type!r}, not {INTOTO_PAYLOAD_TYPE}")
    payload = _json.b64(_json.string(envelope, "payload", what), f"{what}.payload")
    return _json.obj(_json.load(payload, f"{what} payload", max_bytes=max_bytes), f"{what} payload")


def _subject(entry: Any, what: str) -> Subject:
    entry = _json.obj(entry, what)
    digests = _json.obj(entry.get("digest"), f"{what}.digest")
    if not digests or not all(isinstance(k, str) and isinstance(v, str) and v for k, v in digests.items()):
        raise EvidenceError(f"{what}.digest must map algorithm names to non-empty hex strings")
    name = entry.get("name", "")
    if not isinstance(name, str):
        raise EvidenceError(f"{what}.name must be a string")
    return Subject(name, MappingProxyType(dict(digests)))

"""Result types of verification: who signed, and what each stored signature amounted to."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from gate.errors import VerificationError
from gate.evidence import Statement

Status = Literal["verified", "untrusted", "invalid"]

# ``details["status"]`` on a VerificationError raised inside verify/: "untrusted" when the signature
# is sound but its signer is not configured, "invalid" (the default) when a check failed.
UNTRUSTED: Status = "untrusted"
INVALID: Status = "invalid"


@dataclass(frozen=True)
class VerifiedSigner:
    """A signer whose signature verified and who is trusted by configuration.

    ``kind`` is ``key`` (``key_id`` set: first 16 hex of sha256 over the key's DER
    SubjectPublicKeyInfo) or ``keyless`` (``issuer`` and ``subject`` of the Fulcio certificate).
    """

    kind: Literal["key", "keyless"]
    layout: str
    key_id: str | None = None
    issuer: str | None = None
    subject: str | None = None
    extensions: tuple[tuple[str, str], ...] = ()
    authorities: tuple[str, ...] = ()  # ids of every configured authority this signer satisfies

    @property
    def name(self) -> str:
        """``key:<key_id>`` or ``<issuer> <subject>``: the ``signer`` string users' Rego compares."""
        if self.kind == "key":
            return f"key:{self.key_id}"
        return f"{self.issuer} {self.subject}"

    def fact(self, authority_names: list[str] | None = None) -> dict[str, Any]:
        """The policy-input form (``signatures.verified[]``); ``authority_names`` are the names of the
        authorities in scope for the image that this signer satisfies."""
        names = authority_names if authority_names is not None else list(self.authorities)
        return {
            "kind": self.kind,
            "signer": self.name,
            "key_id": self.key_id,
            "issuer": self.issuer,
            "subject": self.subject,
            "extensions": dict(self.extensions),
            "authorities": names,
            "authority": names[0] if names else None,
            "layout": self.layout,
        }


@dataclass(frozen=True)
class SignatureCheck:
    """The outcome for one stored signature, checked as a signature on ``digest``.

    ``status``: ``verified`` (``signer`` set), ``untrusted`` (sound, but ``found`` names a signer
    that is not configured) or ``invalid`` (``reason`` says which check failed).
    """

    source: str
    layout: str
    status: Status
    digest: str = ""
    signer: VerifiedSigner | None = None
    found: str | None = None
    reason: str = ""

    @property
    def ok(self) -> bool:
        """True when the signature verified and its signer is trusted."""
        return self.status == "verified"

    def rejected_fact(self) -> dict[str, Any]:
        """The policy-input form (``signatures.rejected[]``): ``signer`` is set only for untrusted signers."""
        return {"layout": self.layout, "reason": self.reason, "signer": self.found}


@dataclass(frozen=True)
class VerifiedStatement:
    """A verified in-toto statement (``gate.evidence.Statement``), its raw payload and the trusted signer."""

    payload_type: str
    payload: bytes
    statement: Statement
    signer: VerifiedSigner

    @property
    def predicate_type(self) -> str:
        """The statement's ``predicateType``."""
        return self.statement.predicate_type


def untrusted(message: str, found: str) -> VerificationError:
    """A VerificationError for a sound signature by a signer that is not configured."""
    return VerificationError(message, remedy="add the signer to trust.keys or trust.keyless if it should be trusted", details={"status": UNTRUSTED, "found": found})

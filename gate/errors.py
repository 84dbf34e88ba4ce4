"""The one exception tree of gate.

Every lower-level error (httpx, tarfile, json, cryptography, regopy, ...) is caught in the module
that calls the library and re-raised as the most specific class below, with ``raise ... from exc``.
The engine (``gate/engine``) is the only place a ``GateError`` becomes an ``evaluation.error``
violation; ``cli.py`` maps an uncaught one to exit code 2, the webhook a ``RequestError`` to HTTP 400.

    GateError
    ├── ConfigError           bad configuration file or flag (names the field path)
    ├── RegistryError         reference, network, auth, HTTP status, digest mismatch
    │   └── ReferenceError    a string that is not a valid image reference
    ├── EvidenceError         a manifest, signature, attestation or SBOM that cannot be parsed
    ├── VerificationError     evidence that parses but does not verify
    ├── LimitExceeded         a cap or a deadline was hit (size, entries, time)
    ├── PolicyError           Rego that does not load or evaluate
    └── RequestError          an AdmissionReview, workload object or push notification that cannot be read
"""

from __future__ import annotations

from typing import Any


class GateError(Exception):
    """Base of every error gate raises on purpose.

    Args:
        message: what went wrong, naming the image, layer, path or field involved.
        remedy: what a person should do about it (optional, shown after the message).
        details: machine-readable context copied into the report's violation details.
    """

    def __init__(self, message: str, *, remedy: str = "", details: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        self.remedy = remedy
        self.details: dict[str, Any] = dict(details or {})

    def diagnostics(self) -> str:
        """Return the message and, when known, the remedy as one human-readable text."""
        if self.remedy:
            return f"{self.message}; {self.remedy}"
        return self.message


class ConfigError(GateError):
    """The configuration file or a command-line option is invalid."""


class RegistryError(GateError):
    """The registry could not be reached, refused us, or returned something untrustworthy."""


class ReferenceError(RegistryError):  # noqa: A001 - shadows the builtin only inside gate.errors
    """A string is not a valid image reference."""


class EvidenceError(GateError):
    """A manifest, config, signature, attestation or SBOM is malformed."""


class VerificationError(GateError):
    """Evidence parsed but did not verify against the configured trust."""


class LimitExceeded(GateError):
    """A size, count or time limit was reached; the input is refused rather than half-read."""


class PolicyError(GateError):
    """The Rego policies could not be loaded or evaluated."""


class RequestError(GateError):
    """What a caller asked gate to judge cannot be read: an AdmissionReview, a workload object or a
    registry push notification. The webhook answers it with HTTP 400, never a 500."""

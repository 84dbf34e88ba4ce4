"""The finding type every scanner returns, and the redaction that keeps secrets out of reports.

A finding never carries a secret value: only a short redacted preview (``ghp_…abcd``) so a person
can tell which token leaked without the report becoming a second leak.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

SECRET_BUILD_ARG = "secret.build-arg"  # noqa: S105 - a rule ID, not a password
SECRET_ENV = "secret.env"  # noqa: S105 - a rule ID, not a password
SECRET_FILE = "secret.file"  # noqa: S105 - a rule ID, not a password
SECRET_DELETED_FILE = "secret.deleted-file"  # noqa: S105 - a rule ID, not a password
CONTENT_SOURCE = "content.source"
CONTENT_TOOLCHAIN = "content.toolchain"


@dataclass(frozen=True)
class Finding:
    """One fact for the policy: which rule, which detector, and where (never the secret itself).

    ``layer`` is the 0-based index of the layer holding the path; ``deleted_in_layer`` the index of
    the later layer that removed or replaced it (``secret.deleted-file``). ``name`` is the variable,
    build argument or label name for config findings, or the tool name for ``content.toolchain``.
    """

    rule: str
    detector: str
    path: str | None = None
    layer: int | None = None
    layer_digest: str | None = None
    deleted_in_layer: int | None = None
    history: str | None = None
    name: str | None = None
    preview: str | None = None

    def to_fact(self) -> dict[str, Any]:
        """The policy input ``findings`` item (docs/input.schema.json); the preview stays out of it."""
        return {
            "rule": self.rule,
            "detector": self.detector,
            "path": self.path,
            "layer": self.layer,
            "layer_digest": self.layer_digest,
            "deleted_in_layer": self.deleted_in_layer,
            "history": self.history,
            "name": self.name,
        }

    def to_json(self) -> dict[str, Any]:
        """Everything, preview included (for the on-disk cache and the report's evidence)."""
        return {**self.to_fact(), "preview": self.preview}

    def at(self, **changes: Any) -> "Finding":
        """A copy with some fields changed (layer placement, classification)."""
        return replace(self, **changes)


def redact(secret: str) -> str:
    """Show a token's kind prefix and last four characters only (``ghp_…abcd``).

    Values shorter than 16 characters (passwords) are fully masked; the prefix is shown only when
    it is a short tag ending in ``_``/``-``/``.``/``:`` and the value is at least 20 long.
    """
    secret = secret.strip()
    if "PRIVATE KEY" in secret[:128]:
        return "-----BEGIN … PRIVATE KEY-----"
    if len(secret) < 16:
        return "…"
    prefix = ""
    if len(secret) >= 20:
        tag = re.match(r"[A-Za-z0-9]{2,7}[_.:-]", secret)
        prefix = tag.group(0) if tag else ""
    return f"{prefix}…{secret[-4:]}"


def redact_in(text: str, secrets: list[str]) -> str:
    """Replace every occurrence of each secret in ``text`` (a history line) by its redaction."""
    for secret in sorted(set(secrets), key=len, reverse=True):
        if secret:
            text = text.replace(secret, redact(secret))
    return text

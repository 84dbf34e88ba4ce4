"""The violation shape the Rego produces, before configuration gives it an action."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class RawViolation:
    """A violation as the Rego produced it: ``{rule, message, details}``.

    ``default_action`` (the Rego object's optional ``action``) is honoured only for rule IDs
    outside the catalogue (custom rules); catalogue rules take their default from
    ``gate.rules.RULES``.
    """

    rule: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)
    default_action: str | None = None

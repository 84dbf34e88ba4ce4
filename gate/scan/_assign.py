"""Judge one ``NAME=value`` assignment (ENV, label, build argument, ``.env`` line): is the value a secret?

The value decides, not the name alone: ``TOKEN_FILE=/run/secrets/x`` points at a secret and is fine,
``GITHUB_TOKEN=ghp_…`` is the secret. A token with a known shape is reported by its rule whatever the
name; any other value is reported only when the name says "secret" and the value looks real (not a
placeholder, path, plain URL, boolean or a lone word).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gate.scan._matcher import ContentMatcher
from gate.scan._rules import is_placeholder, shannon_entropy

_SECRET_NAME = re.compile(
    r"(?i)(?:passw(?:or)?d|passwd|^pwd$|_pwd$|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key|"
    r"credential|creds|^auth$|_auth$|auth[_-]?(?:token|key)|session[_-]?key|signing[_-]?key|encryption[_-]?key|"
    r"(?:^|_)key$|npm_?config__?auth|dsn$)"
)
# Names that hold a reference to a secret, or public material, never the secret itself.
_REFERENCE_NAME = re.compile(
    r"(?i)(?:_(?:file|path|dir|url|uri|endpoint|host|port|user(?:name)?|id|name|type|version|enabled|length|size|"
    r"mode|ttl|timeout|header|location|ref|env|prefix)s?$|gpg|pgp|fingerprint|public|pub_?key)"
)
_URL = re.compile(r"^[a-z][a-z0-9+.-]*://[^/@\s]*$|^[a-z][a-z0-9+.-]*://[^@\s]*(?:/|$)", re.IGNORECASE)
_WORD = re.compile(r"^[A-Za-z]+(?:[ _-][A-Za-z]+)*$")
NAME_DETECTOR = "secret-assignment"


@dataclass(frozen=True)
class Verdict:
    """Why a value is a secret: the detector that fired and the secret text (for redaction only)."""

    detector: str
    secret: str


def judge(matcher: ContentMatcher, name: str, value: str) -> Verdict | None:
    """The verdict for ``name=value``, or None when the value is not a secret."""
    value = value.strip().strip("'\"")
    if not value:
        return None
    for match in matcher.scan(f"{name}={value}".encode("utf-8", "surrogateescape")):
        if match.detector not in ("generic-api-key", "curl-auth-user", "curl-auth-header"):
            return Verdict(match.detector, match.secret_text())
    if _SECRET_NAME.search(name) and not _REFERENCE_NAME.search(name) and _looks_real(value):
        return Verdict(NAME_DETECTOR, value)
    return None


def _looks_real(value: str) -> bool:
    if len(value) < 6 or value.startswith(("/", "./", "~/")):
        return False
    if _URL.match(value) or _WORD.match(value):
        return False
    if is_placeholder(value.encode("utf-8", "surrogateescape")):
        return False
    if value.lower() in {"true", "false", "none", "null", "yes", "no", "enabled", "disabled"}:
        return False
    return shannon_entropy(value.encode("utf-8", "surrogateescape")) >= 2.0

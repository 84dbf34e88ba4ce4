"""Strict, capped JSON reading for evidence documents.

Every parser here reads attacker-supplied bytes, so each read has a size cap and each field access
states the type it expects; anything else is an ``EvidenceError`` naming the document and field.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import re
from typing import Any

from gate.errors import EvidenceError, LimitExceeded

# BuildKit refuses attestation blobs above 40 MiB; nothing we parse needs more.
MAX_DOCUMENT_BYTES = 40 * 1024 * 1024

_URLSAFE = str.maketrans("-_", "+/")
_GO_ZERO_TIME = "0001-01-01T00:00:00"  # Go's zero time.Time: the producer never set it
_RFC3339 = re.compile(
    r"^(?P<base>\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2})(?:\.(?P<frac>\d{1,9}))?(?P<zone>[Zz]|[+-]\d{2}:\d{2})$"
)


def load(data: bytes | str, what: str, *, max_bytes: int = MAX_DOCUMENT_BYTES) -> Any:
    """Decode one JSON document.

    Raises:
        LimitExceeded: the document is larger than ``max_bytes``.
        EvidenceError: the bytes are not UTF-8 JSON.
    """
    if len(data) > max_bytes:
        raise LimitExceeded(
            f"{what} is {len(data)} bytes, above the {max_bytes}-byte cap",
            remedy="raise limits.blob_bytes if this evidence is legitimate",
            details={"size": len(data), "cap": max_bytes},
        )
    try:
        return json.loads(data)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise EvidenceError(f"{what} is not valid JSON: {exc}") from exc


def obj(value: Any, what: str) -> dict[str, Any]:
    """``value`` as a JSON object, else ``EvidenceError``."""
    if not isinstance(value, dict):
        raise EvidenceError(f"{what} must be a JSON object, got {type(value).__name__}")
    return value


def opt_obj(parent: dict[str, Any], key: str, what: str) -> dict[str, Any]:
    """``parent[key]`` as an object; absent or null reads as empty."""
    value = parent.get(key)
    return {} if value is None else obj(value, f"{what}.{key}")


def opt_list(parent: dict[str, Any], key: str, what: str) -> list[Any]:
    """``parent[key]`` as an array; absent or null reads as empty."""
    value = parent.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise EvidenceError(f"{what}.{key} must be an array, got {type(value).__name__}")
    return value


def string(parent: dict[str, Any], key: str, what: str) -> str:
    """A required non-empty string field."""
    value = parent.get(key)
    if not isinstance(value, str) or not value:
        raise EvidenceError(f"{what}.{key} must be a non-empty string")
    return value


def opt_str(parent: dict[str, Any], key: str, what: str) -> str | None:
    """An optional string field; empty reads as absent (BuildKit writes ``"id": ""``)."""
    value = parent.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise EvidenceError(f"{what}.{key} must be a string, got {type(value).__name__}")
    return value


def b64(value: str, what: str) -> bytes:
    """Strict base64, standard or URL-safe alphabet (DSSE allows both), padding optional; else ``EvidenceError``.

    sigstore's bundle parser reads standard base64 and silently drops ``-`` and ``_``. Text whose
    bytes differ between that reading and this one is refused, so the statement the policies see
    is always the one whose signature was checked.
    """
    padding = "=" * (-len(value) % 4)
    try:
        decoded = base64.b64decode(value.translate(_URLSAFE) + padding, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise EvidenceError(f"{what} is not valid base64") from exc
    if "-" in value or "_" in value:
        try:
            lenient = base64.b64decode(value + padding)
        except (binascii.Error, ValueError):
            lenient = None
        if lenient is not None and lenient != decoded:
            raise EvidenceError(f"{what} reads differently as standard and as URL-safe base64; refusing the ambiguity")
    return decoded


def timestamp_ns(parent: dict[str, Any], key: str, what: str) -> int | None:
    """An optional RFC 3339 timestamp as integer nanoseconds since the epoch (BuildKit writes ns)."""
    text = opt_str(parent, key, what)
    if text is None or text.startswith(_GO_ZERO_TIME):
        return None
    match = _RFC3339.match(text)
    if match is None:
        raise EvidenceError(f"{what}.{key} is not an RFC 3339 timestamp: {text!r}")
    zone = "+00:00" if match["zone"] in ("Z", "z") else match["zone"]
    try:
        moment = dt.datetime.fromisoformat(match["base"].replace("t", "T").replace(" ", "T") + zone)
    except ValueError as exc:
        raise EvidenceError(f"{what}.{key} is not a valid date: {text!r}") from exc
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
    seconds = (moment - epoch) // dt.timedelta(seconds=1)
    return seconds * 1_000_000_000 + int((match["frac"] or "0").ljust(9, "0"))

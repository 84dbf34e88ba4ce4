"""Structure checks for token kinds whose shape alone over-matches: decode the token and look inside.

A JWT's header and payload are base64url JSON objects (RFC 7519), so ``ey…`` runs that do not
decode to objects are other base64 data. A PyPI token is a base64url macaroon (v2 binary format)
that ends with its 32-byte signature field; a token cut short cannot authenticate and is usually
a truncated sample in documentation.
"""

from __future__ import annotations

import base64
import binascii
import json

# End of the last caveat section, then the signature field: type 6, length 32 (then the 32 bytes).
_MACAROON_SIGNATURE = b"\x00\x00\x06\x20"


def _base64url(text: bytes) -> bytes | None:
    try:
        return base64.urlsafe_b64decode(text + b"=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None


def _json_object(part: bytes) -> bool:
    raw = _base64url(part)
    if raw is None:
        return False
    try:
        return isinstance(json.loads(raw), dict)
    except ValueError:  # includes UnicodeDecodeError
        return False


def jwt_is_json(token: bytes) -> bool:
    """Whether the header and payload of ``token`` (``ey….ey….sig``, maybe with JSON-escaped ``\\/``)
    both decode to JSON objects."""
    parts = token.replace(b"\\", b"").split(b".")
    return len(parts) >= 2 and _json_object(parts[0]) and _json_object(parts[1])


def macaroon_is_complete(token: bytes) -> bool:
    """Whether a ``pypi-…`` token decodes to a whole macaroon, signature included."""
    raw = _base64url(token.removeprefix(b"pypi-"))
    return raw is not None and len(raw) > 36 and raw[-36:-32] == _MACAROON_SIGNATURE

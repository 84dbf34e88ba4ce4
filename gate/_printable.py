"""Text from images made safe to print: control and invisible formatting characters escaped.

Paths, history lines, variable names and labels come from whoever built the image. Printed raw, an
``ESC`` sequence rewrites a terminal (hides a line, fakes an ``ALLOW``), a newline forges a log
line or a denial entry, and bidi overrides reorder what a reviewer reads. Every violation message
and image reference passes through :func:`printable`, so tables, webhook answers and logs show
``\\x1b`` instead.
"""

from __future__ import annotations

import re

# C0 and C1 controls, DEL, and the invisible format characters that reorder or hide text.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")


def printable(text: str) -> str:
    """``text`` with each unsafe character written as ``\\xNN`` or ``\\uNNNN``."""
    if not _UNSAFE.search(text):
        return text
    return _UNSAFE.sub(lambda match: _escape(match.group()), text)


def _escape(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"

"""JSON bodies from clients, parsed with a nesting bound.

Python's parser recurses once per level and raises ``RecursionError`` (not ``ValueError``) near a
thousand levels; code that walks the document afterwards would do the same at its own depth. No
Kubernetes object or registry notification comes near ``MAX_DEPTH`` levels, so anything deeper is
a client mistake (400), never a server error.

Bodies are read by orjson when it reads them exactly as Python's parser does, which is the case
for every body it accepts but those with integers past 64 bits (which it turns into floats):
a body with a run of 19 or more digits, and any body orjson refuses, is read by Python's parser,
whose result or error stands. A review's body is parsed on every admission request, and orjson
takes a fifth of the time.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

MAX_DEPTH = 128
# An integer of 19 digits or more may be past 64 bits (-2**63 has 19); found as a run of 19 zeros
# once every digit is a zero (``bytes.translate`` and ``in`` run five times faster than a regex).
_DIGITS_AS_ZEROS = bytes.maketrans(b"123456789", b"000000000")
_LONG_NUMBER = b"0" * 19
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')  # a JSON string token, escapes included
_BRACKETS = bytes.maketrans(b"{}", b"[]")  # objects and arrays nest alike
_NOT_BRACKETS = bytes(set(range(256)) - set(b"{}[]"))
_REFUSED = object()


def loads_bounded(body: bytes) -> Any:
    """The parsed body.

    Raises:
        ValueError: not JSON, not UTF-8, or nested deeper than ``MAX_DEPTH`` levels.
    """
    document = _fast_loads(body)
    if document is not _REFUSED:
        if _deeper_than_max(body):  # orjson read it: UTF-8 without a byte order mark
            raise ValueError(f"JSON nested deeper than {MAX_DEPTH} levels")
        return document
    encoding = json.detect_encoding(body)  # as json.loads reads bytes, looked at once for both uses
    try:
        document = json.loads(body.decode(encoding, "surrogatepass"))
    except RecursionError as exc:
        raise ValueError(f"JSON nested deeper than {MAX_DEPTH} levels") from exc
    deeper = _deeper_than_max(body) if encoding == "utf-8" else _walk_deeper_than_max(document)
    if deeper:
        raise ValueError(f"JSON nested deeper than {MAX_DEPTH} levels")
    return document


def _fast_loads(body: bytes) -> Any:
    """orjson's reading of ``body``; ``_REFUSED`` when it refuses it or might read a number
    differently from Python's parser (then that parser decides)."""
    if _LONG_NUMBER in body.translate(_DIGITS_AS_ZEROS):
        return _REFUSED
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return _REFUSED


def _deeper_than_max(body: bytes) -> bool:
    """Whether valid UTF-8 JSON nests deeper than ``MAX_DEPTH``, read from its brackets alone.

    Without its strings (where brackets are text) a valid document's brackets are balanced; each
    pass removes every innermost pair, so a document of depth D is empty after exactly D passes.
    This runs at the speed of ``bytes.replace`` where walking the parsed document visited every
    node in Python (the largest part of reading a review).
    """
    if body.count(b"[") + body.count(b"{") <= MAX_DEPTH:
        return False  # every level opens with a bracket: too few of them to nest that deep
    brackets = _STRING.sub(b"", body).translate(_BRACKETS, _NOT_BRACKETS)
    for _ in range(MAX_DEPTH):
        if not brackets:
            return False
        brackets = brackets.replace(b"[]", b"")
    return bool(brackets)


def _walk_deeper_than_max(document: Any) -> bool:
    """The same question answered by walking the parsed document (UTF-16 and UTF-32 bodies)."""
    pending: list[tuple[Any, int]] = [(document, 1)]
    while pending:
        node, depth = pending.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        for child in children:
            if isinstance(child, (dict, list)):
                if depth + 1 > MAX_DEPTH:
                    return True
                pending.append((child, depth + 1))
    return False

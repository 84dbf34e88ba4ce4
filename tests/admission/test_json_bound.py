"""The nesting bound on client JSON: read from the brackets of UTF-8 bodies, walked otherwise."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from gate.admission._json import MAX_DEPTH, loads_bounded

TRICKY_STRINGS = ["a[b{c\"]", "}}]]", "\\", "\\\"[", "é[日本]{", "[" * 200]


def nested(depth: int, leaf: Any = 1) -> Any:
    """``depth`` containers around ``leaf``, objects and arrays in turn, with bracket-laden strings beside."""
    for level in range(depth):
        leaf = [leaf, "]]"] if level % 2 else {"x": leaf, "y]": "[{"}
    return leaf


def depth_of(node: Any) -> int:
    children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else None
    return 0 if children is None else 1 + max((depth_of(child) for child in children), default=0)


def assert_bounded(document: Any, body: bytes) -> None:
    """``body`` (``document`` encoded) is read back when it nests at most ``MAX_DEPTH`` levels, else refused."""
    if depth_of(document) <= MAX_DEPTH:
        assert loads_bounded(body) == document
    else:
        with pytest.raises(ValueError, match="nested deeper"):
            loads_bounded(body)


@pytest.mark.parametrize("depth", [MAX_DEPTH - 1, MAX_DEPTH, MAX_DEPTH + 1, MAX_DEPTH + 5])
@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "utf-32-le"])
def test_the_bound_is_exact_in_every_encoding_json_reads(depth: int, encoding: str) -> None:
    for leaf in (1, [], {}, "]]", [[]]):
        document = nested(depth, leaf)
        assert_bounded(document, json.dumps(document, ensure_ascii=False).encode(encoding))


def test_brackets_inside_strings_do_not_count() -> None:
    document = {"s": TRICKY_STRINGS, "deep": nested(MAX_DEPTH - 2)}
    for text in (json.dumps(document), json.dumps(document, ensure_ascii=False), json.dumps(document, indent=2)):
        assert loads_bounded(text.encode()) == document


def test_random_documents_are_judged_as_by_their_depth() -> None:
    chance = random.Random(7)

    def build(level: int) -> Any:
        roll = chance.random()
        if roll < 0.4:
            return chance.choice([1, None, True, 2.5, *TRICKY_STRINGS])
        if roll < 0.7:
            return [build(level + 1) for _ in range(chance.randint(0, 2))]
        return {f"k{n}[{{": build(level + 1) for n in range(chance.randint(0, 2))}

    for _ in range(200):
        document = [build(0), nested(chance.randint(MAX_DEPTH - 4, MAX_DEPTH + 2), build(0)), build(0)]
        assert_bounded(document, json.dumps(document).encode())


def test_not_json_is_a_value_error() -> None:
    for body in (b"{", b"[1,]", b'{"a": "unterminated}', b"\xff\xfe\x00"):
        with pytest.raises(ValueError):
            loads_bounded(body)

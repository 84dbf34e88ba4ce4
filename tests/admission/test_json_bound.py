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


READ_BY_PYTHON_ONLY = [
    b"12345678901234567890123",  # past 64 bits: orjson would make it a float
    b'{"runAsUser": -9223372036854775809}',
    b'{"runAsUser": 18446744073709551616}',
    b"[NaN, Infinity, -Infinity]",
    b"1e400",
    b'"\\ud800 lone surrogate"',
    b"\xef\xbb\xbf{}",  # a UTF-8 byte order mark
    json.dumps({"x": "\ud800"}, ensure_ascii=False).encode("utf-8", "surrogatepass"),
    json.dumps({"k": "é"}).encode("utf-16"),
]
READ_ALIKE = [
    b'{"a": 1, "a": 2}',  # the last member wins in both
    b"9223372036854775807",
    b"-9223372036854775808",
    b"123456789012345678",
    b'[0.1, 1e-7, 2.5E+3, -0.0, -0, 1.7976931348623157e308, 5e-324]',
    b'{"s": "\\u00e9\\n\\t\\"\\\\ \\ud83d\\ude00", "t": "\xc3\xa9 \xf0\x9f\x98\x80"}',
    b' \t\r\n{"nested": [[[{"deep": true}]]], "null": null} \n',
    b'"sha256:1234567890123456789012345678901234567890123456789012345678901234"',
]


@pytest.mark.parametrize("body", READ_BY_PYTHON_ONLY + READ_ALIKE)
def test_a_body_is_read_as_pythons_parser_reads_it(body: bytes) -> None:
    expected = json.loads(body)
    found = loads_bounded(body)
    assert found == expected or (found != found and expected != expected)
    assert repr(found) == repr(expected), "same values of the same types (an int stays an int)"


@pytest.mark.parametrize("body", [b"{", b"[1,]", b"{} x", b'"a\x01"', b"\xff", b"[" * 2000 + b"]" * 2000, b"\x00{}"])
def test_what_pythons_parser_refuses_is_refused(body: bytes) -> None:
    with pytest.raises((ValueError, RecursionError)):
        json.loads(body)
    with pytest.raises(ValueError):
        loads_bounded(body)


def test_a_long_number_in_a_string_is_read_alike() -> None:
    document = {"id": "1" * 40, "n": [1, 22, 333]}
    assert loads_bounded(json.dumps(document).encode()) == document

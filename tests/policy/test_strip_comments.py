"""``strip_comments`` reads Rego's lexical layout as OPA's scanner does (ast/internal/scanner):
``#`` starts a comment to the end of the line, except inside a double-quoted string (which a
backslash escapes and a newline ends) or a backquoted raw string (which may span lines)."""

from __future__ import annotations

import random

import pytest

from gate.policy._sources import SHIPPED_POLICY_DIR, strip_comments


def _reference(source: str) -> str:
    """A character-at-a-time reader of the same layout, to compare the one-pass regex against."""
    kept: list[str] = []
    quote: str | None = None
    comment = escaped = False
    for char in source:
        if comment:
            comment = char != "\n"
        elif quote is None:
            comment = char == "#"
            quote = char if char in "\"`" else None
        elif escaped:
            escaped = False
        elif quote == '"' and char == "\\":
            escaped = True
        elif char == quote or (quote == '"' and char == "\n"):
            quote = None
        if not comment:
            kept.append(char)
    return "".join(kept)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('x := 1 # one\ny := "#not" # two\n', 'x := 1 \ny := "#not" \n'),
        ('s := "a \\" # still text" # gone', 's := "a \\" # still text" '),
        ("r := `multi\n# line` # gone\n", "r := `multi\n# line` \n"),
        ('u := "open\n# a comment again', 'u := "open\n'),
        ("# only a comment", ""),
    ],
)
def test_comments_go_and_strings_stay(source: str, expected: str) -> None:
    assert strip_comments(source) == expected


def test_agrees_with_a_character_reader_on_the_shipped_policies_and_generated_text() -> None:
    for path in sorted(SHIPPED_POLICY_DIR.glob("*.rego")):
        text = path.read_text(encoding="utf-8")
        assert strip_comments(text) == _reference(text), path.name
    rng = random.Random(17)
    for _ in range(20000):
        text = "".join(rng.choice('ab"`#\\\n x') for _ in range(rng.randint(0, 16)))
        assert strip_comments(text) == _reference(text), repr(text)

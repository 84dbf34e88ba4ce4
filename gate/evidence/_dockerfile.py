"""Just enough of the Dockerfile grammar to know each stage's base image as BuildKit saw it.

Lines, directives, comments, continuations and heredocs are split exactly as BuildKit's parser
does (``_buildkit_lines``). On top: case-insensitive instructions, global ``ARG``s before the first
``FROM`` with their defaults and build-arg overrides, ``${VAR}``/``$VAR``/``${VAR:-default}``/
``${VAR:+alt}`` substitution, ``FROM [--flag…] image [AS name]`` with exactly one or three
arguments (as ``instructions.parseFrom`` requires), ``AS`` names lowercased. No Dockerfile parser
ships for Python, and BuildKit's own is Go.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from gate.errors import EvidenceError
from gate.evidence._buildkit_lines import command_and_args, instructions, shell_words

_WHITESPACE = re.compile(r"[\t\v\f\r ]+")
_VARIABLE = re.compile(r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-+?])(?P<word>(?:\$\{[^}]*\}|[^}])*))?\}|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))")


@dataclass(frozen=True)
class FromInstruction:
    """One ``FROM``: its stage index, where it is, the text as written and the base after ARG expansion."""

    index: int
    line_no: int
    text: str
    base: str
    name: str | None
    platform: str | None


@dataclass(frozen=True)
class Dockerfile:
    """The stages of a Dockerfile and the directives and global ARGs they were read with."""

    stages: tuple[FromInstruction, ...]
    syntax: str | None
    global_args: Mapping[str, str | None]

    @classmethod
    def parse(cls, text: str, build_args: Mapping[str, str] | None = None) -> Dockerfile:
        """Read the ``FROM`` lines of ``text``; ``build_args`` override global ARG defaults.

        Raises:
            EvidenceError: the text holds no ``FROM`` instruction.
        """
        directives, found = instructions(text)
        overrides = dict(build_args or {})
        global_args: dict[str, str | None] = {}
        stages: list[FromInstruction] = []
        for line_no, instruction in found:
            keyword, rest = command_and_args(instruction)
            keyword = keyword.lower()
            if keyword == "arg" and not stages:
                _declare_args(rest, global_args, overrides)
            elif keyword == "from":
                stages.append(_from(len(stages), line_no, instruction, rest, global_args))
        if not stages:
            raise EvidenceError("Dockerfile has no FROM instruction")
        return cls(tuple(stages), directives.values.get("syntax"), MappingProxyType(global_args))


def _declare_args(rest: str, global_args: dict[str, str | None], overrides: Mapping[str, str]) -> None:
    for word in _words(rest):
        name, has_default, default = word.partition("=")
        if name in overrides:
            global_args[name] = overrides[name]
        else:
            global_args[name] = expand(default, global_args) if has_default else None


def _from(index: int, line_no: int, text: str, rest: str, global_args: Mapping[str, str | None]) -> FromInstruction:
    """``FROM [--platform=…] image [AS name]``; BuildKit refuses any other number of arguments."""
    words = [word for word in _WHITESPACE.split(rest.strip()) if word]
    platform = None
    while words and words[0].startswith("--"):
        flag, _, value = words.pop(0).partition("=")
        if flag.lower() == "--platform":
            platform = value
    if len(words) not in (1, 3) or len(words) == 3 and words[1].lower() != "as":
        raise EvidenceError(f"Dockerfile line {line_no}: FROM requires either one or three arguments: {text!r}")
    image = shell_words(words[0], keep_quotes=False)
    if len(image) != 1:
        raise EvidenceError(f"Dockerfile line {line_no}: FROM image {words[0]!r} is not one word")
    return FromInstruction(index, line_no, text, expand(image[0], global_args), words[2].lower() if len(words) == 3 else None, platform)


def _words(text: str) -> list[str]:
    try:
        return shell_words(text, keep_quotes=False)
    except EvidenceError:  # an unbalanced quote: fall back to whitespace words rather than fail
        return text.split()


def expand(word: str, variables: Mapping[str, str | None]) -> str:
    """Substitute ``$VAR``, ``${VAR}``, ``${VAR:-d}``, ``${VAR-d}``, ``${VAR:+a}``, ``${VAR+a}`` as BuildKit's lexer does.

    Unset variables expand to the empty string; ``${VAR:?msg}`` expands like ``${VAR}``.
    """

    def substitute(match: re.Match[str]) -> str:
        name = match["braced"] or match["bare"]
        value = variables.get(name)
        op, alternative = match["op"], match["word"] or ""
        if op in (":-", "-"):
            use_default = value is None or (op == ":-" and value == "")
            return expand(alternative, variables) if use_default else (value or "")
        if op in (":+", "+"):
            use_alternative = value is not None and (op == "+" or value != "")
            return expand(alternative, variables) if use_alternative else ""
        return value or ""

    return _VARIABLE.sub(substitute, word)

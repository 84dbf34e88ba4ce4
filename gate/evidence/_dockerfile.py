"""Just enough of the Dockerfile grammar to know each stage's base image as the build saw it.

Handles parser directives (``# syntax=``, ``# escape=``), comments, line continuations (with the
escape character in effect), heredocs (so a ``FROM`` inside a ``RUN <<EOF`` body is not a stage),
case-insensitive instructions, global ``ARG``s before the first ``FROM`` with their defaults and
build-arg overrides, ``${VAR}``/``$VAR``/``${VAR:-default}``/``${VAR:+alt}`` substitution, ``AS``
aliases and ``--platform``. No Dockerfile parser ships for Python, and BuildKit's own is Go.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from types import MappingProxyType
from typing import Iterator, Mapping

from gate.errors import EvidenceError

_DIRECTIVE = re.compile(r"^\s*#\s*([A-Za-z][A-Za-z0-9_-]*)\s*=\s*(.*?)\s*$")
_KNOWN_DIRECTIVES = ("syntax", "escape", "check")
_HEREDOC = re.compile(r"(?<!<)<<(?!<)(-?)\s*([\"']?)([A-Za-z0-9_.-]+)\2")  # not a `<<<` here-string
_HEREDOC_INSTRUCTIONS = ("run", "copy", "add")
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
        lines = text.splitlines()
        directives, start = _directives(lines)
        escape = directives.get("escape", "\\")
        if escape not in ("\\", "`"):
            raise EvidenceError(f"Dockerfile escape directive {escape!r} is neither a backslash nor a backtick")
        overrides = dict(build_args or {})
        global_args: dict[str, str | None] = {}
        stages: list[FromInstruction] = []
        for line_no, instruction in _instructions(lines, start, escape):
            keyword, _, rest = instruction.partition(" ")
            keyword = keyword.lower()
            if keyword == "arg" and not stages:
                _declare_args(rest, global_args, overrides)
            elif keyword == "from":
                stages.append(_from(len(stages), line_no, instruction, rest, global_args))
        if not stages:
            raise EvidenceError("Dockerfile has no FROM instruction")
        return cls(tuple(stages), directives.get("syntax"), MappingProxyType(global_args))


def _directives(lines: list[str]) -> tuple[dict[str, str], int]:
    """Leading parser directives; they end at the first line that is not a known, unseen one."""
    found: dict[str, str] = {}
    for number, line in enumerate(lines):
        match = _DIRECTIVE.match(line)
        if match is None or match[1].lower() not in _KNOWN_DIRECTIVES or match[1].lower() in found:
            return found, number
        found[match[1].lower()] = match[2]
    return found, len(lines)


def _instructions(lines: list[str], start: int, escape: str) -> Iterator[tuple[int, str]]:
    """Logical instructions with their 1-based first line: continuations joined, comments and heredoc bodies dropped."""
    number = start
    while number < len(lines):
        first = number
        parts: list[str] = []
        while number < len(lines):
            line = lines[number].strip()
            number += 1
            if not line or line.startswith("#"):
                first = first if parts else number
                continue
            if line.endswith(escape):
                parts.append(line[: -len(escape)].strip())
                continue
            parts.append(line)
            break
        instruction = " ".join(part for part in parts if part)
        if not instruction:
            continue
        yield first + 1, instruction
        number = _skip_heredocs(lines, number, instruction)


def _skip_heredocs(lines: list[str], number: int, instruction: str) -> int:
    if instruction.partition(" ")[0].lower() not in _HEREDOC_INSTRUCTIONS:
        return number
    for strip_tabs, _, word in _HEREDOC.findall(instruction):
        while number < len(lines):
            body = lines[number].lstrip("\t") if strip_tabs else lines[number]
            number += 1
            if body.rstrip("\r") == word:
                break
    return number


def _declare_args(rest: str, global_args: dict[str, str | None], overrides: Mapping[str, str]) -> None:
    for word in _words(rest):
        name, has_default, default = word.partition("=")
        if name in overrides:
            global_args[name] = overrides[name]
        else:
            global_args[name] = expand(default, global_args) if has_default else None


def _from(index: int, line_no: int, text: str, rest: str, global_args: Mapping[str, str | None]) -> FromInstruction:
    words = _words(rest)
    platform = None
    while words and words[0].startswith("--"):
        flag, _, value = words.pop(0).partition("=")
        if flag.lower() == "--platform":
            platform = value
    if not words:
        raise EvidenceError(f"Dockerfile line {line_no}: FROM without an image: {text!r}")
    base = expand(words[0], global_args)
    name = words[2].lower() if len(words) >= 3 and words[1].lower() == "as" else None
    return FromInstruction(index, line_no, text, base, name, platform)


def _words(text: str) -> list[str]:
    try:
        return shlex.split(text, comments=False, posix=True)
    except ValueError:  # an unbalanced quote: fall back to whitespace words rather than fail
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

"""Dockerfile text to logical instructions, exactly as BuildKit's ``frontend/dockerfile/parser`` splits it.

The reference is ``parser.Parse`` (parser.go) with ``scanLines``, ``processLine``,
``trimContinuationCharacter``, ``heredocsFromLine`` / ``ParseHeredoc`` and the
``DirectiveParser`` (directives.go). Rules followed:

- lines end at ``\\n`` only (``\\f``, ``\\x1c``, ``\\u2028`` are ordinary characters); trailing
  ``\\r``/``\\n`` are trimmed; a byte-order mark opens the first line;
- parser directives (``# syntax=``, ``# escape=``, ``# check=``; key ``[a-zA-Z][a-zA-Z0-9]*``) are
  read only while every line so far was one; a repeated directive is an error;
- a line whose first non-space character is ``#`` is a comment, also inside a continuation;
  empty lines inside a continuation are skipped;
- a line continues when it ends in the escape character (then spaces/tabs), and the pieces are
  joined with nothing in between;
- ``RUN``, ``COPY``, ``ADD`` (also after ``ONBUILD``), not in JSON form, take heredocs: only a shell
  word of the line that *starts* with ``<<`` (``^(\\d*)<<(-?)\\s*([^<]*)$``) opens one, and its body
  runs to a line equal to the (unquoted) name, tabs stripped for ``<<-``; an unterminated heredoc is
  an error.

White space is Go's ``unicode.IsSpace``. Raises ``EvidenceError`` where BuildKit's parser fails.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from gate._gotext import GO_SPACE
from gate.errors import EvidenceError

_GO_S = "\t\n\f\r "  # Go regexp \s
_DIRECTIVE = re.compile(rf"([a-zA-Z][a-zA-Z0-9]*)[{_GO_S}]*=[{_GO_S}]*(.+?)[{_GO_S}]*\Z")
_DIRECTIVES = ("syntax", "escape", "check")
_HEREDOC = re.compile(rf"(\d*)<<(-?)[{_GO_S}]*([^<]*)\Z")
_WHITESPACE = re.compile(r"[\t\v\f\r ]+")  # BuildKit's reWhitespace
_HEREDOC_COMMANDS = ("run", "copy", "add")


@dataclass
class Directives:
    """The parser directives read so far; ``escape`` is in effect for the lines that follow."""

    escape: str = "\\"
    values: dict[str, str] = field(default_factory=dict)
    done: bool = False

    def read(self, line: str) -> None:
        """``DirectiveParser.ParseLine``: a directive while none but directives came before.

        Raises:
            EvidenceError: a directive given twice, or an escape that is not ``\\`` or a backtick.
        """
        if self.done:
            return
        match = _DIRECTIVE.match(line[1:].lstrip(GO_SPACE)) if line.startswith("#") else None
        key = match[1].lower() if match else ""
        if key not in _DIRECTIVES:
            self.done = True
            return
        if key in self.values:
            raise EvidenceError(f"Dockerfile: only one {key} parser directive can be used")
        if key == "escape" and match[2] not in ("\\", "`"):  # type: ignore[index]
            raise EvidenceError(f"Dockerfile escape directive {match[2]!r} is neither a backslash nor a backtick")  # type: ignore[index]
        self.values[key] = match[2]  # type: ignore[index]
        self.escape = self.values.get("escape", "\\")


def instructions(text: str) -> tuple[Directives, list[tuple[int, str]]]:
    """The directives, and each logical instruction with the 1-based number of its first line.

    Raises:
        EvidenceError: a repeated or invalid directive, or an unterminated heredoc.
    """
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    if lines:
        lines[0] = lines[0].removeprefix("\ufeff")
    directives, found, number = Directives(), [], 0
    while number < len(lines):
        token = lines[number].rstrip("\r\n").lstrip(GO_SPACE)
        directives.read(token)
        number += 1
        start = number
        token, ended = _continued("" if token.startswith("#") else token, directives.escape)
        if ended and not token:
            continue
        parts = [token]
        while not ended and number < len(lines):
            piece = lines[number].rstrip("\r\n")
            directives.read(piece)
            number += 1
            if piece.lstrip(GO_SPACE).startswith("#") or not piece.lstrip(GO_SPACE):
                continue  # a comment, or an empty continuation line
            piece, ended = _continued(piece, directives.escape)
            parts.append(piece)
        line = "".join(parts)
        found.append((start, line))
        number = _skip_heredocs(lines, number, line, start)
    return directives, found


def _continued(line: str, escape: str) -> tuple[str, bool]:
    """``trimContinuationCharacter``: (line without the continuation mark, whether the instruction ends)."""
    mark = re.escape(escape)
    match = re.search(rf"([^{mark}]){mark}[ \t]*\Z|\A{mark}[ \t]*\Z", line)
    if match is None:
        return line, True
    return line[: match.start()] + (match[1] or ""), False


def command_and_args(line: str) -> tuple[str, str]:
    """``splitCommand``: the instruction keyword and the rest, split at the first white space."""
    parts = _WHITESPACE.split(line.strip(GO_SPACE), maxsplit=1)
    return parts[0], parts[1] if len(parts) == 2 else ""


def _skip_heredocs(lines: list[str], number: int, line: str, start: int) -> int:
    """Skip the bodies of the heredocs ``line`` opens; returns the number of the next line to read."""
    if "<<" not in line or not _takes_heredocs(line):
        return number
    for chomp, name in _heredocs(line):
        while True:
            if number >= len(lines):
                raise EvidenceError(f"Dockerfile line {start}: unterminated heredoc {name!r}")
            candidate = lines[number].rstrip("\r\n")
            number += 1
            if (candidate.lstrip("\t") if chomp else candidate) == name:
                break
    return number


def _takes_heredocs(line: str) -> bool:
    """``canContainHeredoc``: RUN, COPY or ADD (also as the ONBUILD trigger), not in JSON form."""
    command, args = command_and_args(line)
    if command.lower() == "onbuild":
        command, args = command_and_args(args)
    if command.lower() not in _HEREDOC_COMMANDS:
        return False
    words = _WHITESPACE.split(args)
    while words and words[0].startswith("--"):
        words.pop(0)
    rest = " ".join(words).strip()
    try:
        parsed = json.loads(rest) if rest.startswith("[") else None
    except ValueError:
        parsed = None
    return not (isinstance(parsed, list) and all(isinstance(item, str) for item in parsed))


def _heredocs(line: str) -> list[tuple[bool, str]]:
    """``heredocsFromLine``: (chomp, name) for each shell word of the line that starts with ``<<``."""
    found = []
    for word in shell_words(line, keep_quotes=True):
        match = _HEREDOC.match(word)
        if match is None or not match[3]:
            continue
        names = shell_words(match[3], keep_quotes=False)
        if len(names) == 1:
            found.append((match[2] == "-", names[0]))
    return found


def shell_words(text: str, *, keep_quotes: bool) -> list[str]:
    """Words as BuildKit's shell lexer splits them (escape ``\\``): white space outside quotes
    separates; quotes and escapes are kept (``keep_quotes``, its RawQuotes/RawEscapes mode) or removed."""
    words: list[str] = []
    word: list[str] = []
    started, position, quote = False, 0, ""
    while position < len(text):
        char = text[position]
        position += 1
        if quote:
            if char == "\\" and quote == '"' and position < len(text) and text[position] in '"\\$`':
                word.append(char + text[position] if keep_quotes else text[position])
                position += 1
            elif char == quote:
                quote = ""
                word.append(char if keep_quotes else "")
            else:
                word.append(char)
        elif char in GO_SPACE:
            if started:
                words.append("".join(word))
                word, started = [], False
        elif char == "\\" and position < len(text):
            word.append(char + text[position] if keep_quotes else text[position])
            position += 1
            started = True
        elif char in "'\"":
            quote, started = char, True
            word.append(char if keep_quotes else "")
        else:
            word.append(char)
            started = True
    if quote:
        raise EvidenceError(f"Dockerfile: unterminated quote in {text!r}")
    if started:
        words.append("".join(word))
    return words

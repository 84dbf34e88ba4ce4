"""Dockerfile lines as BuildKit's parser splits them: BuildKit's own parser test files
(tests/vectors/buildkit-dockerfile-parser), and the rules where a naive reader differs."""

from __future__ import annotations

import re

import pytest

from gate.errors import EvidenceError
from gate.evidence import Dockerfile
from gate.evidence._buildkit_lines import command_and_args, instructions
from tests.support.vectors import VECTORS

CASES = VECTORS / "buildkit-dockerfile-parser"


def _expected_commands(result: str) -> list[str]:
    return [match[1] for match in re.finditer(r"^\(([^\s)]+)", result, re.MULTILINE)]


@pytest.mark.parametrize("case", sorted(path.name for path in CASES.iterdir()))
def test_instructions_match_buildkits_parser_testfiles(case: str) -> None:
    text = (CASES / case / "Dockerfile").read_text(encoding="utf-8")
    expected = _expected_commands((CASES / case / "result").read_text(encoding="utf-8"))
    _, found = instructions(text)
    assert [command_and_args(line)[0].lower() for _, line in found] == expected
    froms = re.findall(r'^\(from "([^"]*)"\)$', (CASES / case / "result").read_text(encoding="utf-8"), re.MULTILINE)
    if froms:
        assert [stage.base for stage in Dockerfile.parse(text).stages] == froms


DIGEST = "sha256:" + "a" * 64


@pytest.mark.parametrize(("what", "text", "bases"), [
    ("form feed is no line break", "FROM alpine\fFROM evil\n", None),
    ("U+2028 is no line break", "FROM alpine\u2028FROM evil:1\nFROM busybox\n", None),
    ("\\x1c is no line break", "FROM alpine\x1cFROM evil\n", None),
    ("CR alone is no line break", "FROM alpine\rFROM evil:1\n", None),
    ("continuations join without a space", "FROM alpine\\\n:3.19 AS a\n", ["alpine:3.19"]),
    ("a quoted << is no heredoc", 'FROM alpine\nRUN echo "<<EOF"\nFROM evil:latest\nEOF\n', ["alpine", "evil:latest"]),
    ("a << inside a word is no heredoc", "FROM alpine\nRUN cat x<<EOF\nFROM evil:latest\nEOF\n", ["alpine", "evil:latest"]),
    ("heredoc only for RUN/COPY/ADD", "FROM alpine\nLABEL x=<<EOF\nFROM evil:latest\nEOF\n", ["alpine", "evil:latest"]),
    ("JSON form takes no heredoc", 'FROM alpine\nRUN ["sh", "-c", "<<EOF"]\nFROM evil:latest\nEOF\n', ["alpine", "evil:latest"]),
    ("heredoc names are unquoted", "FROM alpine\nRUN <<'EOF'\nFROM evil:latest\nEOF\nFROM busybox\n", ["alpine", "busybox"]),
    ("<<- strips tabs from the terminator", "FROM alpine\nRUN <<-EOF\nFROM evil:latest\n\t\tEOF\nFROM busybox\n", ["alpine", "busybox"]),
    ("ONBUILD RUN takes heredocs", "FROM alpine\nONBUILD RUN <<EOF\nFROM evil:latest\nEOF\nFROM busybox\n", ["alpine", "busybox"]),
    ("a directive after an instruction is a comment", "FROM alpine\n# escape=`\nFROM busybox \\\n  AS b\n", ["alpine", "busybox"]),
    ("a blank line ends the directives", "\n# escape=`\nFROM busybox \\\n  AS b\n", ["busybox"]),
    ("comment lines inside a continuation are dropped", "FROM \\\n  # FROM evil\n  alpine\n", ["alpine"]),
    ("CRLF", "FROM alpine:3 AS a\r\nFROM a\r\n", ["alpine:3", "a"]),
    ("byte-order mark", "\ufeffFROM alpine\n", ["alpine"]),
])
def test_lines_are_split_as_buildkit_splits_them(what: str, text: str, bases: list[str] | None) -> None:
    try:
        stages = Dockerfile.parse(text).stages
    except EvidenceError:
        assert bases is None, what  # BuildKit refuses it too: FROM with the wrong number of arguments
        return
    assert bases is not None, what
    assert [stage.base for stage in stages] == bases, what


@pytest.mark.parametrize("text", [
    "# escape=`\n# escape=\\\nFROM alpine\n",
    "FROM alpine\nRUN <<EOF\necho never ends\n",
    "FROM alpine AS\n",
    "FROM alpine extra\n",
])
def test_what_buildkit_refuses_is_refused(text: str) -> None:
    with pytest.raises(EvidenceError):
        Dockerfile.parse(text)

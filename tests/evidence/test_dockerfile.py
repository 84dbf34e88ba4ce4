"""Reading FROM lines: ARG substitution, aliases, directives, continuations, heredocs."""

from __future__ import annotations

import pytest

from gate.errors import EvidenceError
from gate.evidence import Dockerfile
from gate.evidence._dockerfile import expand

DIGEST = "sha256:" + "a" * 64

# (case, Dockerfile text, build args, [(base, name, platform, line_no)])
CASES = [
    ("tag only", "FROM golang:1.22\n", {}, [("golang:1.22", None, None, 1)]),
    ("pinned literally", f"FROM golang:1.22@{DIGEST} AS builder\n", {}, [(f"golang:1.22@{DIGEST}", "builder", None, 1)]),
    ("pinned via ARG default", f"ARG GO=golang:1.22@{DIGEST}\nFROM ${{GO}}\n", {}, [(f"golang:1.22@{DIGEST}", None, None, 2)]),
    ("build-arg override unpins", f"ARG GO=golang:1.22@{DIGEST}\nFROM $GO\n", {"GO": "golang:1.23"}, [("golang:1.23", None, None, 2)]),
    ("override of an undeclared ARG is ignored", "FROM golang:${V}\n", {"V": "1.22"}, [("golang:", None, None, 1)]),
    ("default operator", "ARG V\nFROM golang:${V:-1.21}\n", {}, [("golang:1.21", None, None, 2)]),
    ("ARG referencing an earlier ARG", "ARG REG=docker.io\nARG IMG=${REG}/library/alpine\nFROM $IMG:3\n", {}, [("docker.io/library/alpine:3", None, None, 3)]),
    ("ARG after FROM is not global", "FROM alpine\nARG X=busybox\nFROM ${X:-scratch}\n", {}, [("alpine", None, None, 1), ("scratch", None, None, 3)]),
    (
        "multi-stage with aliases",
        "FROM golang:1.22 AS Build\nRUN go build\nFROM build AS test\nFROM gcr.io/distroless/static\nCOPY --from=build /app /app\n",
        {},
        [("golang:1.22", "build", None, 1), ("build", "test", None, 3), ("gcr.io/distroless/static", None, None, 4)],
    ),
    ("scratch", "FROM scratch\nCOPY app /\n", {}, [("scratch", None, None, 1)]),
    (
        "--platform",
        "FROM --platform=$BUILDPLATFORM golang:1.22 AS xx\n",
        {},
        [("golang:1.22", "xx", "$BUILDPLATFORM", 1)],
    ),
    ("lowercase instructions", "from alpine:3.19 as base\narg X\n", {}, [("alpine:3.19", "base", None, 1)]),
    ("continuation lines", "FROM \\\n  golang:1.22 \\\n  AS builder\n", {}, [("golang:1.22", "builder", None, 1)]),
    ("comments inside a continuation", "FROM \\\n# a comment\n\n  alpine:3 AS a\n", {}, [("alpine:3", "a", None, 1)]),
    ("escape directive", "# escape=`\nFROM `\n  alpine:3\n", {}, [("alpine:3", None, None, 2)]),
    ("leading comments and blank lines", "# a comment\n\n# syntax=docker/dockerfile:1\nFROM alpine\n", {}, [("alpine", None, None, 4)]),
    ("heredoc body is not an instruction", "FROM alpine\nRUN <<EOF\nFROM evil:latest\nEOF\nFROM busybox\n", {}, [("alpine", None, None, 1), ("busybox", None, None, 5)]),
    ("here-string is no heredoc", 'FROM alpine\nRUN cat <<< "word"\nFROM busybox\nword\n', {}, [("alpine", None, None, 1), ("busybox", None, None, 3)]),
    ("quoted ARG default", 'ARG IMG="alpine:3.20"\nFROM ${IMG}\n', {}, [("alpine:3.20", None, None, 2)]),
]


@pytest.mark.parametrize(("text", "args", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_from_lines(text: str, args: dict[str, str], expected: list[tuple]) -> None:
    stages = Dockerfile.parse(text, args).stages
    assert [(s.base, s.name, s.platform, s.line_no) for s in stages] == expected
    assert [s.index for s in stages] == list(range(len(expected)))


def test_syntax_directive_is_read_only_at_the_top() -> None:
    assert Dockerfile.parse("# syntax=docker/dockerfile:1.7\nFROM alpine\n").syntax == "docker/dockerfile:1.7"
    assert Dockerfile.parse("FROM alpine\n# syntax=docker/dockerfile:1.7\n").syntax is None


def test_line_keeps_the_instruction_as_written() -> None:
    stage = Dockerfile.parse("ARG V=1.22\nFROM golang:${V} AS builder\n").stages[0]
    assert stage.text == "FROM golang:${V} AS builder"
    assert stage.base == "golang:1.22"


@pytest.mark.parametrize("text", ["", "# only a comment\n", "RUN echo hi\n"])
def test_no_from_is_an_evidence_error(text: str) -> None:
    with pytest.raises(EvidenceError, match="no FROM"):
        Dockerfile.parse(text)


def test_from_without_image_is_an_evidence_error() -> None:
    with pytest.raises(EvidenceError, match="FROM requires either one or three arguments"):
        Dockerfile.parse("FROM --platform=linux/amd64\n")


@pytest.mark.parametrize(
    ("word", "variables", "expected"),
    [
        ("${A}", {"A": "x"}, "x"),
        ("$A/b", {"A": "x"}, "x/b"),
        ("${A:-d}", {"A": ""}, "d"),
        ("${A-d}", {"A": ""}, ""),
        ("${A-d}", {}, "d"),
        ("${A:+alt}", {"A": "x"}, "alt"),
        ("${A:+alt}", {"A": ""}, ""),
        ("${A+alt}", {"A": ""}, "alt"),
        ("${UNSET}", {}, ""),
        ("${A:-${B}}", {"B": "nested"}, "nested"),
    ],
)
def test_expand(word: str, variables: dict, expected: str) -> None:
    assert expand(word, variables) == expected

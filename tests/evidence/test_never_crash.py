"""Hostile evidence is an EvidenceError (or LimitExceeded), never another exception.

Deterministic mutations of the real vectors (field values swapped for nulls, numbers, lists,
objects, broken digests and ``${``) and random Dockerfile texts; any non-``GateError`` escaping a
parser is a bug that would abort an evaluation instead of reporting it.
"""

from __future__ import annotations

import dataclasses
import json
import random
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from gate.errors import GateError
from gate.evidence import Provenance, Sbom, Statement, VulnScan, pinning
from gate.evidence._provenance import Material
from tests.evidence._vectors import ATTESTATIONS, FORMATS

DOCUMENTS = [
    FORMATS / "buildkit-provenance-slsa0.2-max.json",
    FORMATS / "buildkit-provenance-slsa1-max.docs.json",
    FORMATS / "buildkit-sbom-spdx-intoto.json",
    FORMATS / "cyclonedx-sbom-1.3-example.json",
    FORMATS / "slsa-provenance-v1-gha-workflow-example.json",
    ATTESTATIONS / "slsa-github-generator" / "attestation1.intoto",
]
VALUES: list[Any] = [None, 0, -1, 1.5, True, "", "x", "${", [], {}, [None], {"a": None}, "sha256:zz", "RlJPTSB4Cg=="]
PARSERS: list[Callable[[bytes], object]] = [
    lambda data: pinning(Provenance.from_bytes(data)),
    Sbom.from_bytes,
    lambda data: Sbom.from_statement(Statement.from_bytes(data)),
    VulnScan.from_bytes,
]


def _paths(value: Any, path: tuple = ()) -> Iterator[tuple]:
    if path:
        yield path
    children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in children:
        yield from _paths(child, (*path, key))


def _mutants(document: Any, rnd: random.Random, count: int) -> Iterator[bytes]:
    paths = list(_paths(document))
    for _ in range(count):
        mutant = json.loads(json.dumps(document))
        for _ in range(rnd.randint(1, 3)):
            path = rnd.choice(paths)
            try:
                parent = mutant
                for key in path[:-1]:
                    parent = parent[key]
                parent[path[-1]] = rnd.choice(VALUES)
            except (KeyError, IndexError, TypeError):
                continue  # an earlier mutation removed this path
        yield json.dumps(mutant).encode()


def _single_mutants(document: Any, max_depth: int) -> Iterator[bytes]:
    """Every field down to ``max_depth`` replaced by every hostile value, one at a time."""
    for path in _paths(document):
        if len(path) > max_depth:
            continue
        for value in VALUES:
            mutant = json.loads(json.dumps(document))
            parent = mutant
            for key in path[:-1]:
                parent = parent[key]
            parent[path[-1]] = value
            yield json.dumps(mutant).encode()


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: p.name)
def test_mutated_vectors_never_crash(path) -> None:
    document = json.loads(path.read_text())
    rnd = random.Random(path.name)
    for data in [*_single_mutants(document, 3), *_mutants(document, rnd, 150)]:
        for parse in PARSERS:
            try:
                parse(data)
            except GateError:
                pass


def test_random_dockerfiles_never_crash() -> None:
    tokens = ["FROM ", "from ", "ARG ", "AS ", "${", "}", "$", "A", "B=", "=", ":-", ":+", "\\\n", "`\n", "\n", "# syntax=x\n",
              "# escape=`\n", '"', "'", "<<EOF\n", "EOF\n", "RUN ", "scratch", "golang:1.22", "@sha256:" + "a" * 64, "--platform=$X ", " ", "#"]
    rnd = random.Random(7)
    base = Provenance(
        "https://slsa.dev/provenance/v0.2", (), None, None, (Material("pkg:docker/golang@1.22", "sha256:" + "b" * 64),), {"A": "x"}, (), None, None, None
    )
    for _ in range(3000):
        text = "".join(rnd.choice(tokens) for _ in range(rnd.randint(1, 40)))
        try:
            pinning(dataclasses.replace(base, dockerfile=text))
        except GateError:
            pass

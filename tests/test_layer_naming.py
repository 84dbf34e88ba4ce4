"""secret.file on real layers whose headers a naive tar reader names differently from Go's
archive/tar (what containerd unpacks with): gate finds what the runtime would unpack, or refuses."""

from __future__ import annotations

import asyncio

import pytest

from gate.engine import Engine
from gate.report import ImageResult
from tests.scan.test_tar_differential import END, SECRET, SMUGGLED, long_name, member, pax
from tests.support.gate_config import config_for
from tests.support.images import ImageBuilder
from tests.support.push import sha256_digest
from tests.support.registry_server import RegistryServer
from tests.test_cli import EVIDENCE_OFF, PASSWD, RECENT

TAR = "application/vnd.oci.image.layer.v1.tar"


def _judge(registry: RegistryServer, repo: str, layer: bytes) -> ImageResult:
    image = ImageBuilder().layer({"etc/passwd": PASSWD}).raw_layer(layer, TAR, sha256_digest(layer), created_by="COPY . /")
    ref = image.config(user="10001", created=RECENT).push(registry, f"{repo}:1").ref

    async def run() -> ImageResult:
        async with Engine(config_for(registry, rules=EVIDENCE_OFF)) as engine:
            return await engine.check(ref)

    return asyncio.run(run())


def _rules(result: ImageResult) -> list[str]:
    return sorted(violation.rule for violation in result.violations)


@pytest.mark.parametrize("layer", [
    member(b"app/", SMUGGLED, b"\0") + END,  # Go: a directory with no data, so the .npmrc inside is a member
    member(b"config.json", b'{"auths": {"r.example": {"auth": "dXNlcjpodW50ZXIy"}}}', magic="gnu", prefix=b"root/.docker") + END,
    pax({b"path": b"decoy"}) + pax({b"path": b"root/.npmrc"}) + member(b"x", SECRET) + END,
    member(b"l", SMUGGLED, b"2", link=b"t") + END,
], ids=["type-nul-dir", "gnu-prefix", "last-pax-wins", "link-size"])
def test_hidden_credential_files_are_found(layer: bytes, registry: RegistryServer, repo: str) -> None:
    result = _judge(registry, repo, layer)
    assert result.decision == "deny"
    paths = {v.details.get("path") for v in result.violations if v.rule == "secret.file"}
    assert paths & {"root/.npmrc", "root/.docker/config.json"}, "reported under the name the runtime unpacks"


@pytest.mark.parametrize("layer", [
    pax({b"path": b"decoy"}) + long_name(b"root/.npmrc") + member(b"x", SECRET) + END,
    pax({b"GNU.sparse.major": b"1", b"GNU.sparse.minor": b"0", b"GNU.sparse.name": b"root/.npmrc"}) + member(b"decoy", b"1\n0\n0\n".ljust(512, b"\0")) + END,
], ids=["pax-and-gnu-name", "pax-sparse"])
def test_ambiguous_layers_are_refused(layer: bytes, registry: RegistryServer, repo: str) -> None:
    result = _judge(registry, repo, layer)
    assert (result.decision, _rules(result)) == ("deny", ["evaluation.error"])


def test_the_honest_equivalent_is_allowed(registry: RegistryServer, repo: str) -> None:
    layer = member(b"app/", b"", b"5") + member(b"app/server", b"#!/bin/sh\n") + pax({b"path": b"app/" + b"long" * 40}) + member(b"x", b"ok\n") + END
    result = _judge(registry, repo, layer)
    assert (result.decision, _rules(result)) == ("allow", [])

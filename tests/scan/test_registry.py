"""The scanner on the test registry, through the engine: images pushed with each leak from issue 4
are judged with the right rule IDs (and platforms), and a clean image draws none of them."""

from __future__ import annotations

import asyncio

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from gate.config import Config
from gate.engine import Engine
from gate.report import ImageResult
from tests.scan._tokens import GITHUB, NPM, PASSWORD
from tests.support.artifacts import push_index
from tests.support.images import ImageBuilder
from tests.support.layers import Dir
from tests.support.registry_server import RegistryServer

SCAN_RULES = ("secret.", "content.", "user.root")
PASSWD = "root:x:0:0:root:/root:/bin/sh\ntoor:x:0:0::/root:/bin/sh\napp:x:10001:10001::/app:/bin/sh\n"
BASE = {"etc/": Dir(), "etc/passwd": PASSWD, "usr/bin/apt-get": b"\x7fELF\0", "app/": Dir(), "app/main.py": "print(1)\n"}


def _check(config: Config, reference: str) -> ImageResult:
    async def run() -> ImageResult:
        async with Engine(config) as engine:
            return await engine.check(reference)

    return asyncio.run(run())


def _scan_violations(result: ImageResult) -> set[tuple[str, str | None, str | None]]:
    """(rule, what, platform) of scan findings; the platform only for a platform image of an index."""
    return {(v.rule, v.details.get("path") or v.details.get("name") or v.details.get("user"), v.platform if v.platform_digest != result.digest else None)
            for v in result.violations if v.rule.startswith(SCAN_RULES)}


def _key() -> str:
    return ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()).decode()


def test_every_leak_is_reported(registry: RegistryServer, gate_config: Config, repo: str) -> None:
    image = ImageBuilder()
    image.layer(BASE, created_by="COPY rootfs / # buildkit")
    image.step(f"ARG GITHUB_TOKEN={GITHUB}")
    image.layer({"root/.npmrc": f"//registry.npmjs.org/:_authToken={NPM}\n"}, created_by="COPY .npmrc /root/ # buildkit")
    image.layer(whiteouts=["root/.npmrc"], created_by="RUN rm /root/.npmrc # buildkit")
    image.layer({"app/.git/HEAD": "ref: refs/heads/main\n", "app/config.yaml": f"github_token: {GITHUB}\n",
                 "home/app/.ssh/id_ed25519": _key(), "usr/bin/gcc-12": b"\x7fELF\0"}, created_by="COPY . /app # buildkit")
    image.config(user="0:0", env={"DB_PASSWORD": PASSWORD, "TOKEN_FILE": "/run/secrets/token"})
    pushed = image.push(registry, f"{repo}:leaky")
    result = _check(gate_config, pushed.ref)
    assert _scan_violations(result) >= {
        ("secret.build-arg", "GITHUB_TOKEN", None),
        ("secret.env", "DB_PASSWORD", None),
        ("secret.deleted-file", "root/.npmrc", None),
        ("secret.file", "app/config.yaml", None),
        ("secret.file", "home/app/.ssh/id_ed25519", None),
        ("content.source", "app/.git", None),
        ("content.toolchain", "usr/bin/gcc-12", None),
    }
    assert any(v.rule == "user.root" for v in result.violations)
    assert GITHUB not in str(result.to_json()) and NPM not in str(result.to_json()) and PASSWORD not in str(result.to_json())


def test_clean_image_draws_no_scan_rule(registry: RegistryServer, gate_config: Config, repo: str) -> None:
    image = ImageBuilder().layer(BASE).layer({"app/.env.example": "API_KEY=${API_KEY}\n"})
    image.step("ARG TOKEN_FILE=/run/secrets/token").config(user="app", env={"GPG_KEY": "A035C8C19219BA821ECEA86B64E628F8D684696D"})
    result = _check(gate_config, image.push(registry, f"{repo}:clean").ref)
    assert _scan_violations(result) == set()


def test_multi_arch_where_only_one_platform_leaks(registry: RegistryServer, gate_config: Config, repo: str) -> None:
    clean = ImageBuilder(platform="linux/amd64").layer(BASE).config(user="app")
    leaky = ImageBuilder(platform="linux/arm64").layer(BASE).layer({"root/.npmrc": f"//r/:_authToken={NPM}\n"})
    leaky.layer(whiteouts=["root/.npmrc"]).config(user="toor")
    index = push_index(registry, f"{repo}:multi", [clean, leaky])
    result = _check(gate_config, index.ref)
    assert _scan_violations(result) == {
        ("secret.deleted-file", "root/.npmrc", "linux/arm64"),
        ("user.root", "toor", "linux/arm64"),
    }

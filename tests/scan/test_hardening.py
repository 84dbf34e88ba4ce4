"""Leaks the scanner used to miss, each built as a real image in the real registry and judged by the
engine, next to its honest equivalent that must stay clean."""

from __future__ import annotations

import asyncio
import io
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from gate.config import Config
from gate.engine import Engine
from gate.report import ImageResult
from gate.scan._nested import MAX_RATIO, members
from tests.scan._tokens import AWS, GITHUB, PASSWORD
from tests.support.gate_config import config_for
from tests.support.images import ImageBuilder
from tests.support.layers import Dir
from tests.support.registry_server import RegistryServer

PASSWD = "root:x:0:0:root:/root:/bin/sh\napp:x:10001:10001::/app:/bin/sh\n"
BASE: dict[str, Any] = {"etc/": Dir(), "etc/passwd": PASSWD, "app/": Dir(), "app/main.py": "print(1)\n"}
KUBECONFIG = "apiVersion: v1\nkind: Config\nusers:\n- name: admin\n  user:\n    client-key-data: {key}\n"


def _pem_key() -> str:
    return ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()


def _judge(registry: RegistryServer, config: Config, tag: str, image: ImageBuilder) -> set[tuple[str, str | None]]:
    pushed = image.push(registry, f"hardening/scan:{tag}")

    async def run() -> ImageResult:
        async with Engine(config) as engine:
            return await engine.check(pushed.ref)

    result = asyncio.run(run())
    assert not [v for v in result.violations if v.rule == "evaluation.error"], result.violations
    return {(v.rule, v.details.get("path") or v.details.get("name")) for v in result.violations if v.rule.startswith("secret.")}


def _files(files: dict[str, Any]) -> ImageBuilder:
    return ImageBuilder().layer(BASE).layer(files).config(user="10001")


CREDENTIAL_FILES = [
    ("pgpass", "root/.pgpass", "db.internal:5432:*:app:" + PASSWORD + "\n", "db.internal:5432:*:app:${PGPASSWORD}\n"),
    ("vault", "root/.vault-token", "hvs." + GITHUB[4:] + "\n", ""),
    ("kubeadm", "etc/kubernetes/admin.conf", KUBECONFIG.format(key="LS0tLS1CRUdJTiBFQyBQUklWQVRFIEtFWS0tLS0tCk1IY0NBUUVFSUlW"),
     KUBECONFIG.format(key="${CLIENT_KEY_DATA}")),
]


@pytest.mark.parametrize(("name", "path", "leaky", "honest"), CREDENTIAL_FILES, ids=[c[0] for c in CREDENTIAL_FILES])
def test_credential_files(registry: RegistryServer, gate_config: Config, name: str, path: str, leaky: str, honest: str) -> None:
    assert ("secret.file", path) in _judge(registry, gate_config, f"{name}-leaky", _files({path: leaky}))
    assert _judge(registry, gate_config, f"{name}-honest", _files({path: honest})) == set()


def test_tokens_in_the_command_and_history_comments(registry: RegistryServer, gate_config: Config) -> None:
    leaky = _files({"app/run": "#!/bin/sh\n"}).config(entrypoint=["/app/run", f"--token={GITHUB}"], cmd=["--aws-key", AWS])
    leaky.step("LABEL stage=final", comment=f"deployed with {GITHUB[:-1]}X")
    found = _judge(registry, gate_config, "command-leaky", leaky)
    assert {("secret.env", "config.Entrypoint"), ("secret.env", "config.Cmd"), ("secret.build-arg", "history comment")} <= found
    honest = _files({"app/run": "#!/bin/sh\n"}).config(entrypoint=["/app/run", "--token-file=/run/secrets/token"], cmd=["serve"])
    honest.step("LABEL stage=final", comment="buildkit.dockerfile.v0")
    assert _judge(registry, gate_config, "command-honest", honest) == set()


def test_prefixed_tokens_count_inside_third_party_trees(registry: RegistryServer, gate_config: Config) -> None:
    leaky = _files({"usr/lib/python3.12/site-packages/app_settings.py": f'GITHUB = "{GITHUB}"\n',
                    "app/vendor/lib/config.js": f'const key = "{AWS}";\n',
                    "usr/share/doc/app/README": f"export GH_TOKEN={GITHUB[:-2]}Zz\n"})
    assert {("secret.file", "usr/lib/python3.12/site-packages/app_settings.py"), ("secret.file", "app/vendor/lib/config.js"),
            ("secret.file", "usr/share/doc/app/README")} <= _judge(registry, gate_config, "vendored-leaky", leaky)
    honest = _files({"usr/lib/python3.12/site-packages/requests/auth.py": 'password = "example-password-123"\n',
                     "app/vendor/lib/config.js": "const apiKey = process.env.API_KEY_VALUE_1234;\n"})
    assert _judge(registry, gate_config, "vendored-honest", honest) == set()


def test_prefixed_tokens_and_keys_inside_binary_files(registry: RegistryServer, gate_config: Config) -> None:
    elf = b"\x7fELF\x02\x01\x01\0" + b"\0" * 56
    leaky = _files({"app/server": elf + b"\0token\0" + GITHUB.encode() + b"\0",
                    "app/cache.db": b"SQLite format 3\0" + b"\0" * 80 + _pem_key().encode() + b"\0"})
    assert {("secret.file", "app/server"), ("secret.file", "app/cache.db")} <= _judge(registry, gate_config, "binary-leaky", leaky)
    honest = _files({"app/server": elf + b"\0password=Zk3jd8Hs9dk2LmQ\0-----BEGIN PRIVATE KEY-----\0"})
    assert _judge(registry, gate_config, "binary-honest", honest) == set()


def test_the_disk_cache_never_reuses_a_scan_shaped_by_smaller_limits(registry: RegistryServer, tmp_path: Path) -> None:
    """A first run with a small ``file_bytes`` skips the big file's content; a second run with the
    default must read it, not reuse the first run's (clean) layer scan from the same cache dir."""
    big = {"app/settings.txt": "x" * 4096 + f"\ntoken = {GITHUB}\n"}
    small_limits = config_for(registry, scan={"cache_dir": str(tmp_path)}, limits={"file_bytes": 1024})
    default_limits = config_for(registry, scan={"cache_dir": str(tmp_path)})
    assert _judge(registry, small_limits, "cache-shaped", _files(big)) == set()
    assert ("secret.file", "app/settings.txt") in _judge(registry, default_limits, "cache-shaped", _files(big))
    assert len(list(tmp_path.glob("layer-*.json"))) == 4  # two layers under each set of limits


def test_a_secret_file_replaced_by_a_directory_is_a_deleted_file(registry: RegistryServer, gate_config: Config) -> None:
    npmrc = f"//registry.npmjs.org/:_authToken={GITHUB}\n"
    replaced = ImageBuilder().layer(BASE).layer({"app/.npmrc": npmrc}).layer({"app/.npmrc/": Dir(), "app/.npmrc/keep": "x\n"})
    found = _judge(registry, gate_config, "dir-over-file", replaced.config(user="10001"))
    assert found == {("secret.deleted-file", "app/.npmrc")}
    # A directory over a directory merges: a secret inside it is still there.
    merged = ImageBuilder().layer(BASE).layer({"app/conf/": Dir(), "app/conf/.npmrc": npmrc}).layer({"app/conf/": Dir(), "app/conf/other": "x\n"})
    assert _judge(registry, gate_config, "dir-over-dir", merged.config(user="10001")) == {("secret.file", "app/conf/.npmrc")}


def _zip(files: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _tgz(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_secrets_inside_nested_archives(registry: RegistryServer, gate_config: Config) -> None:
    npmrc = f"//registry.npmjs.org/:_authToken={GITHUB}\n".encode()
    inner = _tgz({"deploy/.npmrc": npmrc})
    jar = _zip({"META-INF/MANIFEST.MF": b"Manifest-Version: 1.0\n", "BOOT-INF/classes/application.properties": f"aws.key={AWS}\n".encode(),
                "BOOT-INF/lib/tools.tar.gz": inner})
    wheel = _zip({"acme/settings.py": f'TOKEN = "{GITHUB}"\n'.encode()})
    leaky = _files({"app/app.jar": jar, "app/dist/acme-1.0-py3-none-any.whl": wheel, "app/bundle.tgz": _tgz({"root/.pgpass": b"db:5432:*:app:" + PASSWORD.encode() + b"\n"})})
    assert _judge(registry, gate_config, "nested-leaky", leaky) == {
        ("secret.file", "app/app.jar!/BOOT-INF/classes/application.properties"),
        ("secret.file", "app/app.jar!/BOOT-INF/lib/tools.tar.gz!/deploy/.npmrc"),
        ("secret.file", "app/dist/acme-1.0-py3-none-any.whl!/acme/settings.py"),
        ("secret.file", "app/bundle.tgz!/root/.pgpass"),
    }
    removed = _files({"app/app.jar": jar}).layer(whiteouts=["app/app.jar"])
    assert ("secret.deleted-file", "app/app.jar!/BOOT-INF/classes/application.properties") in _judge(registry, gate_config, "nested-deleted", removed)
    bomb = _zip({"zeros.txt": b"0" * (4 * 1024 * 1024) + f"\ntoken={GITHUB}\n".encode()})  # ~4000:1, skipped as a bomb
    honest = _files({"app/app.jar": _zip({"META-INF/MANIFEST.MF": b"Manifest-Version: 1.0\n", "app.properties": b"server.port=8080\n"}),
                     "app/bomb.zip": bomb, "app/broken.jar": b"PK\x03\x04 not really a zip"})
    assert _judge(registry, gate_config, "nested-honest", honest) == set()


def test_archive_bounds_stop_bombs_and_deep_nesting() -> None:
    zeros = 64 * 1024 * 1024
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:  # 64 MiB of zeros, then a member after it
        for name, size in (("zeros.bin", zeros), ("after.txt", 4)):
            info = tarfile.TarInfo(name)
            info.size = size
            archive.addfile(info, io.BytesIO(b"\0" * size))
    bomb = buffer.getvalue()
    assert zeros > MAX_RATIO * len(bomb)
    assert list(members("app/bomb.tgz", bomb, 8 * 1024 * 1024)) == []  # stopped before inflating past the ratio
    level3 = _zip({"deep/.npmrc": b"//r/:_authToken=x\n"})
    level2 = _zip({"lib/level3.jar": level3})
    found = [name for name, _ in members("app/level1.jar", _zip({"lib/level2.jar": level2}), 1024 * 1024)]
    assert found == ["app/level1.jar!/lib/level2.jar", "app/level1.jar!/lib/level2.jar!/lib/level3.jar"]

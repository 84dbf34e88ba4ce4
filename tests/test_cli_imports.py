"""A `gate check image` run loads only what it uses, so a cached check answers in a blink.

The webhook (FastAPI, uvicorn), the cluster client, Redis, the OPA client, sigstore, cryptography
and the SBOM and JSON-schema validators each cost tens of milliseconds to import, and gate's own
parsers of signatures, provenance and SBOMs a few each. An image without signatures or SBOMs,
judged without ``cache.url``, ``--attest`` or trust keys, needs none of them.
Each check here runs in a fresh interpreter, as a shell starts ``gate``, and reports the modules it
ended with: an import moved back to module level anywhere on that path fails these tests.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from gate.cli import main
from tests.support.images import ImageBuilder
from tests.support.registry_server import RegistryServer

ROOT = Path(__file__).resolve().parents[1]
NOT_FOR_A_PLAIN_CHECK = (
    "fastapi", "uvicorn", "starlette", "kubernetes", "redis", "opa_client", "sigstore", "sigstore_models", "cryptography",
    "cyclonedx", "jsonschema", "lxml", "univers", "click", "pygments", "rich", "gate.admission", "gate.audit", "gate.attest",
    # gate's own readers of what the image does not have: signatures, provenance, SBOMs, summaries, a
    # shared cache, an index, a registry's 401 challenge.
    "gate.verify._bundle", "gate.verify._cosign_layers", "gate.verify._statement", "gate.evidence._pinning", "gate.evidence._dockerfile",
    "gate.evidence._provenance", "gate.evidence._sbom", "gate.evidence._vuln", "gate.engine._summary", "gate.engine._shared",
    "gate.shared_cache", "gate.engine._selection", "gate.registry._challenge",
    "importlib.metadata",  # installed packages' metadata: no plugin is looked for, no version read from it
)
# Runs the CLI's entry point on the process's command line (as the console script does), then
# writes the names in sys.modules to the file named first.
_REPORTING_GATE = (
    "import json, sys\n"
    "from gate.cli import main\n"
    "listing = sys.argv.pop(1)\n"
    "code = main()\n"
    "open(listing, 'w').write(json.dumps(sorted(sys.modules)))\n"
    "sys.exit(code)\n"
)


def _modules_after(tmp_path: Path, *args: str) -> set[str]:
    """The modules a ``gate`` process had loaded when it finished ``args`` (which must reach a verdict)."""
    listing = tmp_path / "modules.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    done = subprocess.run(
        [sys.executable, "-c", _REPORTING_GATE, str(listing), *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode in (0, 1), done.stderr  # judged (allowed or denied), not stopped by an error
    return set(json.loads(listing.read_text()))


def _loaded(modules: set[str], packages: Iterable[str]) -> list[str]:
    return sorted(name for name in modules if any(name == package or name.startswith(package + ".") for package in packages))


@pytest.fixture
def plain_image(registry: RegistryServer, repo: str) -> str:
    """An unsigned image with no SBOM: a few files in two layers."""
    image = ImageBuilder().layer({"etc/os-release": "ID=plain\n"}).layer({"app/main.py": "print('hello')\n"}).config(user="10001")
    return image.push(registry, f"{repo}:1").ref


@pytest.fixture
def config_file(tmp_path: Path, registry: RegistryServer) -> Path:
    path = tmp_path / "gate.yaml"
    path.write_text(yaml.safe_dump({"registries": {"insecure": [registry.host]}}))
    return path


def test_a_cached_check_of_a_plain_image_loads_no_webhook_cluster_cache_or_signature_library(
    tmp_path: Path, plain_image: str, config_file: Path
) -> None:
    check = ("check", "image", "--config", str(config_file), plain_image)
    cold = _modules_after(tmp_path, *check)
    cached = _modules_after(tmp_path, *check)
    assert _loaded(cold, NOT_FOR_A_PLAIN_CHECK) == []
    assert _loaded(cached, NOT_FOR_A_PLAIN_CHECK) == []
    tar_reader = ("gate.scan._layer", "gate.scan._tar", "gate.scan._files", "gate.scan._leftovers", "gate.scan._inflate", "gate.scan._nested")
    assert _loaded(cached, tar_reader) == []  # every layer came from the cache
    assert _loaded(cold, tar_reader) == sorted(tar_reader)
    assert {"gate.engine", "gate.policy", "gate.scan", "regopy", "hyperscan"} <= cached  # the run did judge the image


def test_a_trust_key_loads_cryptography_where_it_is_read(tmp_path: Path, plain_image: str, config_file: Path) -> None:
    key = tmp_path / "cosign.pub"
    public = ec.generate_private_key(ec.SECP256R1()).public_key()
    key.write_bytes(public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    modules = _modules_after(tmp_path, "check", "image", "--config", str(config_file), "--key", str(key), plain_image)
    assert "cryptography" in modules  # the key was read at start-up, as --key promises
    assert _loaded(modules, ("fastapi", "uvicorn", "kubernetes", "redis", "opa_client", "cyclonedx", "jsonschema")) == []


@pytest.mark.parametrize("collecting", [True, False])
def test_an_in_process_check_leaves_the_collector_as_it_found_it(
    collecting: bool, tmp_path: Path, plain_image: str, config_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The start-up pause ends with the run, and only the process's own run (argv None) freezes
    objects: a caller passing argv keeps everything collectable."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    frozen = gc.get_freeze_count()
    if not collecting:
        gc.disable()
    try:
        assert main(["check", "image", "--config", str(config_file), plain_image]) in (0, 1)
        assert gc.isenabled() is collecting
    finally:
        gc.enable()
    assert gc.get_freeze_count() == frozen
    assert plain_image in capsys.readouterr().out

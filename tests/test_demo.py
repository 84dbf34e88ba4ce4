"""The demo's building blocks (``scripts/demo.py``), judged on the session registry: what `make demo`
promises, the safe image allowed with nothing to report and the unsafe one denied for each of its
mistakes, is checked by the suite too, without starting a second registry or a subprocess."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

from gate.cli import main
from tests.support.registry_server import RegistryServer

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "demo.py"


@pytest.fixture(scope="module")
def demo() -> ModuleType:
    """``scripts/demo.py`` imported as a module (scripts/ is no package)."""
    spec = importlib.util.spec_from_file_location("gate_demo", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


def judge(capsys: pytest.CaptureFixture[str], config: Path, reference: str) -> tuple[int, dict]:
    code = main(["check", "image", reference, "--config", str(config), "--output", "json"])
    (result,) = json.loads(capsys.readouterr().out)["results"]
    return code, result


def test_safe_is_allowed_and_unsafe_denied_for_each_mistake(
    demo: ModuleType, registry: RegistryServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = demo.write_config(tmp_path, registry)
    safe = demo.push_safe(registry, demo.Trust.create(tmp_path))
    unsafe = demo.push_unsafe(registry)

    code, result = judge(capsys, config, safe.ref)
    assert (code, result["violations"]) == (0, [])
    assert sorted(result["evidence"]["platforms"]) == list(demo.PLATFORMS)

    code, result = judge(capsys, config, unsafe.ref)
    assert code == 1
    assert {v["rule"] for v in result["violations"]} == {
        "user.root", "secret.build-arg", "secret.deleted-file", "builder.unpinned", "content.toolchain",
        "content.source", "signature.missing", "provenance.unverified", "sbom.missing", "attestation.missing",
    }
    assert demo.NPM_TOKEN not in json.dumps(result)


@pytest.mark.parametrize(
    ("safe", "unsafe", "ok", "says"),
    [(0, 1, True, "as expected"), (1, 1, False, "safe image was not allowed (exit 1"), (0, 2, False, "unsafe image was not denied by policy (exit 2")],
)
def test_verdict(demo: ModuleType, safe: int, unsafe: int, ok: bool, says: str) -> None:
    assert demo.verdict(safe, unsafe)[0] is ok
    assert says in demo.verdict(safe, unsafe)[1]

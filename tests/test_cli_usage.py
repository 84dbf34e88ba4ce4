"""Small things a CLI user meets: flag suggestions, the run deadline, clean error paths."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from gate.cli import main
from tests.registry.lying_proxy_double import LyingRegistryProxyDouble
from tests.support.images import ImageBuilder
from tests.support.registry_server import RegistryServer, free_port

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("flag", "meant"),
    [("--format", "--output"), ("--outptu", "--output"), ("--platfrom", "--platform"), ("--pubkey", "--key"),
     ("--offline", None)],
)
def test_a_wrong_flag_names_the_right_one(flag: str, meant: str | None, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["check", "image", "example.com/a:1", flag, "json"])
    err = capsys.readouterr().err
    assert exited.value.code == 2 and f"unrecognized arguments: {flag}" in err
    assert (f"did you mean {meant}?" in err) if meant else "did you mean" not in err


def test_timeout_bounds_the_whole_run(lying_proxy: LyingRegistryProxyDouble, registry: RegistryServer, repo: str,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    ImageBuilder().layer({"app": "x"}).config(user="10001").push(registry, f"{repo}:1")
    lying_proxy.stall_seconds = 3.0
    argv = ["check", "image", f"{lying_proxy.host}/{repo}:1", "--insecure-registry", lying_proxy.host, "--output", "json", "--timeout", "0.5"]
    code = main(argv)
    (violation,) = json.loads(capsys.readouterr().out)["results"][0]["violations"]
    assert code == 2 and violation["rule"] == "evaluation.error"
    assert "timed out" in violation["message"]


def _cli(*argv: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONWARNINGS": "default", "DOCKER_CONFIG": str(tmp_path)}
    return subprocess.run([sys.executable, "-X", "dev", "-m", "gate.cli", *argv], capture_output=True, text=True, env=env, timeout=120, check=False)


def test_no_coroutine_left_unawaited_on_error_paths(registry: RegistryServer, tmp_path: Path) -> None:
    down = f"127.0.0.1:{free_port()}"
    config = tmp_path / "gate.yaml"
    config.write_text(yaml.safe_dump({"registries": {"insecure": [registry.host, down]}, "limits": {"retries": 0}}))
    bad_config = tmp_path / "bad.yaml"
    bad_config.write_text("trust: {keyless: [{issuer: x}]}\n")
    runs = [
        ("check", "image", "Not A Reference!!", "--config", str(config)),
        ("check", "image", f"{registry.host}/t/usage/missing:1", "--config", str(config)),
        ("check", "image", f"{down}/shop/api:1", "--config", str(config)),
        ("check", "image", f"{down}/shop/api:1", "--config", str(config), "--timeout", "0.01"),
        ("check", "image", "example.com/a:1", "--config", str(bad_config)),
        ("check", "image", "example.com/a:1", "--platform", "plan10/foo"),
        ("check", "manifest", str(tmp_path / "missing.yaml")),
        ("policy", "input", "Not A Reference!!"),
    ]
    for argv in runs:
        done = _cli(*argv, tmp_path=tmp_path)
        assert done.returncode == 2, (argv, done.stderr)
        assert "never awaited" not in done.stderr and "Traceback" not in done.stderr, (argv, done.stderr)

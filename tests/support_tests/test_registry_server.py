"""The registry fixture is a real, reachable, empty-by-default registry."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support.registry_server import RegistryServer, ServerStartError, start_registry


def test_registry_answers_v2(registry: RegistryServer) -> None:
    response = httpx.get(f"{registry.url}/v2/")
    assert response.status_code == 200
    assert response.headers["Docker-Distribution-Api-Version"] == "registry/2.0"
    assert registry.url == f"http://{registry.host}"


def test_registry_has_no_referrers_api(registry: RegistryServer) -> None:
    digest = "sha256:" + "0" * 64
    response = httpx.get(f"{registry.url}/v2/some/repo/referrers/{digest}")
    assert response.status_code == 404


def test_stop_ends_the_process_and_frees_the_port(tmp_path: Path) -> None:
    server = start_registry(tmp_path)

    server.stop()
    server.stop()  # idempotent

    assert server.process.returncode is not None
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{server.url}/v2/", timeout=2)


def test_registry_dies_with_a_killed_parent(tmp_path: Path) -> None:
    """Even if pytest is SIGKILLed (no finalizers), the registry must not outlive it."""
    script = (
        "import sys, time; from pathlib import Path; from tests.support.registry_server import start_registry; "
        "server = start_registry(Path(sys.argv[1])); print(server.process.pid, flush=True); time.sleep(60)"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script, str(tmp_path)], stdout=subprocess.PIPE, text=True, cwd=Path(__file__).parents[2]
    )
    try:
        child_pid = int(parent.stdout.readline())  # type: ignore[union-attr]
    finally:
        parent.kill()
        parent.wait()
        parent.stdout.close()  # type: ignore[union-attr]

    assert _gone_within(child_pid, seconds=10)


def test_start_failure_reports_the_log(tmp_path: Path) -> None:
    with pytest.raises(ServerStartError, match=r"(?s)exited with code.*token auth requires"):
        start_registry(tmp_path, auth={"token": {"realm": "http://127.0.0.1:1/token"}})


def _gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        # A zombie (dead, not yet reaped by init) counts as gone.
        if Path(f"/proc/{pid}/stat").read_text().split(") ")[-1].startswith("Z"):
            return True
        time.sleep(0.1)
    return False

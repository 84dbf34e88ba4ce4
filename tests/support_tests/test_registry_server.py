"""The registry fixture is a real, reachable, empty-by-default registry."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.images import empty_descriptor, push_json_manifest, push_raw_manifest
from tests.support.push import DOCKER_MANIFEST, OCI_MANIFEST, PushError, canonical_json, client_for
from tests.support.registry_server import RegistryServer, ServerStartError, start_registry
from tests.support.skopeo import skopeo_inspect


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


MISSING = "sha256:" + "2" * 64


def _manifest(layer: dict[str, object], config: dict[str, object] | None = None) -> dict[str, object]:
    return {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config or empty_descriptor(), "layers": [layer]}


def test_registry_accepts_a_foreign_layer_it_does_not_hold(registry: RegistryServer, repo: str) -> None:
    """``validation.manifests.urls.allow`` lets tests point a manifest at a blob the registry lacks."""
    client_for(registry).push_blob(repo, b"{}")
    foreign = {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": MISSING, "size": 3}
    foreign["urls"] = ["https://example.invalid/layer"]

    pushed = push_json_manifest(registry, repo, _manifest(foreign), "foreign")

    assert skopeo_inspect("--raw", f"docker://{pushed.ref}")["layers"][0]["digest"] == MISSING
    assert httpx.get(f"{registry.url}/v2/{repo}/blobs/{MISSING}").status_code == 404


@pytest.mark.parametrize(
    ("document", "media_type", "expected"),
    [
        pytest.param(
            _manifest({"mediaType": "application/x-anything", "digest": MISSING, "size": 3}),
            OCI_MANIFEST,
            f"MANIFEST_BLOB_UNKNOWN.*{MISSING}",
            id="missing-layer-blob",
        ),
        pytest.param(
            _manifest(empty_descriptor(), empty_descriptor()),
            OCI_MANIFEST,
            f"MANIFEST_BLOB_UNKNOWN.*{empty_descriptor()['digest']}",
            id="inline-empty-config-not-pushed",
        ),
        pytest.param(_manifest(empty_descriptor()), DOCKER_MANIFEST, "MANIFEST_INVALID", id="content-type-disagrees"),
        pytest.param(
            {**_manifest(empty_descriptor()), "mediaType": "application/x-unknown"},
            "application/x-unknown",
            "MANIFEST_INVALID",
            id="unknown-media-type",
        ),
    ],
)
def test_registry_refuses(
    registry: RegistryServer, repo: str, document: dict[str, object], media_type: str, expected: str
) -> None:
    """Pins what registry 2.8 refuses, so tests needing such manifests know to use a proxy double."""
    with pytest.raises(PushError, match=f"HTTP 400.*{expected}"):
        push_raw_manifest(registry, repo, canonical_json(document), media_type, "x")


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"extra_config": {"log": {"level": "info"}}}, id="extra-config"),
        pytest.param({"env": {"REGISTRY_LOG_LEVEL": "info"}}, id="env"),
    ],
)
def test_extra_config_and_env_reach_the_registry(tmp_path: Path, options: dict[str, Any]) -> None:
    server = start_registry(tmp_path, **options)
    server.stop()

    assert "listening on" in server.log()  # an info line; the default level (warn) hides it

"""The registry fixture is a real, reachable, empty-by-default registry."""

from __future__ import annotations

import httpx

from tests.support.registry_server import RegistryServer


def test_registry_answers_v2(registry: RegistryServer) -> None:
    response = httpx.get(f"{registry.url}/v2/")
    assert response.status_code == 200
    assert response.headers["Docker-Distribution-Api-Version"] == "registry/2.0"
    assert registry.url == f"http://{registry.host}"


def test_registry_has_no_referrers_api(registry: RegistryServer) -> None:
    digest = "sha256:" + "0" * 64
    response = httpx.get(f"{registry.url}/v2/some/repo/referrers/{digest}")
    assert response.status_code == 404

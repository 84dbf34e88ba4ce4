"""The config helpers produce a valid gate Config that names the fixture registries."""

from __future__ import annotations

import json

from gate.config import Config
from tests.support.gate_config import config_for
from tests.support.registry_server import RegistryServer


def test_gate_config_allows_plain_http_to_the_registry(gate_config: Config, registry: RegistryServer) -> None:
    assert registry.host in gate_config.registries.insecure
    assert gate_config.registries.docker_config is None


def test_overrides_are_validated_and_hosts_kept(registry: RegistryServer) -> None:
    config = config_for(registry, registries={"insecure": ["other:5000"]}, rules={"user.root": {"action": "warn"}})

    assert config.registries.insecure == frozenset({registry.host, "other:5000"})
    assert config.rules["user.root"].action == "warn"


def test_auth_gate_config_holds_credentials_for_auth_registries(
    auth_gate_config: Config, basic_auth_registry: RegistryServer, token_auth_registry: RegistryServer, registry: RegistryServer
) -> None:
    assert auth_gate_config.registries.docker_config is not None
    auths = json.loads(auth_gate_config.registries.docker_config.read_text())["auths"]

    assert set(auths) == {basic_auth_registry.host, token_auth_registry.host}
    assert auth_gate_config.registries.insecure == {registry.host, basic_auth_registry.host, token_auth_registry.host}

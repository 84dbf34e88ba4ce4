"""Session-wide fixtures: real local registries (plain, basic auth, token auth) and config for them.

Each server is started once per pytest process (per xdist worker) and stopped at session end,
also when tests fail; the children die with pytest even if it is killed (see
``tests/support/registry_server.py``). Tests share the registries, so use the ``repo`` fixture for a
repository name of your own.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from gate.config import Config
from tests.support.gate_config import config_for
from tests.support.push import close_clients
from tests.support.registry_server import RegistryServer, start_registry


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    """Debian's docker-registry 2.8, anonymous, plain HTTP on 127.0.0.1, delete enabled."""
    server = start_registry(tmp_path_factory.mktemp("registry"))
    try:
        yield server
    finally:
        close_clients()
        server.stop()


@pytest.fixture(scope="session")
def gate_config(registry: RegistryServer) -> Config:
    """Default Config with the session registry allowed over plain HTTP."""
    return config_for(registry)


@pytest.fixture
def repo(request: pytest.FixtureRequest) -> str:
    """A repository name unique to this test (derived from its node id), e.g. ``t/test-foo-param``."""
    name = re.sub(r"[^a-z0-9]+", "-", request.node.nodeid.lower()).strip("-")
    return f"t/{name[-120:].strip('-')}"

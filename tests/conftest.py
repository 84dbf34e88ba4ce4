"""Session-wide fixtures: real local registries (plain, basic auth, token auth) and config for them.

Each server is started once per pytest process (per xdist worker) and stopped at session end,
also when tests fail; the children die with pytest even if it is killed (see
``tests/support/registry_server.py``). Tests share the registries, so use the ``repo`` fixture for a
repository name of your own.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from gate.config import Config
from tests.registry.lying_proxy_double import LyingRegistryProxyDouble
from tests.support.gate_config import config_for, write_docker_config
from tests.support.push import close_clients
from tests.support.redis_server import RedisServer, start_redis
from tests.support.registry_server import (
    RegistryServer,
    start_basic_auth_registry,
    start_registry,
    start_token_auth_registry,
)

TEST_USER = "gate-test"
TEST_PASSWORD = "not-a-secret-test-password"


def _running(server: RegistryServer) -> Iterator[RegistryServer]:
    """Yield a started server and stop it afterwards, also when tests failed."""
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session", autouse=True)
def _close_push_clients() -> Iterator[None]:
    """Close the image factory's shared HTTP clients once every test and server is done."""
    yield
    close_clients()


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    """Debian's docker-registry 2.8, anonymous, plain HTTP on 127.0.0.1, delete enabled."""
    yield from _running(start_registry(tmp_path_factory.mktemp("registry")))


@pytest.fixture(scope="session")
def basic_auth_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    """A registry behind HTTP basic auth (bcrypt htpasswd); ``.username`` / ``.password`` get in."""
    yield from _running(start_basic_auth_registry(tmp_path_factory.mktemp("basic-registry"), TEST_USER, TEST_PASSWORD))


@pytest.fixture(scope="session")
def token_auth_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    """A registry with bearer-token auth; ``.token_server`` is the TokenServerDouble (``.issued`` counts)."""
    yield from _running(start_token_auth_registry(tmp_path_factory.mktemp("token-registry"), TEST_USER, TEST_PASSWORD))


@pytest.fixture(scope="session")
def gate_config(registry: RegistryServer) -> Config:
    """Default Config with the session registry allowed over plain HTTP."""
    return config_for(registry)


@pytest.fixture(scope="session")
def auth_gate_config(
    registry: RegistryServer,
    basic_auth_registry: RegistryServer,
    token_auth_registry: RegistryServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Config:
    """Config reaching all three registries; credentials for the auth ones in a docker config.json."""
    path = tmp_path_factory.mktemp("docker-config") / "config.json"
    servers = (registry, basic_auth_registry, token_auth_registry)
    return config_for(*servers, docker_config=write_docker_config(path, *servers))


@pytest.fixture
def repo(request: pytest.FixtureRequest) -> str:
    """A repository name unique to this test: readable tail of its node id plus a short hash.

    e.g. ``t/test-images-py-test-push-legacy-1a2b3c4d``; push to ``f"{repo}:tag"``.
    """
    nodeid = request.node.nodeid
    tail = re.sub(r"[^a-z0-9]+", "-", nodeid.lower())[-100:].strip("-")
    return f"t/{tail}-{hashlib.sha256(nodeid.encode()).hexdigest()[:8]}"


@pytest.fixture(autouse=True, scope="session")
def _private_user_dirs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Keep the CLI out of the user's home during tests: its on-disk layer cache, and the docker
    config it reads like docker does (an empty one, so the user's credentials and helpers never
    take part in a test)."""
    names = {"XDG_CACHE_HOME": "xdg-cache", "DOCKER_CONFIG": "docker-config-home"}
    previous = {name: os.environ.get(name) for name in names}
    os.environ.update({name: str(tmp_path_factory.mktemp(directory)) for name, directory in names.items()})
    yield
    for name, value in previous.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture
def lying_proxy(registry: RegistryServer) -> Iterator[LyingRegistryProxyDouble]:
    """A LyingRegistryProxyDouble in front of the session registry, honest until told otherwise."""
    proxy = LyingRegistryProxyDouble(registry.url)
    try:
        yield proxy
    finally:
        proxy.stop()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """Debian's redis-server on a free loopback port, empty, nothing persisted; its own per test
    (tests kill and restart it)."""
    server = start_redis(tmp_path / "redis")
    try:
        yield server
    finally:
        server.stop()

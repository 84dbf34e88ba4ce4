"""Basic and bearer-token auth against real registries (htpasswd; token realm = TokenServerDouble)."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from urllib.parse import parse_qs

import anyio
import pytest

from gate.errors import RegistryError
from gate.registry import CredentialStore, Reference, RegistryClient
from tests.registry.lying_proxy_double import LyingRegistryProxyDouble, Reply, Seen
from tests.support.gate_config import config_for
from tests.support.images import ImageBuilder
from tests.support.push import PushedManifest
from tests.support.registry_server import RegistryServer

pytestmark = pytest.mark.anyio


def _docker_config(host: str, username: str, password: str) -> bytes:
    auth = base64.b64encode(f"{username}:{password}".encode()).decode()
    return json.dumps({"auths": {f"http://{host}/v2/": {"auth": auth}}}).encode()


def _push(server: RegistryServer, reference: str) -> PushedManifest:
    return ImageBuilder().layer({"a.txt": reference}).config(user="1000").push(server, reference)


def _store(server: RegistryServer, password: str | None = None) -> CredentialStore:
    assert server.username and server.password
    return CredentialStore.from_docker_config(_docker_config(server.host, server.username, password or server.password))


@pytest.mark.parametrize("server_name", ["basic_auth_registry", "token_auth_registry"])
async def test_credentials_from_the_docker_config_file(request: pytest.FixtureRequest, tmp_path: Path, server_name: str, repo: str) -> None:
    server: RegistryServer = request.getfixturevalue(server_name)
    pushed = _push(server, f"{repo}:1.0")
    assert server.username and server.password
    (tmp_path / "config.json").write_bytes(_docker_config(server.host, server.username, server.password))
    config = config_for(server, registries={"docker_config": str(tmp_path / "config.json")})
    async with RegistryClient(config) as client:
        manifest = await client.manifest(Reference.parse(pushed.ref))
    assert manifest.digest == pushed.digest


@pytest.mark.parametrize("server_name", ["basic_auth_registry", "token_auth_registry"])
async def test_extra_credentials_win_over_the_file(request: pytest.FixtureRequest, tmp_path: Path, server_name: str, repo: str) -> None:
    server: RegistryServer = request.getfixturevalue(server_name)
    pushed = _push(server, f"{repo}:1.0")
    (tmp_path / "config.json").write_bytes(_docker_config(server.host, "someone", "wrong"))
    config = config_for(server, registries={"docker_config": str(tmp_path / "config.json")})
    async with RegistryClient(config, credentials=_store(server)) as client:
        assert (await client.resolve(Reference.parse(pushed.ref))).digest == pushed.digest


@pytest.mark.parametrize("server_name", ["basic_auth_registry", "token_auth_registry"])
@pytest.mark.parametrize("credentials", ["wrong", "none"])
async def test_refused_credentials_give_a_clear_401(request: pytest.FixtureRequest, server_name: str, credentials: str, repo: str) -> None:
    server: RegistryServer = request.getfixturevalue(server_name)
    pushed = _push(server, f"{repo}:1.0")
    store = _store(server, password="not-the-password") if credentials == "wrong" else None
    async with RegistryClient(config_for(server), credentials=store) as client:
        with pytest.raises(RegistryError) as caught:
            await client.manifest(Reference.parse(pushed.ref))
    assert f"authentication failed for registry {server.host}" in caught.value.message
    assert "registries.docker_config / imagePullSecrets" in caught.value.remedy
    assert caught.value.details["status"] == 401 and caught.value.details["repository"] == repo


async def test_basic_auth_is_sent_up_front_after_the_first_challenge(basic_auth_registry: RegistryServer, repo: str) -> None:
    pushed = _push(basic_auth_registry, f"{repo}:1.0")
    async with RegistryClient(config_for(basic_auth_registry), credentials=_store(basic_auth_registry)) as client:
        await client.manifest(Reference.parse(pushed.ref))
        assert client.request_count == 2  # anonymous try, 401, retry with credentials
        await client.manifest(Reference.parse(pushed.ref))
        assert client.request_count == 3


async def test_tokens_are_cached_per_scope(token_auth_registry: RegistryServer, repo: str) -> None:
    tokens = token_auth_registry.token_server
    assert tokens is not None
    first, second = _push(token_auth_registry, f"{repo}-a:1.0"), _push(token_auth_registry, f"{repo}-b:1.0")
    async with RegistryClient(config_for(token_auth_registry), credentials=_store(token_auth_registry)) as client:
        issued = tokens.issued
        ref = Reference.parse(first.ref)
        manifest = await client.manifest(ref)
        await client.resolve(ref)
        await client.blob(ref, manifest.config)  # type: ignore[arg-type]
        assert tokens.issued == issued + 1
        assert tokens.requests[-1] == (f"repository:{repo}-a:pull", token_auth_registry.username)
        await client.manifest(Reference.parse(second.ref))  # another repository: another scope
        await client.manifest(Reference.parse(second.ref))
        assert tokens.issued == issued + 2
        assert tokens.requests[-1] == (f"repository:{repo}-b:pull", token_auth_registry.username)
        # first request: 401, token, retry; HEAD and blob reuse the token; the new scope's token is
        # fetched up front (the registry's scheme is known by then), so no second 401
        assert client.request_count == 3 + 1 + 1 + 2 + 1


def _bearer_gate(proxy: LyingRegistryProxyDouble, token_reply: Reply, accepted: str) -> None:
    """Make the proxy demand ``Bearer <accepted>`` on /v2/ and issue tokens itself at /oauth2/token."""
    challenge = f'Bearer realm="http://{proxy.host}/oauth2/token",service="double",scope="repository:ignored:pull"'

    def gate(seen: Seen) -> Reply | None:
        if seen.path.startswith("/oauth2/token"):
            return token_reply
        if seen.headers.get("Authorization") != f"Bearer {accepted}":
            return Reply(401, {"WWW-Authenticate": challenge}, b'{"errors":[{"code":"UNAUTHORIZED"}]}')
        return None

    proxy.answers.append(gate)


async def test_identity_token_uses_the_oauth2_refresh_grant(registry: RegistryServer, lying_proxy: LyingRegistryProxyDouble, repo: str) -> None:
    pushed = _push(registry, f"{repo}:1.0")
    _bearer_gate(lying_proxy, Reply(200, {"Content-Type": "application/json"}, b'{"access_token": "tok-1", "expires_in": 300}'), "tok-1")
    document = json.dumps({"auths": {lying_proxy.host: {"auth": base64.b64encode(b"<token>:").decode(), "identitytoken": "refresh-me"}}}).encode()
    async with RegistryClient(config_for(lying_proxy), credentials=CredentialStore.from_docker_config(document)) as client:
        manifest = await client.manifest(Reference.parse(f"{lying_proxy.host}/{pushed.repository}:1.0"))
    assert manifest.digest == pushed.digest
    token_request = next(seen for seen in lying_proxy.seen if seen.path.startswith("/oauth2/token"))
    form = parse_qs(token_request.body.decode())
    assert token_request.method == "POST"
    assert form["grant_type"] == ["refresh_token"] and form["refresh_token"] == ["refresh-me"]
    assert form["service"] == ["double"] and form["scope"] == ["repository:ignored:pull"]  # the challenge's scope


async def test_expired_tokens_are_fetched_again(registry: RegistryServer, lying_proxy: LyingRegistryProxyDouble, repo: str) -> None:
    pushed = _push(registry, f"{repo}:1.0")
    _bearer_gate(lying_proxy, Reply(200, {}, b'{"token": "tok-2", "expires_in": 1}'), "tok-2")
    ref = Reference.parse(f"{lying_proxy.host}/{pushed.repository}:1.0")
    async with RegistryClient(config_for(lying_proxy)) as client:
        await client.manifest(ref)
        await client.manifest(ref)
        assert sum(seen.path.startswith("/oauth2/token") for seen in lying_proxy.seen) == 1
        await anyio.sleep(1.0)
        await client.manifest(ref)
        assert sum(seen.path.startswith("/oauth2/token") for seen in lying_proxy.seen) == 2


@pytest.mark.parametrize(
    ("reply", "fragment"),
    [
        (Reply(200, {}, b'{"expires_in": 60}'), "sent no token"),
        (Reply(200, {}, b"<html>"), "unreadable answer"),
        (Reply(401, {}, b""), "authentication failed for registry"),
        (Reply(500, {}, b""), "failed with HTTP 500 fetching a token"),
    ],
)
async def test_token_server_failures_are_clear(lying_proxy: LyingRegistryProxyDouble, reply: Reply, fragment: str) -> None:
    _bearer_gate(lying_proxy, reply, "never")
    async with RegistryClient(config_for(lying_proxy, limits={"retries": 0})) as client:
        with pytest.raises(RegistryError, match=fragment):
            await client.manifest(Reference.parse(f"{lying_proxy.host}/shop/api:1"))


async def test_concurrent_first_requests_share_one_token(token_auth_registry: RegistryServer, repo: str) -> None:
    """Requests sent anonymously before the scheme was known all get a 401; the token fetched
    for the first one serves the others, rather than each 401 discarding it and fetching again."""
    pushed = [_push(token_auth_registry, f"{repo}:{i}") for i in range(4)]
    async with RegistryClient(config_for(token_auth_registry)) as client:
        view = client.with_credentials(_store(token_auth_registry))
        found = await asyncio.gather(*(view.manifest(Reference.parse(image.ref)) for image in pushed))
        assert [m.digest for m in found] == [image.digest for image in pushed]
        assert client.request_count == 4 + 1 + 4  # four 401s, one token, four retries


async def test_pull_secrets_get_one_token_for_every_check_that_shares_them(token_auth_registry: RegistryServer, repo: str) -> None:
    """The scheme is the registry's, learnt once for every credential set; the token belongs to
    the credentials, and is kept with the view of the same pull secrets."""
    first, second = _push(token_auth_registry, f"{repo}:1.0"), _push(token_auth_registry, f"{repo}:2.0")
    assert token_auth_registry.username and token_auth_registry.password
    secrets = _docker_config(token_auth_registry.host, token_auth_registry.username, token_auth_registry.password)
    async with RegistryClient(config_for(token_auth_registry)) as client:
        with pytest.raises(RegistryError):
            await client.manifest(Reference.parse(first.ref))  # no credentials of its own: 401, anonymous token refused
        learnt, refused = client.request_count, client.status_counts.get(401)
        for pushed in (first, second):
            view = client.with_pull_secrets(secrets)
            refs = [Reference.parse(pushed.ref), Reference.parse(pushed.by_digest)]
            assert [m.digest for m in await asyncio.gather(*(view.manifest(ref) for ref in refs))] == [pushed.digest] * 2
        assert client.with_pull_secrets(secrets) is view
        # one token for the pull secrets, then four manifest reads: no 401, no second token
        assert client.request_count - learnt == 1 + 4
        assert client.status_counts.get(401) == refused


async def test_with_credentials_shares_the_pool_and_keeps_sources_apart(basic_auth_registry: RegistryServer, repo: str) -> None:
    pushed = _push(basic_auth_registry, f"{repo}:1.0")
    ref = Reference.parse(pushed.ref)
    async with RegistryClient(config_for(basic_auth_registry)) as client:
        with pytest.raises(RegistryError, match="authentication failed"):
            await client.manifest(ref)
        workload = client.with_credentials(_store(basic_auth_registry))
        async with workload:
            assert (await workload.manifest(ref)).digest == pushed.digest
        assert (await workload.resolve(ref)).digest == pushed.digest  # closing the view left the pool open
        # the view knows from the first 401 that this registry asks for Basic: its credentials go up front
        assert client.request_count == workload.request_count == 3
        assert client.status_counts == {401: 1, 200: 2}

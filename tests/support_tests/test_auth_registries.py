"""Images push to, and read back from, the basic-auth and token-auth registries."""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.support.images import ImageBuilder
from tests.support.push import PushClient, PushError, Target, parse_www_authenticate
from tests.support.registry_server import RegistryServer
from tests.support.token_server import TokenServerDouble, parse_scopes


def skopeo_digest(server: RegistryServer, reference: str, with_credentials: bool) -> subprocess.CompletedProcess[str]:
    creds = ["--creds", f"{server.username}:{server.password}"] if with_credentials else []
    command = ["skopeo", "inspect", "--tls-verify=false", "--format", "{{.Digest}}", *creds, f"docker://{reference}"]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def small_image() -> ImageBuilder:
    return ImageBuilder().layer({"hello.txt": "hello\n"}).config(user="1000")


@pytest.mark.parametrize("fixture", ["basic_auth_registry", "token_auth_registry"])
def test_push_to_auth_registry_and_read_back(request: pytest.FixtureRequest, fixture: str, repo: str) -> None:
    server: RegistryServer = request.getfixturevalue(fixture)

    pushed = small_image().push(server, f"{repo}:1")
    with_creds = skopeo_digest(server, pushed.ref, with_credentials=True)
    without = skopeo_digest(server, pushed.ref, with_credentials=False)

    assert with_creds.returncode == 0, with_creds.stderr
    assert with_creds.stdout.strip() == pushed.digest
    assert without.returncode != 0 and "unauthorized" in without.stderr.lower()


def test_basic_auth_registry_challenges_with_basic(basic_auth_registry: RegistryServer) -> None:
    response = httpx.get(f"{basic_auth_registry.url}/v2/")

    assert response.status_code == 401
    assert parse_www_authenticate(response.headers["www-authenticate"])[0] == "basic"
    assert httpx.get(f"{basic_auth_registry.url}/v2/", auth=basic_auth_registry.credentials).status_code == 200


def test_token_registry_challenge_names_the_double(token_auth_registry: RegistryServer) -> None:
    token_server = token_auth_registry.token_server
    assert token_server is not None

    scheme, params = parse_www_authenticate(httpx.get(f"{token_auth_registry.url}/v2/").headers["www-authenticate"])

    assert scheme == "bearer"
    assert params == {"realm": token_server.realm, "service": token_server.service}


def test_tokens_are_cached_per_scope(token_auth_registry: RegistryServer, repo: str) -> None:
    token_server = token_auth_registry.token_server
    assert token_server is not None
    client = PushClient(token_auth_registry)
    before = len(token_server.requests)
    try:
        for blob in (b"first", b"second", b"third"):
            client.push_blob(repo, blob)
    finally:
        client.close()

    # The first HEAD asks for pull, the first upload for pull+push (in the registry's random
    # order); every later request reuses that token.
    requested = [(parse_scopes([scope]), user) for scope, user in token_server.requests[before:]]
    assert [(s[0]["name"], sorted(s[0]["actions"]), user) for s, user in requested] == [  # type: ignore[call-overload]
        (repo, ["pull"], "gate-test"),
        (repo, ["pull", "push"], "gate-test"),
    ]


def test_token_server_refuses_bad_and_missing_credentials(token_auth_registry: RegistryServer) -> None:
    token_server = token_auth_registry.token_server
    assert token_server is not None
    params = {"service": token_server.service, "scope": "repository:x/y:pull"}

    assert httpx.get(token_server.realm, params=params).status_code == 401
    assert httpx.get(token_server.realm, params=params, auth=("gate-test", "wrong")).status_code == 401


def test_push_with_wrong_password_fails(token_auth_registry: RegistryServer, repo: str) -> None:
    client = PushClient(Target(token_auth_registry.url, ("gate-test", "wrong")))
    try:
        with pytest.raises(PushError, match="401"):
            client.push_blob(repo, b"data")
    finally:
        client.close()


def test_parse_scopes_handles_several_scopes() -> None:
    assert parse_scopes(["repository:a/b:pull,push repository:c:pull", "registry:catalog:*"]) == [
        {"type": "repository", "name": "a/b", "actions": ["pull", "push"]},
        {"type": "repository", "name": "c", "actions": ["pull"]},
        {"type": "registry", "name": "catalog", "actions": ["*"]},
    ]


def test_anonymous_pull_is_limited_to_granted_actions(tmp_path: Path) -> None:
    double = TokenServerDouble(tmp_path, "u", "p", anonymous_actions={"pull"})
    try:
        status, body = double.grant(None, ["repository:x/y:pull,push"])
    finally:
        double.stop()

    assert status == 200 and double.issued == 1
    claims = str(body["token"]).split(".")[1]
    decoded = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
    assert decoded["access"] == [{"type": "repository", "name": "x/y", "actions": ["pull"]}]

"""Docker config.json credentials: entry shapes and registry key matching."""

from __future__ import annotations

import base64
import json

import pytest

from gate.errors import ConfigError
from gate.registry import CredentialStore


def _auth(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


def _config(auths: dict[str, object]) -> bytes:
    return json.dumps({"auths": auths}).encode()


@pytest.mark.parametrize(
    ("key", "registry"),
    [
        ("https://index.docker.io/v1/", "docker.io"),
        ("index.docker.io", "docker.io"),
        ("docker.io", "docker.io"),
        ("registry-1.docker.io", "docker.io"),
        ("ghcr.io", "ghcr.io"),
        ("https://ghcr.io", "ghcr.io"),
        ("GHCR.io/v2/", "ghcr.io"),
        ("127.0.0.1:5000", "127.0.0.1:5000"),
        ("http://127.0.0.1:5000/v2/", "127.0.0.1:5000"),
    ],
)
def test_key_spellings_match_the_registry(key: str, registry: str) -> None:
    store = CredentialStore.from_docker_config(_config({key: {"auth": _auth("u", "p")}}))
    credential = store.lookup(registry)
    assert credential is not None and (credential.username, credential.password) == ("u", "p")


def test_port_must_match() -> None:
    store = CredentialStore.from_docker_config(_config({"127.0.0.1:5000": {"auth": _auth("u", "p")}}))
    assert store.lookup("127.0.0.1:5001") is None
    assert store.lookup("127.0.0.1") is None


def test_username_password_fields_and_identity_token() -> None:
    store = CredentialStore.from_docker_config(
        _config({"a.io": {"username": "u", "password": "p:with:colons"}, "b.io": {"auth": _auth("<token>", ""), "identitytoken": "refresh"}})
    )
    a, b = store.lookup("a.io"), store.lookup("b.io")
    assert a is not None and (a.username, a.password) == ("u", "p:with:colons")
    assert b is not None and b.identity_token == "refresh"
    assert "refresh" not in repr(b) and "p:with" not in repr(a)


def test_legacy_dockercfg_shape_from_old_pull_secrets() -> None:
    store = CredentialStore.from_docker_config(json.dumps({"old.io": {"auth": _auth("u", "p")}}).encode())
    assert store.lookup("old.io") is not None


def test_entries_without_credentials_and_cred_helpers_are_ignored() -> None:
    document = json.dumps({"auths": {"a.io": {}}, "credsStore": "desktop", "credHelpers": {"b.io": "x"}}).encode()
    store = CredentialStore.from_docker_config(document)
    assert len(store) == 0 and store.lookup("a.io") is None and store.lookup("b.io") is None


def test_first_source_wins_when_chained() -> None:
    pull_secret = CredentialStore.from_docker_config(_config({"a.io": {"auth": _auth("workload", "1")}}))
    from_file = CredentialStore.from_docker_config(_config({"a.io": {"auth": _auth("gate", "2")}, "b.io": {"auth": _auth("gate", "3")}}))
    merged = pull_secret.chain(from_file)
    assert merged.lookup("a.io").username == "workload"  # type: ignore[union-attr]
    assert merged.lookup("b.io").username == "gate"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("document", "fragment"),
    [
        (b"{not json", "not valid JSON"),
        (b"[]", "JSON object"),
        (json.dumps({"auths": []}).encode(), "`auths` must be a mapping"),
        (_config({"a.io": "x"}), "auths['a.io']: must be an object"),
        (_config({"a.io": {"auth": "!!!"}}), "auths['a.io'].auth: not base64"),
        (_config({"a.io": {"auth": base64.b64encode(b"nocolon").decode()}}), "no `username:password`"),
        (_config({"a.io": {"username": 5}}), "auths['a.io'].username: must be a string"),
    ],
)
def test_malformed_documents_name_the_entry(document: bytes, fragment: str) -> None:
    with pytest.raises(ConfigError) as caught:
        CredentialStore.from_docker_config(document, source="imagePullSecrets shop/regcred")
    assert fragment in caught.value.message and "imagePullSecrets shop/regcred" in caught.value.message


def test_from_file_names_the_config_field(tmp_path) -> None:
    with pytest.raises(ConfigError, match="registries.docker_config"):
        CredentialStore.from_file(tmp_path / "missing.json")

"""Configuration is refused at start-up with the field's path; paths are relative to the file."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from gate import config
from gate.errors import ConfigError


@pytest.mark.parametrize(
    "document, field",
    [
        ({"trust": {"keyless": [{"issuer": "https://issuer.example"}]}}, "trust.keyless[0]"),
        ({"trust": {"keyless": [{"issuer": "i", "subject_regex": "("}]}}, "trust.keyless[0].subject_regex"),
        ({"rules": {"no.such-rule": {"action": "deny"}}}, "rules"),
        ({"rules": {"user.root": {"action": "block"}}}, "rules.user.root.action"),
        ({"namespaces": {"shop": {"rules": {"no.such-rule": {}}}}}, "namespaces"),
        ({"limits": {"timeout_seconds": 0}}, "limits.timeout_seconds"),
        ({"policy": {"engine": "opa"}}, "policy"),
        ({"events_token": "short"}, "events_token"),
        ({"unknown_key": 1}, "unknown_key"),
        ({"limits": {"evaluation_seconds": 0}}, "limits.evaluation_seconds"),
        ({"limits": {"background_evaluations": 0}}, "limits.background_evaluations"),
        ({"cache": {"url": "http://redis.example:6379"}}, "cache.url"),
        ({"cache": {"url": "redis://redis.example:99999/0"}}, "cache.url"),
        ({"cache": {"url": "redis://redis.example/cache"}}, "cache.url"),  # the client would silently use db 0
        ({"cache": {"url": "redis://"}}, "cache.url"),
        ({"cache": {"url": "redis://redis.example", "timeout_seconds": 0}}, "cache.timeout_seconds"),
    ],
)
def test_bad_fields_are_named(document: dict, field: str) -> None:
    with pytest.raises(ConfigError) as caught:
        config.from_mapping(document)
    assert field in caught.value.message


def test_paths_are_relative_to_the_file(tmp_path: Path) -> None:
    (tmp_path / "trust").mkdir()
    (tmp_path / "trust" / "root.json").write_text("{}")
    path = tmp_path / "gate.yaml"
    path.write_text(yaml.safe_dump({"trust": {"trusted_root": "trust/root.json"}, "scan": {"cache_dir": "cache"}}))
    loaded = config.load(path)
    assert loaded.trust.trusted_root == tmp_path / "trust" / "root.json"
    assert loaded.scan.cache_dir == tmp_path / "cache"


def test_a_key_that_is_not_a_public_key_is_refused(tmp_path: Path) -> None:
    (tmp_path / "cosign.pub").write_text("-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----\n")
    path = tmp_path / "gate.yaml"
    path.write_text(yaml.safe_dump({"trust": {"keys": ["cosign.pub"]}}))
    with pytest.raises(ConfigError, match=r"trust\.keys\[0\]"):
        config.load(path)


def test_keyless_identity_matches_the_whole_subject() -> None:
    identity = config.KeylessIdentity(issuer="https://token.actions.githubusercontent.com", subject_regex=r"https://github\.com/acme/.+")
    assert identity.matches("https://token.actions.githubusercontent.com", "https://github.com/acme/app/.github/workflows/ci.yml@refs/heads/main")
    assert not identity.matches("https://token.actions.githubusercontent.com", "https://github.com/evil/https://github.com/acme/x")
    assert not identity.matches("https://accounts.google.com", "https://github.com/acme/app")


def test_a_redis_or_valkey_url_is_accepted_and_its_password_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATE_CACHE_PASSWORD", "from-a-secret")
    for url in ("redis://redis.example:6379/2", "rediss://valkey.example", "unix:///run/redis.sock"):
        loaded = config.from_mapping({"cache": {"url": url}})
        assert loaded.cache.url == url and loaded.cache.password is not None
        assert loaded.cache.password.get_secret_value() == "from-a-secret"
    assert config.from_mapping({}).cache.url is None

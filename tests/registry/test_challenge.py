"""WWW-Authenticate parsing (RFC 9110 §11.6.1) as registries actually send it."""

from __future__ import annotations

import pytest

from gate.registry._challenge import Challenge, parse_challenges

HUB = 'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"'


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (HUB, [Challenge("bearer", {"realm": "https://auth.docker.io/token", "service": "registry.docker.io", "scope": "repository:library/alpine:pull"})]),
        ('Basic realm="Registry Realm"', [Challenge("basic", {"realm": "Registry Realm"})]),
        # commas inside quotes (multi-action scopes, query strings) do not split parameters
        ('Bearer realm="https://a/t?x=1,2",scope="repository:a:pull,push"', [Challenge("bearer", {"realm": "https://a/t?x=1,2", "scope": "repository:a:pull,push"})]),
        # unquoted values, spaces around '=', upper-case scheme and names
        ("BEARER Realm = https://a/t , Service=svc", [Challenge("bearer", {"realm": "https://a/t", "service": "svc"})]),
        # an escaped quote inside a quoted string
        ('Bearer realm="a\\"b",error="invalid_token"', [Challenge("bearer", {"realm": 'a"b', "error": "invalid_token"})]),
        # several challenges in one header
        ('Basic realm="r", Bearer realm="https://a/t",service="s"', [Challenge("basic", {"realm": "r"}), Challenge("bearer", {"realm": "https://a/t", "service": "s"})]),
        # a token68 challenge followed by another
        ("Negotiate abc==, Basic realm=x", [Challenge("negotiate", {"token68": "abc=="}), Challenge("basic", {"realm": "x"})]),
        ("", []),
        ("Bearer", [Challenge("bearer", {})]),
    ],
)
def test_parses_challenges(header: str, expected: list[Challenge]) -> None:
    assert parse_challenges(header) == expected


@pytest.mark.parametrize("header", ['Bearer realm="unterminated', "Bearer ,,,", "=", '"', "Bearer realm=,service="])
def test_garbage_never_raises(header: str) -> None:
    assert isinstance(parse_challenges(header), list)

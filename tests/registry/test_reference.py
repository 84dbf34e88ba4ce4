"""Reference parsing and normalisation, as Docker and distribution/reference do it."""

from __future__ import annotations

import pytest

from gate.errors import ReferenceError  # noqa: A004 - gate's error for a string that is not an image reference
from gate.registry import Reference

SHA256 = "sha256:" + "a" * 64
SHA512 = "sha512:" + "b" * 128


@pytest.mark.parametrize(
    ("text", "registry", "repository", "tag", "digest"),
    [
        ("alpine", "docker.io", "library/alpine", "latest", None),
        ("alpine:3.19", "docker.io", "library/alpine", "3.19", None),
        ("shop/api", "docker.io", "shop/api", "latest", None),
        ("docker.io/alpine", "docker.io", "library/alpine", "latest", None),
        ("index.docker.io/library/alpine:3", "docker.io", "library/alpine", "3", None),
        ("registry-1.docker.io/bitnami/redis", "docker.io", "bitnami/redis", "latest", None),
        ("Index.Docker.IO/x/y", "docker.io", "x/y", "latest", None),
        ("127.0.0.1:5000/shop/api:1.4", "127.0.0.1:5000", "shop/api", "1.4", None),
        ("localhost/app", "localhost", "app", "latest", None),
        ("localhost:5000/app", "localhost:5000", "app", "latest", None),
        ("ghcr.io/acme/team/app:v1.2.3-rc.1", "ghcr.io", "acme/team/app", "v1.2.3-rc.1", None),
        ("[::1]:5000/app:1", "[::1]:5000", "app", "1", None),
        ("gcr.io/a/b@" + SHA256, "gcr.io", "a/b", None, SHA256),
        ("gcr.io/a/b:1.0@" + SHA256, "gcr.io", "a/b", "1.0", SHA256),
        ("alpine@" + SHA512, "docker.io", "library/alpine", None, SHA512),
        ("a.b/c__d/e-f/g.h_i--j", "a.b", "c__d/e-f/g.h_i--j", "latest", None),
        ("localhost:5000", "docker.io", "library/localhost", "5000", None),  # Docker reads this as a tag
    ],
)
def test_parses_and_normalises(text: str, registry: str, repository: str, tag: str | None, digest: str | None) -> None:
    ref = Reference.parse(text)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (registry, repository, tag, digest)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("Alpine", "must be lowercase"),
        ("127.0.0.1:5000/Shop/api", "must be lowercase"),
        ("shop/api:", "tag ''"),
        ("shop/api:-bad", "tag '-bad'"),
        ("shop/api:" + "t" * 129, "tag"),
        ("shop//api", "invalid character"),
        ("shop/api/", "invalid character"),
        ("shop/_api", "invalid character"),
        ("shop/a..b", "invalid character"),
        ("shop/api@sha256:abc", "64 lowercase hex"),
        ("shop/api@sha256:" + "A" * 64, "64 lowercase hex"),
        ("shop/api@sha512:" + "a" * 64, "128 lowercase hex"),
        ("shop/api@md5:" + "a" * 32, "not supported"),
        ("shop/api@latest", "not a digest"),
        ("shop/api @" + SHA256, "whitespace"),
        ("-bad.io/x", "not a valid host"),
        ("host.io:port/x", "not a valid host"),
        ("host.io/" + "a" * 250, "longer than 255"),
        ("docker.io/", "missing"),
        ("a@b@c", "not a digest"),
    ],
)
def test_rejects_bad_references_with_a_reason(text: str, reason: str) -> None:
    with pytest.raises(ReferenceError) as caught:
        Reference.parse(text)
    assert reason in caught.value.message
    assert caught.value.remedy


@pytest.mark.parametrize(
    "text",
    ["docker.io/library/alpine:latest", "127.0.0.1:5000/shop/api:1.4@" + SHA256, "ghcr.io/a/b@" + SHA512],
)
def test_str_round_trips_the_canonical_form(text: str) -> None:
    assert str(Reference.parse(text)) == text
    assert Reference.parse(str(Reference.parse(text))) == Reference.parse(text)


def test_api_host_of_docker_hub_is_registry_1() -> None:
    assert Reference.parse("alpine").api_host == "registry-1.docker.io"
    assert Reference.parse("127.0.0.1:5000/a").api_host == "127.0.0.1:5000"


def test_digest_wins_for_fetching_and_tag_stays_for_display() -> None:
    ref = Reference.parse("ghcr.io/a/b:1.0@" + SHA256)
    assert ref.identifier == SHA256
    assert str(ref) == "ghcr.io/a/b:1.0@" + SHA256


def test_with_digest_pins_and_validates() -> None:
    ref = Reference.parse("ghcr.io/a/b:1.0")
    assert ref.with_digest(SHA256).identifier == SHA256
    with pytest.raises(ReferenceError, match="64 lowercase hex"):
        ref.with_digest("sha256:1234")
    with pytest.raises(ReferenceError, match="not a digest"):  # `$` alone would let a final newline through
        ref.with_digest(SHA256 + "\n")


def test_with_tag_drops_the_digest_and_validates() -> None:
    ref = Reference.parse("ghcr.io/a/b@" + SHA256)
    cosign = ref.with_tag("sha256-" + "a" * 64 + ".sig")
    assert (cosign.digest, cosign.identifier) == (None, "sha256-" + "a" * 64 + ".sig")
    with pytest.raises(ReferenceError, match="invalid tag"):
        ref.with_tag(".hidden")

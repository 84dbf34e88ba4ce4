"""Image globs (``images[].match``, exemption ``images``): ``*`` one path segment, ``**`` any, on the
normalised reference; patterns that could never match are refused."""

from __future__ import annotations

import pytest

from gate._globs import glob_problem, matches_image, reference_names
from gate.registry import Reference


def names(text: str, digest: str | None = None) -> tuple[str, ...]:
    reference = Reference.parse(text)
    return reference_names(reference.registry, reference.repository, reference.tag, digest or reference.digest)


DIGEST = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    "pattern, reference, fits",
    [
        ("docker.io/library/*", "nginx", True),
        ("docker.io/library/*", "nginx:1.25", True),
        ("docker.io/library/*", f"nginx@{DIGEST}", True),
        ("docker.io/library/*", "index.docker.io/library/nginx:1", True),
        ("docker.io/library/*", "bitnami/redis", False),
        ("docker.io/library/*", "docker.io/library/a/b", False),
        ("docker.io/other/*", "nginx", False),
        ("ghcr.io/acme/**", "ghcr.io/acme/payments/api:1", True),
        ("ghcr.io/acme/**", "ghcr.io/acme", False),
        ("ghcr.io/acme/**", "ghcr.io/acmeevil/api", False),
        ("ghcr.io/acme/*", "ghcr.io/acme/payments/api", False),
        ("ghcr.io/acme/api:1.?", "ghcr.io/acme/api:1.4", True),
        ("ghcr.io/acme/api:1.?", "ghcr.io/acme/api:1.42", False),
        (f"ghcr.io/acme/api@{DIGEST}", "ghcr.io/acme/api:1", False),
        ("*.vendor.example/**", "eu.vendor.example/agent:5", True),
        ("**", "anything.example/x/y:z", True),
        ("localhost:5000/*", "localhost:5000/app", True),
        ("ghcr.io/a.b/*", "ghcr.io/axb/x", False),
    ],
)
def test_a_glob_fits_the_normalised_reference(pattern: str, reference: str, fits: bool) -> None:
    assert glob_problem(pattern) is None
    assert matches_image(pattern, names(reference)) is fits


def test_the_resolved_digest_can_be_matched_for_a_tagged_reference() -> None:
    assert matches_image(f"ghcr.io/acme/api@{DIGEST}", names("ghcr.io/acme/api:1", DIGEST))


@pytest.mark.parametrize("pattern", ["nginx", "library/nginx", "acme/*", "index.docker.io/library/*", "docker.io/nginx", "docker.io/*", "", " ghcr.io/x"])
def test_a_pattern_that_could_match_nothing_is_refused(pattern: str) -> None:
    assert glob_problem(pattern) is not None

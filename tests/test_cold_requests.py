"""Registry requests for a cold check, by kind, for every layout evidence is discovered in.

Counted by the LyingRegistryProxyDouble in front of the real registry (honest, except that it
serves the referrers API where a layout needs one). Debian's registry 2.8 has no referrers API,
so a gate's first check there probes it once (404) and then reads each subject's tag-schema
index; a running gate remembers the missing API. Every subject (the image, or an index and
each platform image) costs three cosign tag lookups (``.sig``, ``.att``, ``.sbom``) and one
referrers listing; each manifest and blob read after that is read once.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from collections import Counter

import pytest

from gate.config import Config
from gate.engine import Engine, WorkloadContext
from tests.registry.lying_proxy_double import LyingRegistryProxyDouble
from tests.support.discovery_layouts import COSIGN_TAGS, INDEX, LAYOUTS, REFERRERS_API, REFERRERS_TAG, SINGLE, push_layout, requests_by_kind
from tests.support.gate_config import config_for
from tests.support.registry_server import RegistryServer

PER_SUBJECT_TAGS = {"cosign tag": 3, "referrers tag": 1}
FIRST_CONTACT = {  # a gate's first check against a registry without the referrers API: one probe
    SINGLE: {"image tag": 1, **PER_SUBJECT_TAGS, "referrers API": 1, "blob": 2},  # config, layer
    COSIGN_TAGS: {"image tag": 1, **PER_SUBJECT_TAGS, "referrers API": 1, "blob": 4},  # + the .sig and .att layers
    REFERRERS_TAG: {"image tag": 1, **PER_SUBJECT_TAGS, "referrers API": 1, "manifest by digest": 1, "blob": 3},  # + the SBOM
    REFERRERS_API: {"image tag": 1, "cosign tag": 3, "referrers API": 1, "manifest by digest": 1, "blob": 3},
    # two platform manifests and their two attestation manifests, each read once; three subjects;
    # two configs, two layers, two provenance layers
    INDEX: {"image tag": 1, "manifest by digest": 4, "cosign tag": 9, "referrers API": 1, "referrers tag": 3, "blob": 6},
}


def _variant(request: pytest.FixtureRequest) -> str:
    """A tag unique to this test, so its images are ones no gate has seen."""
    return "t" + hashlib.sha256(request.node.nodeid.encode()).hexdigest()[:16]


def _via(proxy: LyingRegistryProxyDouble, registry: RegistryServer, reference: str) -> str:
    return reference.replace(registry.host, proxy.host, 1)


def _check_counts(config: Config, proxy: LyingRegistryProxyDouble, *references: str) -> list[Counter[str]]:
    """Check each reference in turn with one fresh engine; the requests each check made, by kind."""

    async def scenario() -> list[Counter[str]]:
        counts = []
        async with Engine(config) as engine:
            for reference in references:
                before = len(proxy.seen)
                result = await engine.check(reference)
                assert result.evaluated and result.digest, result
                counts.append(requests_by_kind(proxy.seen[before:]))
        return counts

    return asyncio.run(scenario())


@pytest.mark.parametrize("layout", LAYOUTS)
def test_cold_check_requests_by_kind(layout: str, registry: RegistryServer, lying_proxy: LyingRegistryProxyDouble, request: pytest.FixtureRequest) -> None:
    if layout == REFERRERS_API:
        lying_proxy.serve_referrers_api()
    first = push_layout(registry, layout, _variant(request) + "a")
    second = push_layout(registry, layout, _variant(request) + "b")
    config = config_for(lying_proxy)

    counted_first, counted_second = _check_counts(config, lying_proxy, _via(lying_proxy, registry, first), _via(lying_proxy, registry, second))

    assert counted_first == Counter(FIRST_CONTACT[layout])
    # A never-seen image on a registry already asked: the missing referrers API is remembered,
    # one that answers is asked for each subject.
    remembered = Counter(FIRST_CONTACT[layout]) - Counter({"referrers API": 0 if layout == REFERRERS_API else 1})
    assert counted_second == remembered


def test_an_index_attestation_manifest_is_read_once(registry: RegistryServer, lying_proxy: LyingRegistryProxyDouble, request: pytest.FixtureRequest) -> None:
    """Index selection (to recognise the attestation by its in-toto layers) and evidence
    discovery (to read its provenance) both need the attestation manifests: one read each."""
    reference = push_layout(registry, INDEX, _variant(request))
    (counted,) = _check_counts(config_for(lying_proxy), lying_proxy, _via(lying_proxy, registry, reference))
    by_digest = Counter(seen.path for seen in lying_proxy.seen if "/manifests/sha256:" in seen.path)
    assert len(by_digest) == 4 and set(by_digest.values()) == {1}
    assert "repeated" not in counted


def test_cold_checks_with_pull_secrets_on_a_token_registry(token_auth_registry: RegistryServer, request: pytest.FixtureRequest) -> None:
    """A workload's pull secrets: the gate's own first request learns the registry asks for a
    token (one 401); after that each repository costs one token for those secrets, kept for the
    next check that brings the same secrets, and no request is sent without it."""
    variant = _variant(request)
    first, second = (push_layout(token_auth_registry, SINGLE, variant + suffix) for suffix in "ab")
    other_repository = push_layout(token_auth_registry, COSIGN_TAGS, variant)
    assert token_auth_registry.username and token_auth_registry.password
    pair = base64.b64encode(f"{token_auth_registry.username}:{token_auth_registry.password}".encode()).decode()
    context = WorkloadContext(namespace="shop", pull_secrets=json.dumps({"auths": {token_auth_registry.host: {"auth": pair}}}).encode())

    async def scenario() -> list[tuple[int, int]]:
        costs = []
        async with Engine(config_for(token_auth_registry)) as engine:
            for reference in (first, second, other_repository):
                requests, refused = engine.client.request_count, engine.client.status_counts.get(401, 0)
                result = await engine.check(reference, context)
                assert result.evaluated and result.digest, result
                costs.append((engine.client.request_count - requests, engine.client.status_counts.get(401, 0) - refused))
        return costs

    single, cosign = sum(FIRST_CONTACT[SINGLE].values()), sum(FIRST_CONTACT[COSIGN_TAGS].values())
    assert asyncio.run(scenario()) == [
        (1 + 1 + single, 1),  # the anonymous 401, the token, then the first-contact requests
        (single - 1, 0),  # same repository and secrets: no token, no referrers probe
        (1 + cosign - 1, 0),  # another repository: its token, no probe
    ]

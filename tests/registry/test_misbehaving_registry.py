"""Registries that lie, throttle, fail, stall, redirect or vanish (LyingRegistryProxyDouble)."""

from __future__ import annotations

import asyncio
import base64
import email.utils
import hashlib
import json
import re
import time

import pytest

from gate.config import Config
from gate.errors import EvidenceError, LimitExceeded, RegistryError
from gate.registry import OCI_INDEX, OCI_MANIFEST, CredentialStore, Descriptor, Reference, RegistryClient
from tests.registry.lying_proxy_double import LyingRegistryProxyDouble, Reply
from tests.support.gate_config import config_for
from tests.support.images import ImageBuilder, PushedImage
from tests.support.registry_server import RegistryServer

pytestmark = pytest.mark.anyio

OTHER_DIGEST = "sha256:" + "0" * 64


def _push(registry: RegistryServer, repo: str, payload: str = "hello") -> PushedImage:
    return ImageBuilder().layer({"a.txt": payload}).config(user="1000").push(registry, f"{repo}:1.0")


def _via(proxy: LyingRegistryProxyDouble, pushed: PushedImage, by_digest: bool = False) -> Reference:
    """The pushed image's reference, but through the proxy."""
    return Reference.parse(f"{proxy.host}/{pushed.repository}" + (f"@{pushed.digest}" if by_digest else f":{pushed.tag}"))


def _config(proxy: LyingRegistryProxyDouble, **overrides: object) -> Config:
    return config_for(proxy, **overrides)


async def _read_whole(client: RegistryClient, ref: Reference, layer: Descriptor, in_thread: bool) -> None:
    """Read a layer blob as the scanner does (in a worker thread) or whole on the event loop."""
    if in_thread:
        await client.read_blob(ref, layer, lambda chunks: sum(len(chunk) for chunk in chunks))
    else:
        await client.blob(ref, layer)


# --- digests ---------------------------------------------------------------------------------


@pytest.mark.parametrize("by_digest", [True, False])
async def test_corrupted_manifest_is_refused(registry: RegistryServer, lying_proxy: LyingRegistryProxyDouble, repo: str, by_digest: bool) -> None:
    pushed = _push(registry, repo)
    lying_proxy.corrupt_body("/manifests/")
    async with RegistryClient(_config(lying_proxy)) as client:
        with pytest.raises(RegistryError) as caught:
            await client.manifest(_via(lying_proxy, pushed, by_digest))
    # by digest the bytes miss the digest asked for; by tag they miss the registry's own header
    assert ("digest mismatch" if by_digest else "registry lied") in caught.value.message
    assert caught.value.remedy


async def test_swapped_digest_header_by_tag_is_a_lie(registry: RegistryServer, lying_proxy: LyingRegistryProxyDouble, repo: str) -> None:
    pushed = _push(registry, repo)
    lying_proxy.set_header("/manifests/", "Docker-Content-Digest", OTHER_DIGEST)
    async with RegistryClient(_config(lying_proxy)) as client:
        with pytest.raises(RegistryError, match="registry lied: .* sent Docker-Content-Digest 'sha256:0000"):
            await client.manifest(_via(lying_proxy, pushed))
        with pytest.raises(RegistryError, match="registry lied: .* answered HEAD with Docker-Content-Digest"):
            await client.resolve(_via(lying_proxy, pushed, by_digest=True))


async def test_manifest_by_tag_without_digest_header_gets_its_digest_computed(registry: RegistryServer, lying_proxy: LyingRegistryProxyDouble, repo: str) -> None:
    pushed = _push(registry, repo)
    lying_proxy.set_header("/manifests/", "Docker-Content-Digest", None)
    async with RegistryClient(_config(lying_proxy)) as client:
        assert (await client.manifest(_via(lying_proxy, pushed))).digest == pushed.digest
        # HEAD says nothing useful: resolve falls back to GET and hashes the bytes
        descriptor = await client.resolve(_via(lying_proxy, pushed))
        assert descriptor.digest == pushed.digest and descriptor.size == pushed.size
    assert [seen.method for seen in lying_proxy.seen] == ["GET", "HEAD", "GET"]


@pytest.mark.parametrize("how", ["streamed", "whole", "in a thread", "in a thread, left early"])
async def test_corrupted_blob_is_refused(registry: RegistryServer, lying_proxy: LyingRegistryProxyDouble, repo: str, how: str) -> None:
    """The last byte is flipped: a reader that left early still gets an error, never its result."""
    pushed = _push(registry, repo)
    lying_proxy.corrupt_body("/blobs/")
    ref = _via(lying_proxy, pushed)
    async with RegistryClient(_config(lying_proxy)) as client:
        layer = (await client.manifest(ref)).layers[0]
        with pytest.raises(RegistryError, match=f"digest mismatch: blob {layer.digest} of .* hashes to sha256:"):
            if how == "streamed":
                async with client.stream_blob(ref, layer) as chunks:
                    async for _ in chunks:
                        pass
            elif how == "in a thread, left early":
                await client.read_blob(ref, layer, next)
            else:
                await _read_whole(client, ref, layer, how == "in a thread")


@pytest.mark.parametrize("in_thread", [False, True])
async def test_blob_longer_than_its_descriptor_is_refused(registry: RegistryServer, lying_proxy: LyingRegistryProxyDouble, repo: str, in_thread: bool) -> None:
    pushed = _push(registry, repo)
    lying_proxy.tampers.append(lambda seen, reply: Reply(reply.status, reply.headers, reply.body + b"extra") if "/blobs/" in seen.path else reply)
    ref = _via(lying_proxy, pushed)
    async with RegistryClient(_config(lying_proxy)) as client:
        layer = (await client.manifest(ref)).layers[0]
        with pytest.raises(RegistryError, match="is longer than the .* bytes its descriptor says"):
            await _read_whole(client, ref, layer, in_thread)


# --- media types and sizes -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "content_type", "fragment"),
    [
        (
            {"schemaVersion": 2, "mediaType": "application/vnd.example.unknown+json"}, "application/vnd.example.unknown+json",
            "unknown manifest media type 'application/vnd.example.unknown+json'",
        ),
        ({"schemaVersion": 1, "name": "x", "tag": "1", "fsLayers": [], "signatures": []}, "application/vnd.docker.distribution.manifest.v1+prettyjws", "schema 1"),
    ],
)
async def test_unsupported_manifest_types_are_refused_by_name(lying_proxy: LyingRegistryProxyDouble, document: dict[str, object], content_type: str, fragment: str) -> None:
    raw = json.dumps(document).encode()
    lying_proxy.serve("/manifests/", Reply(200, {"Content-Type": content_type}, raw))
    ref = Reference.parse(f"{lying_proxy.host}/shop/odd:1")
    async with RegistryClient(_config(lying_proxy)) as client:
        with pytest.raises(EvidenceError) as caught:
            await client.manifest(ref)
        assert fragment in caught.value.message and "shop/odd:1" in caught.value.message
        with pytest.raises(EvidenceError, match=re.escape(fragment)):
            await client.resolve(ref)  # HEAD names the type; the GET fallback refuses it by name


async def test_size_cap_holds_without_content_length(registry: RegistryServer, lying_proxy: LyingRegistryProxyDouble, repo: str) -> None:
    pushed = _push(registry, repo)
    lying_proxy.omit_content_length = True
    async with RegistryClient(_config(lying_proxy, limits={"manifest_bytes": 100})) as client:
        with pytest.raises(LimitExceeded, match="larger than the 100-byte limit"):
            await client.manifest(_via(lying_proxy, pushed))


# --- throttling, failures, timeouts ----------------------------------------------------------


async def test_429_with_retry_after_seconds_is_retried(registry: RegistryServer, lying_proxy: LyingRegistryProxyDouble, repo: str) -> None:
    pushed = _push(registry, repo)
    lying_proxy.fail(1, 429, {"Retry-After": "1"})
    async with RegistryClient(_config(lying_proxy)) as client:
        started = time.monotonic()
        manifest = await client.manifest(_via(lying_proxy, pushed))
        waited = time.monotonic() - started
    assert manifest.digest == pushed.digest and client.request_count == 2
    assert 1.0 <= waited < 5.0  # honoured Retry-After: 1, not the 0.1 s backoff


async def test_retry_after_as_http_date(registry: RegistryServer, lying_proxy: LyingRegistryProxyDouble, repo: str) -> None:
    pushed = _push(registry, repo)
    lying_proxy.fail(1, 503, {"Retry-After": email.utils.formatdate(time.time() + 3, usegmt=True)})
    lying_proxy.fail(1, 503, {"Retry-After": email.utils.formatdate(time.time() - 60, usegmt=True)})
    async with RegistryClient(_config(lying_proxy)) as client:
        started = time.monotonic()
        assert (await client.manifest(_via(lying_proxy, pushed))).digest == pushed.digest
        waited = time.monotonic() - started
    # the date 3 s ahead (whole seconds, so 2-3 s) costs about 2 s, far more than the 0.1 s backoff; the past one nothing
    assert 1.5 <= waited < 6.0 and client.request_count == 3


async def test_retry_after_is_capped_by_the_timeout(registry: RegistryServer, lying_proxy: LyingRegistryProxyDouble, repo: str) -> None:
    pushed = _push(registry, repo)
    lying_proxy.fail(1, 429, {"Retry-After": "3600"})
    async with RegistryClient(_config(lying_proxy, limits={"timeout_seconds": 0.5})) as client:
        started = time.monotonic()
        await client.manifest(_via(lying_proxy, pushed))
        assert time.monotonic() - started < 2.0


@pytest.mark.parametrize(
    ("status", "fragment"),
    [(429, "is rate limiting requests"), (503, "failed with HTTP 503"), (502, "failed with HTTP 502"), (504, "failed with HTTP 504")],
)
async def test_persistent_failures_give_up_after_the_retries(lying_proxy: LyingRegistryProxyDouble, status: int, fragment: str) -> None:
    lying_proxy.fail(100, status, {"Retry-After": "0"})
    async with RegistryClient(_config(lying_proxy, limits={"retries": 2})) as client:
        with pytest.raises(RegistryError) as caught:
            await client.manifest(Reference.parse(f"{lying_proxy.host}/shop/api:1"))
    assert fragment in caught.value.message and "after 2 retries" in caught.value.message
    assert caught.value.details["status"] == status and len(lying_proxy.seen) == 3


@pytest.mark.parametrize(("status", "fragment"), [(403, "denied access"), (500, r"failed with HTTP 500 fetching manifest of \S+/shop/api:1$"), (400, "answered HTTP 400")])
async def test_other_statuses_are_not_retried(lying_proxy: LyingRegistryProxyDouble, status: int, fragment: str) -> None:
    lying_proxy.fail(100, status)
    async with RegistryClient(_config(lying_proxy)) as client:
        with pytest.raises(RegistryError, match=fragment):
            await client.manifest(Reference.parse(f"{lying_proxy.host}/shop/api:1"))
    assert len(lying_proxy.seen) == 1


async def test_stalled_registry_times_out(lying_proxy: LyingRegistryProxyDouble) -> None:
    lying_proxy.stall_seconds = 1.5
    async with RegistryClient(_config(lying_proxy, limits={"timeout_seconds": 0.3, "retries": 0})) as client:
        with pytest.raises(RegistryError) as caught:
            await client.manifest(Reference.parse(f"{lying_proxy.host}/shop/api:1"))
    assert f"registry {lying_proxy.host} could not be reached" in caught.value.message
    assert "retry" in caught.value.remedy


async def test_registry_that_goes_down_gives_a_clear_error(registry: RegistryServer, lying_proxy: LyingRegistryProxyDouble, repo: str) -> None:
    pushed = _push(registry, repo)
    async with RegistryClient(_config(lying_proxy)) as client:
        manifest = await client.manifest(_via(lying_proxy, pushed))
        lying_proxy.stop()
        with pytest.raises(RegistryError, match=f"registry {lying_proxy.host} could not be reached"):
            await client.blob(_via(lying_proxy, pushed), manifest.config)  # type: ignore[arg-type]


# --- redirects -------------------------------------------------------------------------------


@pytest.mark.parametrize("in_thread", [False, True])
async def test_blob_redirect_keeps_authorization_on_the_registry(basic_auth_registry: RegistryServer, repo: str, in_thread: bool) -> None:
    pushed = ImageBuilder().layer({"a.txt": "x"}).push(basic_auth_registry, f"{repo}:1.0")
    proxy = LyingRegistryProxyDouble(basic_auth_registry.url)
    try:
        assert basic_auth_registry.username and basic_auth_registry.password
        pair = f"{basic_auth_registry.username}:{basic_auth_registry.password}".encode()
        proxy.storage_authorization = f"Basic {base64.b64encode(pair).decode()}"
        proxy.redirect_blobs()
        store_doc = json.dumps({"auths": {proxy.host: {"username": basic_auth_registry.username, "password": basic_auth_registry.password}}}).encode()
        config = config_for(proxy, registries={"insecure": [proxy.alias_host]})
        async with RegistryClient(config, credentials=CredentialStore.from_docker_config(store_doc)) as client:
            ref = _via(proxy, pushed)
            layer = (await client.manifest(ref)).layers[0]
            await _read_whole(client, ref, layer, in_thread)
            assert client._transport.slots.in_use(proxy.alias_host.lower()) == 0  # noqa: SLF001 - the storage host's slot came back
        storage = [seen for seen in proxy.seen if seen.path.startswith("/storage-double")]
        to_registry = [seen for seen in proxy.seen if seen.path.endswith(f"/blobs/{layer.digest}")]
        assert len(storage) == 1 and "Authorization" not in storage[0].headers
        assert "Authorization" in to_registry[0].headers
    finally:
        proxy.stop()


@pytest.mark.parametrize("in_thread", [False, True])
async def test_redirect_to_plain_http_elsewhere_is_refused(registry: RegistryServer, lying_proxy: LyingRegistryProxyDouble, repo: str, in_thread: bool) -> None:
    pushed = _push(registry, repo)
    lying_proxy.redirect_blobs()
    async with RegistryClient(_config(lying_proxy)) as client:  # alias host not listed as insecure
        ref = _via(lying_proxy, pushed)
        layer = (await client.manifest(ref)).layers[0]
        with pytest.raises(RegistryError, match="redirected .* to plain-HTTP http://localhost"):
            await _read_whole(client, ref, layer, in_thread)


# --- referrers API ---------------------------------------------------------------------------


def _index(*artifact_types: str) -> bytes:
    manifests = [{"mediaType": OCI_MANIFEST, "digest": f"sha256:{i:064x}", "size": 10, "artifactType": t} for i, t in enumerate(artifact_types, 1)]
    return json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}).encode()


async def test_referrers_api_pages_are_followed_and_filtered(lying_proxy: LyingRegistryProxyDouble) -> None:
    subject = "sha256:" + "ab" * 32
    page_two = f"/v2/shop/api/referrers/{subject}?last=2"
    lying_proxy.serve(page_two, Reply(200, {"Content-Type": OCI_INDEX}, _index("application/c")))
    first = Reply(200, {"Content-Type": OCI_INDEX, "Link": f'<{page_two}>; rel="next"'}, _index("application/a", "application/b"))
    lying_proxy.serve(f"/referrers/{subject}", first)
    ref = Reference.parse(f"{lying_proxy.host}/shop/api:1")
    async with RegistryClient(_config(lying_proxy)) as client:
        found = await client.referrers(ref, subject)
        assert [d.artifact_type for d in found] == ["application/a", "application/b", "application/c"]
        # the server may ignore the filter; the client applies it anyway
        assert [d.artifact_type for d in await client.referrers(ref, subject, artifact_type="application/b")] == ["application/b"]
    assert "artifactType=application%2Fb" in lying_proxy.seen[-2].path
    assert not any("/manifests/" in seen.path for seen in lying_proxy.seen)  # no tag-schema fallback


async def test_concurrent_listings_each_ask_a_referrers_api_that_answers(lying_proxy: LyingRegistryProxyDouble) -> None:
    subjects = ["sha256:" + f"{i:02x}" * 32 for i in range(1, 4)]
    for subject in subjects:
        lying_proxy.serve(f"/referrers/{subject}", Reply(200, {"Content-Type": OCI_INDEX}, _index(f"application/{subject[7:9]}")))
    ref = Reference.parse(f"{lying_proxy.host}/shop/api:1")
    async with RegistryClient(_config(lying_proxy)) as client:
        found = await asyncio.gather(*(client.referrers(ref, subject) for subject in subjects))
    assert [[d.artifact_type for d in listing] for listing in found] == [["application/01"], ["application/02"], ["application/03"]]
    assert sorted(seen.path.rsplit("/", 1)[-1] for seen in lying_proxy.seen) == subjects
    assert not any("/manifests/" in seen.path for seen in lying_proxy.seen)


async def test_referrers_api_that_answers_non_index_falls_back(registry: RegistryServer, lying_proxy: LyingRegistryProxyDouble, repo: str) -> None:
    pushed = _push(registry, repo)
    lying_proxy.serve("/referrers/", Reply(200, {"Content-Type": "text/html"}, b"<html>hello</html>"))
    async with RegistryClient(_config(lying_proxy)) as client:
        assert await client.referrers(_via(lying_proxy, pushed), pushed.digest) == []
    assert lying_proxy.seen[-1].path.endswith(f"/manifests/sha256-{pushed.digest.removeprefix('sha256:')}")


async def test_referrers_api_errors_are_not_mistaken_for_a_missing_api(lying_proxy: LyingRegistryProxyDouble) -> None:
    lying_proxy.fail(100, 500, path_contains="/referrers/")
    async with RegistryClient(_config(lying_proxy)) as client:
        with pytest.raises(RegistryError, match="failed with HTTP 500 fetching referrers"):
            await client.referrers(Reference.parse(f"{lying_proxy.host}/shop/api:1"), "sha256:" + "ab" * 32)
    assert not any("/manifests/" in seen.path for seen in lying_proxy.seen)


async def test_head_not_allowed_resolves_by_get(registry: RegistryServer, lying_proxy: LyingRegistryProxyDouble, repo: str) -> None:
    pushed = _push(registry, repo)
    lying_proxy.serve("/manifests/", Reply(405), method="HEAD")
    async with RegistryClient(_config(lying_proxy)) as client:
        assert (await client.resolve(_via(lying_proxy, pushed))).digest == pushed.digest


# --- sha512 ----------------------------------------------------------------------------------


async def test_sha512_digests_are_verified(registry: RegistryServer, lying_proxy: LyingRegistryProxyDouble, repo: str) -> None:
    # registry 2.8 stores sha256 only, so the double serves the same bytes under their sha512 names
    pushed = _push(registry, repo)
    manifest_512 = "sha512:" + hashlib.sha512(pushed.raw).hexdigest()
    config = ImageBuilder().layer({"a.txt": "hello"}).config(user="1000").config_bytes()
    config_512 = "sha512:" + hashlib.sha512(config).hexdigest()
    lying_proxy.serve(f"/manifests/{manifest_512}", Reply(200, {"Content-Type": OCI_MANIFEST}, pushed.raw))
    lying_proxy.serve(f"/blobs/{config_512}", Reply(200, {}, config))
    ref = Reference.parse(f"{lying_proxy.host}/{repo}@{manifest_512}")
    async with RegistryClient(_config(lying_proxy)) as client:
        assert (await client.manifest(ref)).digest == manifest_512
        assert await client.blob(ref, config_512) == config
        lying_proxy.corrupt_body("/")
        with pytest.raises(RegistryError, match="digest mismatch: manifest .* hashes to sha512:"):
            await client.manifest(ref)
        with pytest.raises(RegistryError, match=f"digest mismatch: blob {config_512}"):
            await client.blob(ref, config_512)

"""The registry client against Debian's real registry 2.8 (anonymous, plain HTTP)."""

from __future__ import annotations

import asyncio
import os
import time

import pytest

from gate.config import Config
from gate.errors import EvidenceError, LimitExceeded, RegistryError
from gate.registry import DOCKER_LIST, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST, Reference, RegistryClient
from tests.registry.lying_proxy_double import LyingRegistryProxyDouble
from tests.support.artifacts import Blob, push_artifact, push_cosign_tag, push_index
from tests.support.gate_config import config_for
from tests.support.images import ImageBuilder, Media
from tests.support.registry_server import RegistryServer, free_port

pytestmark = pytest.mark.anyio


def _image(media: Media = "oci", platform: str = "linux/amd64", payload: str = "hello") -> ImageBuilder:
    return ImageBuilder(platform=platform, media=media).layer({"app/hello.txt": payload}).config(user="1000")


@pytest.mark.parametrize(("media", "media_type"), [("oci", OCI_MANIFEST), ("docker", DOCKER_MANIFEST)])
async def test_resolve_and_fetch_by_tag_and_by_digest(registry: RegistryServer, gate_config: Config, repo: str, media: Media, media_type: str) -> None:
    pushed = _image(media).push(registry, f"{repo}:1.0")
    by_tag, by_digest = Reference.parse(pushed.ref), Reference.parse(pushed.by_digest)
    async with RegistryClient(gate_config) as client:
        for ref in (by_tag, by_digest):
            descriptor = await client.resolve(ref)
            assert (descriptor.digest, descriptor.media_type, descriptor.size) == (pushed.digest, media_type, pushed.size)
            manifest = await client.manifest(ref)
            assert (manifest.digest, manifest.media_type, manifest.raw) == (pushed.digest, media_type, pushed.raw)
            assert manifest.config is not None and manifest.config.digest == pushed.config_digest


@pytest.mark.parametrize(("media", "media_type"), [("oci", OCI_INDEX), ("docker", DOCKER_LIST)])
async def test_index_and_manifest_list(registry: RegistryServer, gate_config: Config, repo: str, media: Media, media_type: str) -> None:
    index = push_index(registry, f"{repo}:multi", [_image(media, "linux/amd64", "a"), _image(media, "linux/arm64", "b")])
    async with RegistryClient(gate_config) as client:
        manifest = await client.manifest(Reference.parse(index.ref))
        assert manifest.is_index and manifest.media_type == media_type and manifest.digest == index.digest
        assert [d.platform["architecture"] for d in manifest.manifests if d.platform] == ["amd64", "arm64"]
        child = await client.manifest(Reference.parse(index.ref).with_digest(manifest.manifests[1].digest))
        assert child.digest == index.images[1].digest and not child.is_index


async def test_blob_and_streamed_layer_are_verified(registry: RegistryServer, gate_config: Config, repo: str) -> None:
    big = os.urandom(3 * 1024 * 1024)  # incompressible, so the layer arrives in many chunks
    image = ImageBuilder().layer({"data.bin": big}, compression="none").config(user="1000")
    pushed = image.push(registry, f"{repo}:big")
    ref = Reference.parse(pushed.ref)
    async with RegistryClient(gate_config) as client:
        manifest = await client.manifest(ref)
        assert await client.blob(ref, manifest.config) == image.config_bytes()  # type: ignore[arg-type]
        layer = manifest.layers[0]
        async with client.stream_blob(ref, layer) as chunks:
            sizes = [len(chunk) async for chunk in chunks]
        assert sum(sizes) == layer.size and len(sizes) > 1 and max(sizes) <= 1024 * 1024  # streamed, never whole
        assert chunks.verified
        # by bare digest too (no size known in advance)
        assert await client.blob(ref, pushed.config_digest) == image.config_bytes()


async def test_stream_left_early_is_still_checked_on_exit(registry: RegistryServer, gate_config: Config, repo: str) -> None:
    image = ImageBuilder().layer({"data.bin": os.urandom(512 * 1024)}, compression="none")
    ref = Reference.parse(image.push(registry, f"{repo}:x").ref)
    async with RegistryClient(gate_config) as client:
        layer = (await client.manifest(ref)).layers[0]
        async with client.stream_blob(ref, layer) as chunks:
            async for _ in chunks:
                break
        assert chunks.verified and chunks.bytes_read == layer.size


async def test_blob_over_its_cap_is_refused_before_any_request(registry: RegistryServer, gate_config: Config, repo: str) -> None:
    image = ImageBuilder().layer({"data.bin": os.urandom(4096)}, compression="none")
    ref = Reference.parse(image.push(registry, f"{repo}:x").ref)
    async with RegistryClient(gate_config) as client:
        layer = (await client.manifest(ref)).layers[0]
        before = client.request_count
        with pytest.raises(LimitExceeded, match="larger than the 1000-byte limit"):
            await client.blob(ref, layer, max_bytes=1000)
        assert client.request_count == before


async def test_blob_over_its_cap_by_bare_digest_stops_reading(registry: RegistryServer, repo: str) -> None:
    image = ImageBuilder().layer({"data.bin": os.urandom(4096)}, compression="none")
    pushed = image.push(registry, f"{repo}:x")
    async with RegistryClient(config_for(registry, limits={"blob_bytes": 1000})) as client:
        with pytest.raises(LimitExceeded, match="blob sha256:"):
            await client.blob(Reference.parse(pushed.ref), pushed.layer_digests[0])


async def test_oversized_manifest_is_refused(registry: RegistryServer, repo: str) -> None:
    pushed = _image().push(registry, f"{repo}:1.0")
    async with RegistryClient(config_for(registry, limits={"manifest_bytes": pushed.size - 1})) as client:
        with pytest.raises(LimitExceeded, match=f"manifest of .*{repo}:1.0 is larger than the {pushed.size - 1}-byte limit") as caught:
            await client.manifest(Reference.parse(pushed.ref))
        assert caught.value.details["limit"] == pushed.size - 1
        with pytest.raises(LimitExceeded):
            await client.resolve(Reference.parse(pushed.ref))


async def test_unknown_tag_and_repository_are_clear_404s(registry: RegistryServer, gate_config: Config, repo: str) -> None:
    _image().push(registry, f"{repo}:1.0")
    async with RegistryClient(gate_config) as client:
        for text in (f"{registry.host}/{repo}:nope", f"{registry.host}/{repo}-missing:1.0"):
            for call in (client.resolve, client.manifest):
                with pytest.raises(RegistryError) as caught:
                    await call(Reference.parse(text))
                assert "manifest unknown: tag or digest not found in repository" in caught.value.message
                assert caught.value.details["status"] == 404 and caught.value.details["registry"] == registry.host


async def test_cosign_tags_are_found_or_none(registry: RegistryServer, gate_config: Config, repo: str) -> None:
    pushed = _image().push(registry, f"{repo}:1.0")
    layer = Blob(b'{"critical":{}}', "application/vnd.dev.cosign.simplesigning.v1+json", {"dev.cosignproject.cosign/signature": "MEUC"})
    signature = push_cosign_tag(registry, pushed, ".sig", [layer])
    hexpart = pushed.digest.removeprefix("sha256:")
    async with RegistryClient(gate_config) as client:
        ref = Reference.parse(pushed.ref)
        found = await client.tag_manifest(ref, f"sha256-{hexpart}.sig")
        assert found is not None and found.digest == signature.digest
        assert found.layers[0].annotations["dev.cosignproject.cosign/signature"] == "MEUC"
        assert await client.tag_manifest(ref, f"sha256-{hexpart}.att") is None


async def test_referrers_fall_back_to_the_tag_schema_on_registry_2_8(registry: RegistryServer, gate_config: Config, repo: str) -> None:
    subject = _image().push(registry, f"{repo}:1.0")
    sbom = push_artifact(registry, subject, "application/vnd.cyclonedx+json", [Blob(b"{}", "application/vnd.cyclonedx+json")])
    bundle = push_artifact(registry, subject, "application/vnd.dev.sigstore.bundle.v0.3+json", annotations={"k": "v"})
    ref = Reference.parse(subject.ref)
    async with RegistryClient(gate_config) as client:
        found = await client.referrers(ref, subject.digest)
        assert {d.digest for d in found} == {sbom.digest, bundle.digest}
        assert next(d for d in found if d.digest == bundle.digest).annotations == {"k": "v"}
        only = await client.referrers(ref, subject.digest, artifact_type="application/vnd.cyclonedx+json")
        assert [d.digest for d in only] == [sbom.digest]
        other = _image(payload="other").push(registry, f"{repo}:2.0")
        before = client.request_count
        assert await client.referrers(ref, other.digest) == []
        assert client.request_count - before == 1, "the missing referrers API is remembered: only the fallback tag is read"


async def test_concurrent_referrers_listings_probe_a_registry_once(registry: RegistryServer, gate_config: Config, repo: str) -> None:
    subjects = [_image(payload=f"subject {i}").push(registry, f"{repo}:{i}") for i in range(3)]
    sbom = push_artifact(registry, subjects[1], "application/vnd.cyclonedx+json", [Blob(b"{}", "application/vnd.cyclonedx+json")])
    ref = Reference.parse(subjects[0].ref)
    async with RegistryClient(gate_config) as client:
        found = await asyncio.gather(*(client.referrers(ref, subject.digest) for subject in subjects))
        assert [[d.digest for d in listing] for listing in found] == [[], [sbom.digest], []]
        # one referrers API probe (404 on registry 2.8), then one fallback tag per subject
        assert client.status_counts.get("absent") == 1 + 2
        assert client.request_count == 1 + 3


async def test_absent_tags_and_a_missing_referrers_api_keep_the_connection(registry: RegistryServer, repo: str) -> None:
    """Discovery's usual answers are 404s; reading their bodies lets one kept-alive connection
    carry every request, where closing them unread would cost a new connection each."""
    subject = _image().push(registry, f"{repo}:1.0")
    proxy = LyingRegistryProxyDouble(registry.url, keep_alive=True)
    try:
        ref = Reference.parse(subject.ref.replace(registry.host, proxy.host, 1))
        async with RegistryClient(config_for(proxy)) as client:
            for suffix in (".sig", ".att", ".sbom"):
                assert await client.tag_manifest(ref, subject.digest.replace(":", "-") + suffix) is None
            assert await client.referrers(ref, subject.digest) == []  # API probe (404), then the tag schema (404)
            assert (await client.manifest(ref)).digest == subject.digest
        assert len(proxy.seen) == 6 and proxy.connections == 1
    finally:
        proxy.stop()


async def test_request_count_counts_every_request(registry: RegistryServer, gate_config: Config, repo: str) -> None:
    pushed = _image().push(registry, f"{repo}:1.0")
    async with RegistryClient(gate_config) as client:
        assert client.request_count == 0
        await client.resolve(Reference.parse(pushed.ref))
        await client.manifest(Reference.parse(pushed.ref))
        assert client.request_count == 2  # one HEAD, one GET: no auth round trips on an open registry


async def test_unreachable_port_fails_fast_and_clearly(repo: str) -> None:
    host = f"127.0.0.1:{free_port()}"
    started = time.monotonic()
    async with RegistryClient(config_for(_Host(host))) as client:
        with pytest.raises(RegistryError) as caught:
            await client.manifest(Reference.parse(f"{host}/{repo}:1.0"))
        assert client.request_count == 4  # the first try and limits.retries (3) retries
    assert time.monotonic() - started < 3
    assert f"registry {host} could not be reached" in caught.value.message and caught.value.remedy


async def test_https_is_used_unless_the_host_is_insecure(registry: RegistryServer, repo: str) -> None:
    pushed = _image().push(registry, f"{repo}:1.0")
    async with RegistryClient(config_for(limits={"retries": 0})) as client:
        with pytest.raises(RegistryError) as caught:
            await client.manifest(Reference.parse(pushed.ref))  # a TLS handshake against plain HTTP fails
    assert registry.host in caught.value.message


async def test_bad_digest_arguments_are_refused(registry: RegistryServer, gate_config: Config) -> None:
    ref = Reference.parse(f"{registry.host}/a/b:1")
    async with RegistryClient(gate_config) as client:
        with pytest.raises(EvidenceError, match="sha256 digest must be 64 lowercase hex"):
            await client.blob(ref, "sha256:abc")
        with pytest.raises(EvidenceError, match="algorithm 'md5' is not supported"):
            await client.referrers(ref, "md5:abc")
        assert client.request_count == 0, "a malformed digest is refused before any request"
        assert client.request_count == 0


class _Host:
    def __init__(self, host: str) -> None:
        self.host = host

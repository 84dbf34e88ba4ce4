"""Pushing with the registry client: blobs, manifests and referrers, against Debian's registry 2.8
(no referrers API, so referrers go into the tag-schema index), and through the lying proxy double
to play a registry that has the API, or that refuses or lies about a push."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from gate.config import Config
from gate.errors import EvidenceError, RegistryError
from gate.registry import OCI_MANIFEST, Descriptor, Reference, RegistryClient
from tests.registry.lying_proxy_double import LyingRegistryProxyDouble, Reply, Seen
from tests.support.artifacts import Blob, push_artifact, referrers_tag
from tests.support.gate_config import config_for
from tests.support.images import ImageBuilder, PushedImage
from tests.support.push import client_for, sha256_digest
from tests.support.registry_server import RegistryServer

pytestmark = pytest.mark.anyio
ARTIFACT = "application/vnd.example.note+json"


def _uploads_through(proxy: LyingRegistryProxyDouble, registry: RegistryServer) -> None:
    """The registry names its own host in upload locations; behind the proxy it would name the proxy's."""

    def tamper(seen: Seen, reply: Reply) -> Reply:
        location = reply.headers.get("Location") or reply.headers.get("location")
        if location is None:
            return reply
        headers = {k: v for k, v in reply.headers.items() if k.lower() != "location"}
        return replace(reply, headers=headers | {"Location": location.replace(registry.host, proxy.host)})

    proxy.tampers.append(tamper)


def _image(repo: str, registry: RegistryServer) -> PushedImage:
    return ImageBuilder().layer({"app/hello.txt": "hello"}).config(user="1000").push(registry, f"{repo}:1")


async def _attach(client: RegistryClient, ref: Reference, subject: PushedImage, note: bytes) -> Descriptor:
    return await client.push_artifact(ref, Descriptor(OCI_MANIFEST, subject.digest, subject.size), note, ARTIFACT, {"note": note.decode()})


async def test_pushed_blob_is_stored_once(registry: RegistryServer, gate_config: Config, repo: str) -> None:
    ref = Reference.parse(f"{registry.host}/{repo}:x")
    async with RegistryClient(gate_config) as client:
        first = await client.push_blob(ref, b"some bytes", ARTIFACT)
        sent = client.request_count
        again = await client.push_blob(ref, b"some bytes", ARTIFACT)
        assert client.request_count - sent == 1, "a blob the registry has is not uploaded again"
        assert first == again and first.digest == sha256_digest(b"some bytes")
        assert await client.blob(ref, first) == b"some bytes"


async def test_referrer_goes_into_the_tag_schema_index_beside_what_it_listed(registry: RegistryServer, gate_config: Config, repo: str) -> None:
    pushed = _image(repo, registry)
    earlier = push_artifact(registry, pushed, "application/vnd.example.other+json", [Blob({"a": 1}, "application/json")])
    ref = Reference.parse(pushed.ref)
    async with RegistryClient(gate_config) as client:
        descriptor = await _attach(client, ref, pushed, b"first")
        again = await _attach(client, ref, pushed, b"first")  # the same manifest: listed once
        listed = await client.referrers(ref, pushed.digest)
        manifest = await client.manifest(ref.with_digest(descriptor.digest))
    assert again == descriptor
    assert [d.digest for d in listed] == [earlier.digest, descriptor.digest]
    ours = listed[1]
    assert (ours.artifact_type, ours.annotations, ours.size) == (ARTIFACT, {"note": "first"}, descriptor.size)
    assert manifest.subject is not None and manifest.subject.digest == pushed.digest
    assert manifest.config is not None and manifest.config.media_type == "application/vnd.oci.empty.v1+json"
    assert [(layer.media_type, layer.digest) for layer in manifest.layers] == [(ARTIFACT, sha256_digest(b"first"))]


async def test_registry_with_referrers_api_gets_no_fallback_tag(
    registry: RegistryServer, lying_proxy: LyingRegistryProxyDouble, repo: str
) -> None:
    """A registry that answers ``OCI-Subject`` indexes the subject itself: no tag is written."""
    pushed = _image(repo, registry)
    _uploads_through(lying_proxy, registry)
    lying_proxy.set_header("/manifests/sha256:", "OCI-Subject", pushed.digest)
    ref = Reference.parse(f"{lying_proxy.host}/{repo}:1")
    async with RegistryClient(config_for(lying_proxy)) as client:
        await _attach(client, ref, pushed, b"api")
    assert client_for(registry).get_manifest(repo, referrers_tag(pushed.digest)) is None
    assert not [s for s in lying_proxy.seen if s.method == "PUT" and referrers_tag(pushed.digest) in s.path]


async def test_upload_sent_to_another_host_is_refused(registry: RegistryServer, lying_proxy: LyingRegistryProxyDouble, repo: str) -> None:
    """Behind the proxy, the registry's upload location names the registry's own host: credentials
    for the proxy's host must not follow it there."""
    ref = Reference.parse(f"{lying_proxy.host}/{repo}:1")
    async with RegistryClient(config_for(lying_proxy)) as client:
        with pytest.raises(RegistryError, match=f"sends the upload of .* to another host {registry.host}; refusing"):
            await client.push_blob(ref, b"note", ARTIFACT)


async def test_refused_push_names_the_remedy(lying_proxy: LyingRegistryProxyDouble, repo: str) -> None:
    lying_proxy.serve("/blobs/uploads/", Reply(403, {"Content-Type": "application/json"}, b'{"errors":[{"code":"DENIED"}]}'))
    ref = Reference.parse(f"{lying_proxy.host}/{repo}:1")
    async with RegistryClient(config_for(lying_proxy)) as client:
        with pytest.raises(RegistryError, match=r"refused to store blob .* \(HTTP 403\) \[DENIED\]") as raised:
            await client.push_blob(ref, b"note", ARTIFACT)
    assert "push access" in raised.value.remedy


async def test_registry_that_stores_another_digest_is_a_liar(registry: RegistryServer, lying_proxy: LyingRegistryProxyDouble, repo: str) -> None:
    pushed = _image(repo, registry)
    _uploads_through(lying_proxy, registry)
    lying_proxy.set_header("/manifests/", "Docker-Content-Digest", "sha256:" + "0" * 64)
    ref = Reference.parse(f"{lying_proxy.host}/{repo}:1")
    async with RegistryClient(config_for(lying_proxy)) as client:
        with pytest.raises(RegistryError, match="registry lied"):
            await _attach(client, ref, pushed, b"lie")


async def test_referrer_without_subject_or_over_a_foreign_tag_is_refused(registry: RegistryServer, gate_config: Config, repo: str) -> None:
    pushed = _image(repo, registry)
    ref = Reference.parse(pushed.ref)
    ImageBuilder().layer({"x": "y"}).config(user="1").push(registry, f"{repo}:{referrers_tag(pushed.digest)}")
    empty = {"mediaType": "application/vnd.oci.empty.v1+json", "digest": sha256_digest(b"{}"), "size": 2}
    orphan = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": ARTIFACT, "config": empty, "layers": [empty]}
    async with RegistryClient(gate_config) as client:
        with pytest.raises(EvidenceError, match="needs a subject"):
            await client.push_referrer(ref, json.dumps(orphan).encode())
        with pytest.raises(RegistryError, match="not an index; not overwriting"):
            await _attach(client, ref, pushed, b"x")

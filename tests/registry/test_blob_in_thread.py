"""``RegistryClient.read_blob``: a blob fetched by blocking calls in the thread that consumes it keeps
every property of the async stream (digest and size checks, caps, auth, redirects, retries, host
slots, request counts). Corrupt, overlong and redirected blobs are covered beside the async reads in test_misbehaving_registry."""

from __future__ import annotations

import asyncio
import hashlib
import os
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import replace

import pytest

from gate.errors import LimitExceeded, RegistryError
from gate.registry import CredentialStore, Reference, RegistryClient
from tests.registry.lying_proxy_double import LyingRegistryProxyDouble, Reply, Seen
from tests.support.gate_config import config_for
from tests.support.images import ImageBuilder, PushedImage
from tests.support.registry_server import RegistryServer

pytestmark = pytest.mark.anyio


def _push(registry: RegistryServer, repo: str) -> PushedImage:
    return ImageBuilder().layer({"a.txt": "hello " * 50_000, "b.bin": bytes(range(256)) * 4_000}).config(user="1000").push(registry, f"{repo}:1.0")


def _via(proxy: LyingRegistryProxyDouble, pushed: PushedImage) -> Reference:
    return Reference.parse(f"{proxy.host}/{pushed.repository}:{pushed.tag}")


class _Consumer:
    """Consumes chunks in the worker thread, recording what it saw and where it ran."""

    def __init__(self) -> None:
        self.read = 0
        self.thread: threading.Thread | None = None

    def __call__(self, chunks: Iterator[bytes]) -> bytes:
        self.thread = threading.current_thread()
        digest = hashlib.sha256()
        for chunk in chunks:
            digest.update(chunk)
            self.read += len(chunk)
        return digest.digest()


async def test_the_consumer_gets_the_whole_blob_in_a_worker_thread(registry: RegistryServer, repo: str) -> None:
    pushed = _push(registry, repo)
    ref = Reference.parse(pushed.ref)
    async with RegistryClient(config_for(registry)) as client:
        layer = (await client.manifest(ref)).layers[0]
        sent = client.request_count
        consumer = _Consumer()
        result = await client.read_blob(ref, layer, consumer)
        assert result == bytes.fromhex(layer.digest.removeprefix("sha256:"))
        assert consumer.read == layer.size and consumer.thread is not threading.main_thread()
        assert client.request_count == sent + 1 and client.status_counts[200] >= 2
        assert client._transport.slots.in_use(registry.host.lower()) == 0  # noqa: SLF001 - the slot came back


async def test_the_layer_cap_holds_without_content_length(registry: RegistryServer, lying_proxy: LyingRegistryProxyDouble, repo: str) -> None:
    pushed = _push(registry, repo)
    lying_proxy.omit_content_length = True
    ref = _via(lying_proxy, pushed)
    async with RegistryClient(config_for(lying_proxy)) as client:
        layer = (await client.manifest(ref)).layers[0]
    understated = replace(layer, size=500)  # within the cap, so only the bytes as they stream can show it
    async with RegistryClient(config_for(lying_proxy, limits={"layer_bytes": 1000})) as client:
        with pytest.raises(LimitExceeded, match="larger than the 1000-byte limit"):
            await client.read_blob(ref, understated, _Consumer())


async def test_throttling_is_retried_and_errors_are_named(registry: RegistryServer, lying_proxy: LyingRegistryProxyDouble, repo: str) -> None:
    pushed = _push(registry, repo)
    ref = _via(lying_proxy, pushed)
    async with RegistryClient(config_for(lying_proxy, limits={"retries": 2})) as client:
        layer = (await client.manifest(ref)).layers[0]
        sent = client.request_count
        lying_proxy.fail(2, 503, path_contains="/blobs/")
        assert await client.read_blob(ref, layer, _Consumer()) == bytes.fromhex(layer.digest.removeprefix("sha256:"))
        assert client.request_count == sent + 3
        lying_proxy.serve("/blobs/", Reply(404, {"Content-Type": "application/json"}, b'{"errors":[{"code":"BLOB_UNKNOWN"}]}'))
        with pytest.raises(RegistryError, match="not found"):
            await client.read_blob(ref, layer, _Consumer())


async def test_a_stalled_blob_times_out(registry: RegistryServer, lying_proxy: LyingRegistryProxyDouble, repo: str) -> None:
    pushed = _push(registry, repo)
    ref = _via(lying_proxy, pushed)
    async with RegistryClient(config_for(lying_proxy, limits={"timeout_seconds": 0.3, "retries": 0})) as client:
        layer = (await client.manifest(ref)).layers[0]
        lying_proxy.stall_seconds = 1.5
        with pytest.raises(RegistryError, match=f"registry {lying_proxy.host} could not be reached"):
            await client.read_blob(ref, layer, _Consumer())


async def test_a_refused_token_is_answered_from_the_worker_thread(token_auth_registry: RegistryServer, repo: str) -> None:
    """The blob is the first request: its 401 challenge is answered on the event loop, then retried."""
    pushed = _push(token_auth_registry, repo)
    ref = Reference.parse(pushed.ref)
    assert token_auth_registry.username and token_auth_registry.password
    store = CredentialStore.from_docker_config(json.dumps(
        {"auths": {token_auth_registry.host: {"username": token_auth_registry.username, "password": token_auth_registry.password}}}).encode())
    async with RegistryClient(config_for(token_auth_registry), credentials=store) as client:
        layer = (await client.manifest(ref)).layers[0]
    async with RegistryClient(config_for(token_auth_registry), credentials=store) as client:
        assert await client.read_blob(ref, layer, _Consumer()) == bytes.fromhex(layer.digest.removeprefix("sha256:"))
        assert client.request_count == 3  # 401, token, retry
        assert client.status_counts[401] == 1


async def test_one_connection_per_host_is_shared_by_concurrent_reads(registry: RegistryServer, repo: str) -> None:
    """With one slot, two concurrent reads take turns instead of exceeding the host's share."""
    pushed = _push(registry, repo)
    ref = Reference.parse(pushed.ref)
    async with RegistryClient(config_for(registry, limits={"connections_per_host": 1, "timeout_seconds": 5.0, "retries": 0})) as client:
        layer = (await client.manifest(ref)).layers[0]
        inside = threading.Semaphore(1)
        overlapped: list[bool] = []

        def consume(chunks: Iterator[bytes]) -> bytes:
            overlapped.append(not inside.acquire(blocking=False))
            try:
                time.sleep(0.2)  # long enough for the other reads to start, were they let in
                return _Consumer()(chunks)
            finally:
                inside.release()

        results = await asyncio.gather(*(client.read_blob(ref, layer, consume) for _ in range(3)))
        assert len(set(results)) == 1 and overlapped == [False, False, False]
        assert client._transport.slots.in_use(registry.host.lower()) == 0  # noqa: SLF001


async def test_cancelling_the_read_stops_the_thread_at_its_next_chunk(registry: RegistryServer, repo: str) -> None:
    pushed = ImageBuilder().layer({"noise.bin": os.urandom(6 * 1024 * 1024)}).config(user="1000").push(registry, f"{repo}:1.0")
    ref = Reference.parse(pushed.ref)
    started, ended = threading.Event(), threading.Event()
    seen: list[int] = []
    failures: list[BaseException] = []

    def slow(chunks: Iterator[bytes]) -> None:
        try:
            for chunk in chunks:
                seen.append(len(chunk))
                started.set()
                time.sleep(0.2)
        except BaseException as exc:
            failures.append(exc)
            raise
        finally:
            ended.set()

    async with RegistryClient(config_for(registry)) as client:
        layer = (await client.manifest(ref)).layers[0]
        reading = asyncio.ensure_future(client.read_blob(ref, layer, slow))
        while not started.is_set():
            await asyncio.sleep(0.01)
        reading.cancel()
        with pytest.raises(asyncio.CancelledError):
            await reading
        assert await asyncio.to_thread(ended.wait, 10)
    assert sum(seen) < layer.size
    assert len(failures) == 1 and "cancelled" in str(failures[0])


async def test_a_refused_token_leaves_the_host_slot_free(registry: RegistryServer, lying_proxy: LyingRegistryProxyDouble, repo: str) -> None:
    """The blob's 401 gives its slot back before the token request, which goes to the same host
    (with one slot per host it would otherwise wait for itself), and a refusal keeps no slot."""
    pushed = _push(registry, repo)
    state = {"accepted": "tok-1", "token": Reply(200, {}, b'{"token": "tok-1", "expires_in": 300}')}
    challenge = f'Bearer realm="http://{lying_proxy.host}/oauth2/token",service="double"'

    def gate(seen: Seen) -> Reply | None:
        if seen.path.startswith("/oauth2/token"):
            return state["token"]
        if seen.headers.get("Authorization") != f"Bearer {state['accepted']}":
            return Reply(401, {"WWW-Authenticate": challenge}, b'{"errors":[{"code":"UNAUTHORIZED"}]}')
        return None

    lying_proxy.answers.append(gate)
    ref = _via(lying_proxy, pushed)
    async with RegistryClient(config_for(lying_proxy, limits={"connections_per_host": 1, "timeout_seconds": 3.0, "retries": 0})) as client:
        layer = (await client.manifest(ref)).layers[0]
        state["accepted"], state["token"] = "tok-2", Reply(401, {}, b"")  # the cached token is revoked; no new one is issued
        with pytest.raises(RegistryError, match="authentication failed for registry"):
            await client.read_blob(ref, layer, _Consumer())
        await asyncio.sleep(0)
        assert client._transport.slots.in_use(lying_proxy.host.lower()) == 0  # noqa: SLF001

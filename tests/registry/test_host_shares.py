"""Each registry host gets a bounded share of connections; a stalling host never starves another."""

from __future__ import annotations

import asyncio

import pytest

from gate.errors import LimitExceeded, RegistryError
from gate.registry import Reference, RegistryClient
from tests.support.gate_config import config_for
from tests.support.images import ImageBuilder
from tests.support.registry_server import RegistryServer
from tests.support.stalling_host import StallingHostDouble

pytestmark = pytest.mark.anyio


async def test_every_kind_of_request_gives_its_slot_back(registry: RegistryServer, repo: str) -> None:
    """With one slot per host, a slot kept by any finished request would make the next one time out."""
    pushed = ImageBuilder().layer({"app/a": "a" * 4096}).config(user="1000").push(registry, f"{repo}:1")
    config = config_for(registry, limits={"connections_per_host": 1, "timeout_seconds": 2.0, "retries": 0})
    ref = Reference.parse(pushed.ref)
    async with RegistryClient(config) as client:
        for _ in range(3):
            manifest = await client.manifest(ref)
            await client.resolve(ref)
            assert await client.tag_manifest(ref, "missing") is None
            with pytest.raises(RegistryError):
                await client.manifest(ref.with_tag("absent"))
            async with client.stream_blob(ref, manifest.layers[0]) as chunks:
                await chunks.__anext__()  # left early: the exit drains, checks and closes
            await client.referrers(ref, manifest.digest)
            with pytest.raises(LimitExceeded):
                await client.blob(ref, manifest.layers[0], max_bytes=10)


async def test_a_stalling_host_holds_only_its_own_share(registry: RegistryServer, repo: str) -> None:
    pushed = ImageBuilder().layer({"app/b": "b"}).config(user="1000").push(registry, f"{repo}:1")
    with StallingHostDouble() as stalling:
        config = config_for(registry, stalling, limits={"connections_per_host": 4, "timeout_seconds": 30.0, "retries": 0})
        async with RegistryClient(config) as client:
            flood = [asyncio.ensure_future(client.manifest(Reference.parse(f"{stalling.host}/flood/{n}:1"))) for n in range(200)]
            while stalling.accepted < 4:
                await asyncio.sleep(0.02)
            manifest = await client.manifest(Reference.parse(pushed.ref))  # answered while 200 requests stall
            assert manifest.digest == pushed.digest
            assert stalling.accepted == 4, "the stalling host got more than its share of connections"
            for task in flood:
                task.cancel()
            await asyncio.gather(*flood, return_exceptions=True)

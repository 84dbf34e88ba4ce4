"""A whole ``gate check`` with layer scanning against plain fetch + inflate, both over the registry.

Run: ``.venv/bin/python bench/check_bench.py`` (or ``python -m bench check_bench``). Pushes the
~400 MB layers of ``scan_bench`` to Debian's registry on loopback, then alternates, in one run:

* baseline: stream each layer blob over HTTP in 1 MiB chunks and inflate it with ``zlib`` on one
  thread, discarding the output;
* gate: ``Engine.check`` of the image with a fresh engine (no cached layer scans): discovery,
  config, every layer streamed through the scanner, Rego.

Prints MB/s over compressed bytes and the ratio gate/baseline (best of the rounds).
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
import zlib
from collections.abc import Callable
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.scan_bench import MB, ROUNDS, blobs  # noqa: E402
from gate.config import from_mapping  # noqa: E402
from gate.engine import Engine  # noqa: E402
from tests.support.push import client_for, sha256_digest  # noqa: E402
from tests.support.registry_server import RegistryServer, start_registry  # noqa: E402

REPOSITORY = "bench/check"
LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"


def push(registry: RegistryServer, paths: list[Path]) -> list[str]:
    """Push the layers and a minimal image over them; return the layer digests."""
    client = client_for(registry)
    layers = [{"mediaType": LAYER_TYPE, "digest": client.push_blob(REPOSITORY, path.read_bytes()), "size": path.stat().st_size} for path in paths]
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {"User": "10001"},
                         "rootfs": {"type": "layers", "diff_ids": []}, "history": []}).encode()
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha256_digest(config), "size": len(config)},
                "layers": layers}
    client.push_blob(REPOSITORY, config)
    client.push_manifest(REPOSITORY, "1", json.dumps(manifest).encode(), manifest["mediaType"])
    return [layer["digest"] for layer in layers]


def baseline(registry: RegistryServer, digests: list[str]) -> None:
    with httpx.Client(timeout=60) as http:
        for digest in digests:
            inflater = zlib.decompressobj(31)
            with http.stream("GET", f"{registry.url}/v2/{REPOSITORY}/blobs/{digest}") as response:
                for chunk in response.iter_bytes(1024 * 1024):
                    inflater.decompress(chunk)


def gate_check(registry: RegistryServer) -> None:
    config = from_mapping({"registries": {"insecure": [registry.host]}})

    async def run() -> None:
        async with Engine(config) as engine:
            result = await engine.check(f"{registry.host}/{REPOSITORY}:1")
            assert result.evaluated, result.violations

    asyncio.run(run())


def _seconds(function: Callable[[], None]) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def main() -> None:
    paths = blobs()
    compressed = sum(path.stat().st_size for path in paths)
    with tempfile.TemporaryDirectory() as workdir:
        registry = start_registry(Path(workdir))
        try:
            digests = push(registry, paths)
            base, gate = [], []
            for _ in range(ROUNDS):
                base.append(_seconds(lambda: baseline(registry, digests)))
                gate.append(_seconds(lambda: gate_check(registry)))
        finally:
            registry.stop()
    base_s, gate_s = min(base), min(gate)
    print(f"compressed {compressed / MB:.0f} MB over the loopback registry")
    print(f"baseline fetch + zlib inflate   {compressed / MB / base_s:7.1f} MB/s")
    print(f"gate check (layers scanned)     {compressed / MB / gate_s:7.1f} MB/s   ratio {base_s / gate_s:.2f}x")


if __name__ == "__main__":
    main()

"""A whole ``gate check`` with layer scanning against plain fetch + inflate, both over the registry.

Run: ``.venv/bin/python bench/check_bench.py`` (or ``python -m bench check_bench``). Pushes the
~430 MB, four-layer image of ``scan_bench`` (small and large, text and binary files) to Debian's
registry on loopback, then alternates, in one run:

* baseline: stream each layer blob over HTTP in 1 MiB chunks and inflate it with ``zlib`` on one
  thread, discarding the output;
* gate, 2 workers: ``Engine.check`` of the image with a fresh engine (no cached layer scans):
  discovery, config, every layer fetched and hashed in a thread of this process and inflated and
  scanned in a worker process (``gate.scan._workers``; one layer per core at a time, so both
  cores work), digest checks, Rego;
* gate, 1 core: the same check with this process pinned to one core (so gate scans one layer at a
  time, in threads, as on a one-core machine).

Prints MB/s over compressed bytes, the ratio gate/baseline of the best wall times (target >= 0.8x)
and of the best CPU times (this process plus its scan worker processes, not the registry's), and
how many cores the check kept busy on average. The check must report exactly the secrets
``scan_bench`` planted, or the bench stops with an error.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import zlib
from collections.abc import Callable
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.scan_bench import MB, ROUNDS, blobs, check_findings, timed  # noqa: E402
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


def gate_check(registry: RegistryServer) -> set[str]:
    """Check the image; return the paths of its secret findings."""
    config = from_mapping({"registries": {"insecure": [registry.host]}})

    async def run() -> set[str]:
        async with Engine(config) as engine:
            result = await engine.check(f"{registry.host}/{REPOSITORY}:1")
            assert result.evaluated, result.violations
            return {str(v.details["path"]) for v in result.violations if v.rule.startswith("secret.")}

    return asyncio.run(run())


def _one_core(function: Callable[[], object]) -> Callable[[], object]:
    """``function`` run with this process pinned to one core."""

    def pinned() -> object:
        cores = os.sched_getaffinity(0)
        os.sched_setaffinity(0, {min(cores)})
        try:
            return function()
        finally:
            os.sched_setaffinity(0, cores)

    return pinned


def main() -> None:
    paths = blobs()
    compressed = sum(path.stat().st_size for path in paths)
    with tempfile.TemporaryDirectory() as workdir:
        registry = start_registry(Path(workdir))
        try:
            digests = push(registry, paths)
            check_findings(gate_check(registry), paths)
            rounds: dict[str, list[tuple[float, float]]] = {"base": [], "two": [], "one": []}
            for _ in range(ROUNDS):
                rounds["base"].append(timed(lambda: baseline(registry, digests)))
                rounds["two"].append(timed(lambda: gate_check(registry)))
                rounds["one"].append(timed(_one_core(lambda: gate_check(registry))))
        finally:
            registry.stop()
    best = {name: (min(w for w, _ in runs), min(c for _, c in runs)) for name, runs in rounds.items()}
    base_s, base_cpu = best["base"]
    print(f"compressed {compressed / MB:.0f} MB over the loopback registry; best of {ROUNDS} rounds")
    print(f"baseline fetch + zlib inflate, 1 thread {compressed / MB / base_s:7.1f} MB/s (wall {base_s:.2f} s, cpu {base_cpu:.2f} s)")
    for label, name in (("gate check, 2 workers", "two"), ("gate check, 1 core", "one")):
        gate_s, gate_cpu = best[name]
        target = " (target >= 0.80x)" if name == "two" else ""
        print(f"{label:39} {compressed / MB / gate_s:7.1f} MB/s (wall {gate_s:.2f} s, cpu {gate_cpu:.2f} s, "
              f"{gate_cpu / gate_s:.1f} cores busy)   ratio {base_s / gate_s:.2f}x wall{target}, {base_cpu / gate_cpu:.2f}x cpu")


if __name__ == "__main__":
    main()

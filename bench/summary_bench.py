"""A cold full check of a large image against a check backed by a signed verification summary.

Run: ``.venv/bin/python bench/summary_bench.py`` (or ``python -m bench summary_bench``). Pushes the
~400 MB layers of ``scan_bench`` to Debian's registry on loopback, attests the image once
(``Attester``, an ECDSA P-256 key), then alternates, in one run, each with a fresh engine:

* full: ``Engine.check`` with no layer scans cached: discovery, config, every layer scanned, Rego;
* summary: ``Engine.check`` with the attesting key in ``trust.verifiers``: the referrers listing,
  the summary's manifest and bundle, its signature and checks, Rego over its facts.

Prints seconds and registry requests of each (best of the rounds) and the ratio full/summary.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.check_bench import REPOSITORY, push  # noqa: E402
from bench.scan_bench import MB, blobs  # noqa: E402
from gate.attest import Attester  # noqa: E402
from gate.config import Config, from_mapping  # noqa: E402
from gate.engine import Engine  # noqa: E402
from tests.support.registry_server import RegistryServer, start_registry  # noqa: E402
from tests.support.summaries import VERIFIER, write_key  # noqa: E402

ROUNDS = 2


def check(config: Config, reference: str) -> tuple[float, int, dict[str, Any]]:
    """Seconds and registry requests of one check with a fresh engine, and its evidence."""

    async def run() -> tuple[float, int, dict[str, Any]]:
        async with Engine(config) as engine:
            start = time.perf_counter()
            result = await engine.check(reference)
            seconds = time.perf_counter() - start
            assert result.evaluated, result.violations
            return seconds, engine.client.request_count, result.evidence

    return asyncio.run(run())


def attest(config: Config, reference: str) -> None:
    async def run() -> None:
        async with Engine(config) as engine:
            result = await engine.check(reference)
            await Attester.from_config(config).attest(engine, result, dt.datetime.now(dt.timezone.utc))

    asyncio.run(run())


def main() -> None:
    paths = blobs()
    compressed = sum(path.stat().st_size for path in paths)
    with tempfile.TemporaryDirectory() as workdir:
        private, public = write_key(Path(workdir) / "ci.key", ec.generate_private_key(ec.SECP256R1()))
        registry: RegistryServer = start_registry(Path(workdir) / "registry")
        try:
            push(registry, paths)
            reference = f"{registry.host}/{REPOSITORY}:1"
            base = {"registries": {"insecure": [registry.host]}}
            attest(from_mapping(base | {"attest": {"key": str(private), "verifier_id": VERIFIER}}), reference)
            full_config = from_mapping(base)
            summary_config = from_mapping(base | {"trust": {"verifiers": [{"key": str(public), "id": VERIFIER}]}})
            full, summary = [], []
            for _ in range(ROUNDS):
                full.append(check(full_config, reference))
                summary.append(check(summary_config, reference))
        finally:
            registry.stop()
    assert all("summary" in evidence for _, _, evidence in summary), "the summary was not used"
    full_s, full_requests, _ = min(full)
    summary_s, summary_requests, _ = min(summary)
    print(f"image of {compressed / MB:.0f} MB compressed over the loopback registry")
    print(f"full check (every layer scanned)   {full_s * 1000:9.1f} ms   {full_requests:3d} registry requests")
    print(f"summary-backed check               {summary_s * 1000:9.1f} ms   {summary_requests:3d} registry requests")
    print(f"ratio full / summary               {full_s / summary_s:9.1f}x")


if __name__ == "__main__":
    main()

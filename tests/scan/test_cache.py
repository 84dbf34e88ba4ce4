"""LayerScanCache: a layer digest is scanned once, concurrently requested scans share one run,
failures are not cached, and the on-disk store survives a new process (a new cache object)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from gate.config import Limits
from gate.errors import EvidenceError
from gate.scan import LayerScan, LayerScanCache, LayerScanner
from tests.scan._scan import chunked
from tests.scan._tokens import NPM
from tests.support.layers import compress, tar_bytes

BLOB = compress(tar_bytes({"root/.npmrc": "//r/:_authToken=" + NPM + "\n",
                           "app/a.txt": "hello\n"}), "gzip")
DIGEST = "sha256:" + "c" * 64


class _CountingScan:
    """Scans BLOB in a worker thread and counts how often it really ran."""

    def __init__(self) -> None:
        self.runs = 0
        self.scanner = LayerScanner(Limits())

    async def __call__(self) -> LayerScan:
        self.runs += 1
        await asyncio.sleep(0.05)  # stay in flight while the other callers arrive
        return await asyncio.to_thread(self.scanner.scan, chunked(BLOB), "gzip", 0, DIGEST)


def test_concurrent_requests_for_one_digest_scan_once() -> None:
    cache, scan = LayerScanCache(), _CountingScan()

    async def many() -> list[LayerScan]:
        return await asyncio.gather(*(cache.get_or_scan(DIGEST, scan) for _ in range(8)))

    results = asyncio.run(many())
    assert scan.runs == 1 and all(result is results[0] for result in results)
    assert asyncio.run(cache.get_or_scan(DIGEST, scan)) is results[0]
    assert scan.runs == 1


def test_failure_is_raised_to_every_waiter_and_not_cached() -> None:
    cache = LayerScanCache()
    calls = 0

    async def broken() -> LayerScan:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        raise EvidenceError("layer 0: corrupt gzip data")

    async def many() -> list[object]:
        return await asyncio.gather(*(cache.get_or_scan(DIGEST, broken) for _ in range(3)), return_exceptions=True)

    assert all(isinstance(result, EvidenceError) for result in asyncio.run(many()))
    assert calls == 1
    asyncio.run(many())
    assert calls == 2 and cache.peek(DIGEST) is None


def test_disk_cache_round_trip(tmp_path: Path) -> None:
    first, scan = LayerScanCache(directory=tmp_path), _CountingScan()
    original = asyncio.run(first.get_or_scan(DIGEST, scan))
    files = list(tmp_path.iterdir())
    assert len(files) == 1 and NPM not in files[0].read_text()
    second = LayerScanCache(directory=tmp_path)
    restored = asyncio.run(second.get_or_scan(DIGEST, scan))
    assert scan.runs == 1 and restored == original
    assert restored.has_file("root/.npmrc") and not restored.has_file("root")


def test_corrupt_or_foreign_disk_entries_are_rescanned(tmp_path: Path) -> None:
    cache, scan = LayerScanCache(directory=tmp_path), _CountingScan()
    asyncio.run(cache.get_or_scan(DIGEST, scan))
    [path] = tmp_path.iterdir()
    document = json.loads(path.read_text())
    path.write_text(json.dumps({**document, "version": "0"}))
    asyncio.run(LayerScanCache(directory=tmp_path).get_or_scan(DIGEST, scan))
    path.write_text("{not json")
    asyncio.run(LayerScanCache(directory=tmp_path).get_or_scan(DIGEST, scan))
    assert scan.runs == 3


def test_lru_evicts_oldest() -> None:
    cache, scanner = LayerScanCache(max_entries=2), LayerScanner(Limits())
    digests = [f"sha256:{i:064x}" for i in range(3)]
    for digest in digests:
        result = scanner.scan(chunked(BLOB), "gzip", 0, digest)
        asyncio.run(cache.get_or_scan(digest, lambda result=result: asyncio.sleep(0, result)))
    assert cache.peek(digests[0]) is None and cache.peek(digests[2]) is not None


@pytest.mark.parametrize("digest", ["../../etc/passwd", "sha256:zz", "sha256:" + "a" * 64 + "/x"])
def test_odd_digests_never_touch_the_disk(tmp_path: Path, digest: str) -> None:
    scanner = LayerScanner(Limits())
    result = scanner.scan(chunked(BLOB), "gzip", 0, digest)
    asyncio.run(LayerScanCache(directory=tmp_path).get_or_scan(digest, lambda: asyncio.sleep(0, result)))
    assert list(tmp_path.iterdir()) == []

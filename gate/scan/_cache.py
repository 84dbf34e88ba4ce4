"""Layer scans cached by layer digest: an in-process LRU, an optional directory on disk (the CLI),
and at most one scan in flight per digest however many threads ask for it.

Layers are shared across images (every image on one base shares its layers), so a layer scanned
once is never scanned again while cached. The disk file name carries the scanner version and the
limits that shaped the scan (``file_bytes``, ``entries_per_layer``, ``scan_bytes_per_layer``), so a
newer scanner, or a run with a larger ``file_bytes`` that would read what an earlier run skipped,
never reuses an older result.
A ``second_level`` (the webhook's shared cache) is asked before scanning, and may make this
replica wait while another one scans the layer.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from pathlib import Path

from gate.config import Limits
from gate.errors import EvidenceError
from gate.scan._layer_scan import SCANNER_VERSION, LayerScan

_DIGEST = re.compile(r"^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-fA-F0-9]{32,256}$")
_DISK_CAP = 256 * 1024 * 1024
SecondLevel = Callable[[str, Callable[[], Awaitable[LayerScan]], Callable[[LayerScan], bool]], Awaitable[LayerScan]]


class LayerScanCache:
    """Cache of ``LayerScan`` by digest; ``directory`` enables the on-disk cache.

    ``get_or_scan`` is a coroutine: callers in one event loop asking for the same digest share one
    scan task (shielded, so one caller's cancellation does not cancel the others'). The memory and
    disk stores are guarded by a lock, so the cache may be shared by threads with their own loops;
    each loop then runs at most one scan per digest.
    """

    def __init__(
        self, max_entries: int = 512, directory: Path | str | None = None, limits: Limits | None = None, second_level: SecondLevel | None = None
    ):
        self.max_entries = max_entries
        self.directory = Path(directory) if directory is not None else None
        self._shaped_by = _limits_key(limits or Limits())
        self._memory: OrderedDict[str, LayerScan] = OrderedDict()
        self._running: dict[tuple[int, str], asyncio.Task[LayerScan]] = {}
        self._lock = threading.Lock()
        self._second_level = second_level
        self.scans = 0

    def peek(self, digest: str) -> LayerScan | None:
        """The cached scan (memory, then disk) without scanning; None when not cached."""
        with self._lock:
            cached = self._memory.get(digest)
            if cached is not None:
                self._memory.move_to_end(digest)
                return cached
        from_disk = self._load(digest)
        if from_disk is not None:
            self._remember(from_disk)
        return from_disk

    async def get_or_scan(self, digest: str, scan: Callable[[], Awaitable[LayerScan]]) -> LayerScan:
        """The cached scan, or ``await scan()`` once however many callers wait for this digest.

        A failed scan is not cached: its error is raised to every caller waiting for it.
        """
        cached = self.peek(digest)
        if cached is not None:
            return cached
        key = (id(asyncio.get_running_loop()), digest)
        with self._lock:
            task = self._running.get(key)
            if task is None:
                task = self._running[key] = asyncio.ensure_future(self._scan(key, scan))
        return await asyncio.shield(task)

    async def _scan(self, key: tuple[int, str], scan: Callable[[], Awaitable[LayerScan]]) -> LayerScan:
        async def scan_here() -> LayerScan:
            result = await scan()
            self.scans += 1
            return result

        try:
            result = await (scan_here() if self._second_level is None else self._second_level(key[1], scan_here, lambda _: True))
            if result.digest != key[1]:
                raise EvidenceError(f"layer scan for {key[1]} returned {result.digest}")
            self._remember(result)
            await asyncio.to_thread(self._store, result)
            return result
        finally:
            with self._lock:
                del self._running[key]

    def _remember(self, result: LayerScan) -> None:
        with self._lock:
            self._memory[result.digest] = result
            self._memory.move_to_end(result.digest)
            while len(self._memory) > self.max_entries:
                self._memory.popitem(last=False)

    def _file(self, digest: str) -> Path | None:
        if self.directory is None or not _DIGEST.match(digest):
            return None
        return self.directory / f"layer-v{SCANNER_VERSION}-{self._shaped_by}-{digest.replace(':', '-')}.json"

    def _load(self, digest: str) -> LayerScan | None:
        path = self._file(digest)
        if path is None or not path.is_file():
            return None
        try:
            if path.stat().st_size > _DISK_CAP:
                return None
            result = LayerScan.from_json(json.loads(path.read_bytes()))
        except (OSError, ValueError, EvidenceError):
            return None  # an unreadable cache entry is rescanned, never trusted
        return result if result.digest == digest else None

    def _store(self, result: LayerScan) -> None:
        path = self._file(result.digest)
        if path is None:
            return
        temporary = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump(result.to_json(), out)
            os.replace(temporary, path)
        except OSError:
            # The disk cache is an optimisation; a read-only cache dir only costs a rescan.
            if temporary is not None and os.path.exists(temporary):
                os.unlink(temporary)


def _limits_key(limits: Limits) -> str:
    """A short name for the limits that decide what a layer scan reads (and so what it finds)."""
    shaping = f"{limits.file_bytes}:{limits.entries_per_layer}:{limits.scan_bytes_per_layer}"
    return hashlib.sha256(shaping.encode()).hexdigest()[:12]

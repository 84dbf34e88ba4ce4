"""Reads the image itself: its config and history, and every layer streamed through the scanner.

Each layer is fetched and scanned in one worker thread (``RegistryClient.read_blob``), so a layer
is never held whole in memory, costs no event-loop hand-off per chunk, and several layers use
several cores; its scan counts only once its digest is checked at the end of the stream. Scans are cached by layer digest (``gate.scan``), so a layer shared by many
images is read once.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from gate.config import Config
from gate.engine._evaluations import current_progress
from gate.engine._tasks import both
from gate.errors import EvidenceError, LimitExceeded
from gate.policy_input import config_facts
from gate.registry import Descriptor, Manifest, Reference, RegistryClient
from gate.scan import (
    ContentMatcher, Finding, ImageBudget, LayerScan, LayerScanCache, LayerWorkers, combine_layers, process_layers, resolve_user, scan_build_args,
    scan_config, usable_cores, worker_limit,
)

if TYPE_CHECKING:
    from gate.scan import LayerScanner


class LayerProgress(Protocol):
    """Receives scan progress: one callback per layer, called with the compressed bytes read so far."""

    def layer(self, digest: str, size: int) -> Callable[[int], None]: ...


@dataclass(frozen=True)
class ImageFacts:
    """The ``config``, ``user``, ``findings`` and (layer-scan) ``errors`` sections of the input document."""

    config: dict[str, Any]
    user: dict[str, Any]
    findings: tuple[dict[str, Any], ...]
    errors: tuple[dict[str, Any], ...] = ()
    platform: str = ""  # os/arch[/variant] the config declares


@dataclass(frozen=True)
class ImageRead:
    """What reading the image found, before the provenance's build arguments are known."""

    image_config: dict[str, Any]
    config_findings: tuple[Finding, ...]
    layer_findings: tuple[Finding, ...] = ()
    passwd: str | None = None  # /etc/passwd of the merged layers, when a layer holds one
    errors: tuple[dict[str, Any], ...] = ()


class ImageScanner:
    """Turns one platform manifest into image facts; shares one layer cache across images."""

    def __init__(self, config: Config, *, progress: LayerProgress | None = None, second_level: Callable[..., Awaitable[LayerScan]] | None = None) -> None:
        self.config = config
        self.matcher = ContentMatcher(cache_dir=config.scan.cache_dir)
        self.workers = LayerWorkers(config.limits, config.scan.cache_dir)
        self.cache = LayerScanCache(
            max_entries=config.limits.cache_entries, directory=config.scan.cache_dir, limits=config.limits, second_level=second_level
        )
        self.progress = progress

    @functools.cached_property
    def layers(self) -> LayerScanner:
        """The tar reader, built for the first layer not in the cache: a check whose layers are all
        cached never imports it (nor its file, leftover and tar rules)."""
        from gate.scan import LayerScanner

        return LayerScanner(self.config.limits, self.matcher)

    async def read(self, client: RegistryClient, ref: Reference, manifest: Manifest) -> ImageRead:
        """Read config, history and (unless disabled) every layer of ``manifest``; needs no
        evidence, so it runs while discovery still looks for provenance (see :meth:`facts`).

        A layer that cannot be scanned (corrupt, hostile, over a cap) becomes an ``errors`` entry;
        a config that cannot be read, or a registry that fails, raises.

        Raises:
            RegistryError: a blob cannot be fetched or does not match its digest.
            EvidenceError, LimitExceeded: the config blob is malformed or too big.
        """
        reading_config = _image_config(client, ref, manifest, self.config.limits.blob_bytes)
        if not self.config.scan.layers:
            image_config = await reading_config
            return ImageRead(image_config, tuple(scan_config(image_config, matcher=self.matcher)))
        # The layers are scanned while the config is fetched: only combining them needs its history.
        image_config, scanned = await both(reading_config, self._scan_layers(client, ref, manifest))
        config_findings = tuple(scan_config(image_config, matcher=self.matcher))
        if isinstance(scanned, dict):
            return ImageRead(image_config, config_findings, errors=(scanned,))
        combined = combine_layers(scanned, image_config.get("history") or [])
        return ImageRead(image_config, config_findings, tuple(combined.findings), combined.passwd)

    def facts(self, read: ImageRead, build_args: Mapping[str, str]) -> ImageFacts:
        """The image's facts from what :meth:`read` found and the provenance's build arguments
        (which can only add findings, so they are applied last)."""
        from_args = scan_build_args(build_args, "provenance build arguments", matcher=self.matcher)
        findings = (*read.config_findings, *from_args, *read.layer_findings)
        facts = config_facts(read.image_config)
        user = resolve_user(facts["user"], read.passwd)
        return ImageFacts(
            config=facts,
            user=user.to_fact(),
            findings=tuple(f.to_fact() for f in findings),
            errors=read.errors,
            platform=config_platform(read.image_config),
        )

    async def _scan_layers(self, client: RegistryClient, ref: Reference, manifest: Manifest) -> list[LayerScan] | dict[str, Any]:
        """Every layer's scan, or the error entry saying why the layers could not be scanned."""
        budget = ImageBudget(self.config.limits.scan_bytes_per_image)
        # One layer of the image read per core: more threads only take turns at the GIL, and each
        # switch costs CPU. Per image, so a slow registry never holds up another image's layers.
        # The CPU quota is read for each image: a pod can be resized.
        cores = usable_cores()
        readers = asyncio.Semaphore(cores)
        # Several large layers: each in a worker process of its own (see gate.scan._workers).
        most = worker_limit(self.config.scan.worker_processes, cores)
        in_process = process_layers([d.size for d in manifest.layers], most)
        try:
            return list(await asyncio.gather(
                *(self._layer(client, ref, d, i, budget, readers, workers=most if i in in_process else 0) for i, d in enumerate(manifest.layers))
            ))
        except (EvidenceError, LimitExceeded) as exc:
            # The layers' content is unknown, but the rest of the image can still be judged:
            # the error denies it (evaluation.error), and the report shows every other finding.
            return {"message": f"layers of {manifest.digest} could not be scanned: {exc.diagnostics()}", "details": dict(exc.details)}

    async def _layer(
        self, client: RegistryClient, ref: Reference, descriptor: Descriptor, index: int, budget: ImageBudget, readers: asyncio.Semaphore,
        *, workers: int,
    ) -> LayerScan:
        """One layer's scan: in a worker process when ``workers`` (how many may run) is not 0 and one is free, else in a thread."""
        async def fetch_and_scan() -> LayerScan:
            progress = _both(*(watcher.layer(descriptor.digest, descriptor.size) for watcher in (self.progress, current_progress()) if watcher))

            def scan(chunks: Iterator[bytes]) -> LayerScan:
                if workers:
                    scanned = self.workers.scan(chunks, descriptor.media_type, index, descriptor.digest, progress=progress, budget=budget, most=workers)
                    if scanned is not None:
                        return scanned
                return self.layers.scan(chunks, descriptor.media_type, index, descriptor.digest, progress=progress, budget=budget)

            async with readers:
                return await client.read_blob(ref, descriptor, scan)

        return await self.cache.get_or_scan(descriptor.digest, fetch_and_scan)


def _both(*callbacks: Callable[[int], None]) -> Callable[[int], None] | None:
    """One progress callback feeding every given one (the terminal's bar, the evaluation's record)."""
    if len(callbacks) <= 1:
        return callbacks[0] if callbacks else None

    def fan_out(read: int) -> None:
        for callback in callbacks:
            callback(read)

    return fan_out


def config_platform(image_config: dict[str, Any]) -> str:
    """``os/arch[/variant]`` from the config's own fields ("unknown" when it names none)."""
    parts = [image_config.get(key) for key in ("os", "architecture", "variant")]
    named = [part for part in parts if isinstance(part, str) and part]
    return "/".join(named) if len(named) >= 2 else "unknown"


async def _image_config(client: RegistryClient, ref: Reference, manifest: Manifest, max_bytes: int) -> dict[str, Any]:
    """The manifest's config blob, digest-checked and parsed.

    Raises:
        EvidenceError: the manifest has no config, or the config is not a JSON object.
    """
    descriptor = manifest.config
    if descriptor is None:
        raise EvidenceError(f"manifest {manifest.digest} of {ref} has no config descriptor")
    data = await client.blob(ref, descriptor, max_bytes=max_bytes)
    try:
        image_config = json.loads(data)
    except ValueError as exc:
        raise EvidenceError(f"config {descriptor.digest} of {ref} is not valid JSON") from exc
    if not isinstance(image_config, dict):
        raise EvidenceError(f"config {descriptor.digest} of {ref} is not a JSON object")
    return image_config

"""Scan an in-memory image (tests.support.images.ImageBuilder) the way the engine does, minus HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from gate.config import Limits
from gate.scan import Finding, LayerScanner, UserFact, combine_layers, resolve_user, scan_config
from tests.support.images import ImageBuilder


@dataclass(frozen=True)
class Scanned:
    findings: list[Finding]
    user: UserFact


def chunked(blob: bytes, size: int = 7919) -> Iterator[bytes]:
    """Odd-sized chunks, so headers and contents straddle chunk boundaries."""
    for start in range(0, len(blob), size):
        yield blob[start : start + size]


def scan_builder(builder: ImageBuilder, limits: Limits | None = None) -> Scanned:
    scanner = LayerScanner(limits or Limits())
    layers = [scanner.scan(chunked(layer.blob), layer.media_type, index, layer.digest)
              for index, layer in enumerate(builder.layers)]
    config = builder.config_document()
    image = combine_layers(layers, config["history"])
    user = resolve_user(config["config"].get("User"), image.passwd)
    return Scanned([*scan_config(config), *image.findings], user)

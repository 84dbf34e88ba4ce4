"""Read Kubernetes manifests for ``gate check manifest``: multi-document YAML or JSON, ``-`` for stdin.

``List`` objects (what ``kubectl get -o yaml`` prints) are opened into their items. Each object is
returned with where it came from, so a report can name ``deploy.yaml#2 Deployment shop/api``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from gate.errors import ConfigError

MAX_MANIFEST_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class ManifestObject:
    """One Kubernetes object of a manifest file."""

    source: str  # ``file#document`` (1-based), ``-`` for stdin
    object: dict[str, Any]

    @property
    def kind(self) -> str:
        kind = self.object.get("kind")
        return kind if isinstance(kind, str) else ""

    def namespace(self, default: str) -> str:
        """``metadata.namespace``, else ``default`` (what ``kubectl apply -n`` would use)."""
        metadata = self.object.get("metadata")
        namespace = metadata.get("namespace") if isinstance(metadata, dict) else None
        return namespace if isinstance(namespace, str) and namespace else default

    @property
    def name(self) -> str:
        metadata = self.object.get("metadata")
        name = metadata.get("name") if isinstance(metadata, dict) else None
        return name if isinstance(name, str) else ""


def read_manifests(paths: list[str]) -> list[ManifestObject]:
    """Every object in ``paths`` in order (``-`` reads stdin once).

    Raises:
        ConfigError: a file cannot be read, is not YAML/JSON, or holds a document that is not an object.
    """
    objects: list[ManifestObject] = []
    for path in paths:
        text = _read(path)
        try:
            documents = list(yaml.safe_load_all(text))
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML or JSON: {exc}") from exc
        for number, document in enumerate(documents, start=1):
            objects.extend(_objects(document, f"{path}#{number}"))
    return objects


def _read(path: str) -> str:
    try:
        data = sys.stdin.buffer.read(MAX_MANIFEST_BYTES + 1) if path == "-" else Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read manifest {path}: {exc.strerror or exc}") from exc
    if len(data) > MAX_MANIFEST_BYTES:
        raise ConfigError(f"manifest {path} is larger than {MAX_MANIFEST_BYTES} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"manifest {path} is not UTF-8 text") from exc


def _objects(document: Any, source: str) -> Iterator[ManifestObject]:
    if document is None:
        return
    if not isinstance(document, dict):
        raise ConfigError(f"{source}: a Kubernetes object must be a mapping, not {type(document).__name__}")
    items = document.get("items")
    if isinstance(document.get("kind"), str) and document["kind"].endswith("List") and isinstance(items, list):
        for index, item in enumerate(items):
            yield from _objects(item, f"{source} items[{index}]")
        return
    yield ManifestObject(source, document)

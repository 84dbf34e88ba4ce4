"""Build a ``gate.config.Config`` that reaches the fixture registries over plain HTTP."""

from __future__ import annotations

from typing import Any

from gate.config import Config, from_mapping


def config_for(*registries: Any, **overrides: Any) -> Config:
    """A validated Config listing each registry's ``host`` under ``registries.insecure``.

    ``overrides`` are merged into the mapping at the top level (``rules=...``, ``limits=...``);
    a ``registries`` override is merged so the hosts stay listed.
    """
    document: dict[str, Any] = dict(overrides)
    section = dict(document.pop("registries", {}))
    section["insecure"] = sorted({*section.get("insecure", ()), *(server.host for server in registries)})
    document["registries"] = section
    return from_mapping(document)

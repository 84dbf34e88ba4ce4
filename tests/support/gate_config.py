"""Build a ``gate.config.Config`` that reaches the fixture registries over plain HTTP."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from gate.config import Config, from_mapping
from tests.support.push import PushTarget


def write_docker_config(path: Path, *registries: PushTarget) -> Path:
    """Write a docker ``config.json`` with an ``auths`` entry for each registry that has credentials."""
    auths = {}
    for server in registries:
        if server.credentials is not None:
            token = base64.b64encode(":".join(server.credentials).encode()).decode()
            auths[server.host] = {"auth": token}
    path.write_text(json.dumps({"auths": auths}, indent=2))
    return path


def config_for(*registries: PushTarget, docker_config: Path | None = None, **overrides: Any) -> Config:
    """A validated Config listing each registry's ``host`` under ``registries.insecure``.

    ``docker_config`` (see :func:`write_docker_config`) becomes ``registries.docker_config``.
    ``overrides`` are merged into the mapping at the top level (``rules=...``, ``limits=...``);
    a ``registries`` override is merged so the hosts stay listed.
    """
    document: dict[str, Any] = dict(overrides)
    section = dict(document.pop("registries", {}))
    section["insecure"] = sorted({*section.get("insecure", ()), *(server.host for server in registries)})
    if docker_config is not None:
        section["docker_config"] = str(docker_config)
    document["registries"] = section
    return from_mapping(document)

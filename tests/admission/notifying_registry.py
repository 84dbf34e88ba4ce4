"""Debian's docker-registry with a ``notifications`` endpoint pointing at the webhook under test.

The shared ``start_registry`` helper has no hook for extra top-level config, so this starts the
same binary with the same base config (``registry_config``) plus ``notifications.endpoints``.
``SSL_CERT_FILE`` makes the registry (Go) trust the test CA for the webhook's TLS certificate.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import yaml

from tests.support.registry_server import (
    REGISTRY_BINARY,
    RegistryServer,
    _die_with_parent,
    free_port,
    registry_config,
    wait_ready,
)


def start_notifying_registry(workdir: Path, endpoint: str, token: str, ca_file: Path, port: int | None = None) -> RegistryServer:
    """A registry on ``port`` (default: a free one) that POSTs push events to ``endpoint`` with
    ``Authorization: Bearer <token>``."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    config = registry_config(port, workdir / "storage")
    config["notifications"] = {
        "endpoints": [
            {
                "name": "gate",
                "url": endpoint,
                "headers": {"Authorization": [f"Bearer {token}"]},
                "timeout": "2s",
                "threshold": 3,
                "backoff": "200ms",
                "ignore": {"actions": ["pull"]},
            }
        ]
    }
    config_path, log_path = workdir / "config.yml", workdir / "registry.log"
    config_path.write_text(yaml.safe_dump(config))
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [REGISTRY_BINARY, "serve", str(config_path)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "SSL_CERT_FILE": str(ca_file)},
            preexec_fn=_die_with_parent,
        )
    server = RegistryServer(host=f"127.0.0.1:{port}", workdir=workdir, process=process, log_path=log_path)
    try:
        wait_ready(f"{server.url}/v2/", process, log_path)
    except Exception:
        server.stop()
        raise
    return server

"""Run Debian's ``docker-registry`` (distribution 2.8) on a free 127.0.0.1 port for tests.

The registry is a real child process with filesystem storage in a temporary directory. It is
started with ``PR_SET_PDEATHSIG`` so that it dies with pytest even if pytest itself is killed;
``stop()`` (called by the fixtures at session end) terminates it politely first.

What registry 2.8 accepts and refuses (checked against the shipped binary; the support tests pin
the cases the suite relies on):

- accepts OCI image manifests with any config ``mediaType`` (cosign's image config with
  non-image layers, the OCI empty descriptor ``application/vnd.oci.empty.v1+json``), with
  ``artifactType`` and ``subject`` (stored verbatim, not interpreted; a subject need not exist),
  manifests without layers or without a ``mediaType`` field, empty indexes, OCI indexes and Docker
  manifest lists mixing OCI and Docker children;
- refuses any manifest whose config or layer blob is not in the repository, even the empty
  descriptor carrying inline ``data`` (so ``{}`` is always pushed), an index naming a manifest the
  repository does not hold, a ``Content-Type`` that disagrees with the ``mediaType`` field and
  unknown manifest media types. Tests that need a registry serving such things put a lying proxy
  double in front of this one;
- accepts a layer descriptor with ``urls`` (a foreign layer) without having its blob, because the
  config sets ``validation.manifests.urls.allow`` to http(s) URLs (without it 2.8 refuses every
  URL). That is the one way to push a manifest naming a blob the registry lacks (blob 404 tests);
- has no referrers API (``GET /v2/<name>/referrers/<digest>`` is 404), so the image factory
  maintains the ``sha256-<hex>`` referrers tag-schema index itself.

Nothing else in ``validation`` is needed: 2.8's defaults accept everything listed above.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.support.token_server import TokenServerDouble

REGISTRY_BINARY = "/usr/bin/docker-registry"
START_TIMEOUT_SECONDS = 20.0
_PR_SET_PDEATHSIG = 1


class ServerStartError(RuntimeError):
    """A test server did not come up in time; the message carries its log."""


def free_port() -> int:
    """Ask the kernel for a free TCP port on 127.0.0.1 (the caller retries if it is taken meanwhile)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def die_with_parent() -> None:
    """Runs in the child before exec: ask Linux to SIGTERM it when pytest dies."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class RegistryServer:
    """A running registry: ``host`` is ``127.0.0.1:PORT`` (for references), ``url`` its base URL."""

    host: str
    workdir: Path
    process: subprocess.Popen[bytes]
    log_path: Path
    username: str | None = None
    password: str | None = None
    token_server: TokenServerDouble | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    @property
    def credentials(self) -> tuple[str, str] | None:
        """``(username, password)`` when the registry needs auth, else None."""
        if self.username is None or self.password is None:
            return None
        return (self.username, self.password)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        """Terminate, wait, then kill if it does not exit (and stop its token server); safe to call twice."""
        stop_process(self.process)
        if self.token_server is not None:
            self.token_server.stop()


def stop_process(process: subprocess.Popen[bytes], grace_seconds: float = 5.0) -> None:
    """Terminate a child process, escalating to SIGKILL after ``grace_seconds``."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=grace_seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=grace_seconds)


def registry_config(
    port: int, storage: Path, auth: dict[str, Any] | None = None, extra: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The registry's YAML config as a mapping: HTTP on 127.0.0.1, filesystem storage, delete on.

    ``extra`` adds top-level sections (e.g. ``notifications``) or replaces whole ones.
    """
    config: dict[str, Any] = {
        "version": 0.1,
        "log": {"level": "warn", "accesslog": {"disabled": True}},
        "http": {"addr": f"127.0.0.1:{port}", "secret": "gate-tests-not-secret"},
        "storage": {
            "filesystem": {"rootdirectory": str(storage)},
            "delete": {"enabled": True},
            "maintenance": {"uploadpurging": {"enabled": False}},
        },
        "validation": {"manifests": {"urls": {"allow": [r"^https?://"]}}},
    }
    if auth:
        config["auth"] = auth
    config.update(extra or {})
    return config


def start_registry(
    workdir: Path,
    *,
    auth: dict[str, Any] | None = None,
    extra_config: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    ready_statuses: tuple[int, ...] = (200,),
    attempts: int = 3,
) -> RegistryServer:
    """Start a registry in ``workdir`` and wait until ``GET /v2/`` answers one of ``ready_statuses``.

    An auth-enabled registry answers 401 when ready, so pass ``ready_statuses=(401,)`` for it.
    ``extra_config`` goes to :func:`registry_config`; ``env`` is added to the process environment
    (e.g. ``SSL_CERT_FILE`` for notification endpoints on a test CA). Retries on a fresh port only
    if the chosen one was taken in the meantime.

    Raises:
        ServerStartError: it did not become ready in time (the message holds its log).
    """
    if shutil.which(REGISTRY_BINARY) is None:
        raise ServerStartError(f"{REGISTRY_BINARY} is missing; run `make system-deps`")
    workdir.mkdir(parents=True, exist_ok=True)
    error: ServerStartError | None = None
    for attempt in range(attempts):
        port = free_port()
        config_path = workdir / f"config-{attempt}.yml"
        config_path.write_text(yaml.safe_dump(registry_config(port, workdir / "storage", auth, extra_config)))
        log_path = workdir / f"registry-{attempt}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [REGISTRY_BINARY, "serve", str(config_path)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **(env or {})},
                preexec_fn=die_with_parent,
            )
        server = RegistryServer(host=f"127.0.0.1:{port}", workdir=workdir, process=process, log_path=log_path)
        try:
            wait_ready(f"{server.url}/v2/", process, log_path, ready_statuses)
            return server
        except ServerStartError as exc:
            server.stop()
            error = exc
            if "address already in use" not in str(exc):
                break
    assert error is not None
    raise error


def wait_ready(
    url: str,
    process: subprocess.Popen[bytes],
    log_path: Path,
    ready_statuses: tuple[int, ...] = (200,),
    timeout: float = START_TIMEOUT_SECONDS,
) -> None:
    """Poll ``url`` until it answers one of ``ready_statuses``.

    Raises:
        ServerStartError: the process exited or the deadline passed; includes the log.
    """
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            status = httpx.get(url, timeout=1.0).status_code
            if status in ready_statuses:
                return
            last = f"HTTP {status}"
        except httpx.HTTPError as exc:
            last = repr(exc)
        time.sleep(0.05)
    log = log_path.read_text(errors="replace") if log_path.exists() else ""
    code = process.poll()
    state = f"exited with code {code}" if code is not None else f"not ready after {timeout:.0f}s"
    raise ServerStartError(f"server at {url} {state} (last answer: {last}); log:\n{log}")


def start_basic_auth_registry(workdir: Path, username: str, password: str) -> RegistryServer:
    """A registry behind HTTP basic auth, with a bcrypt htpasswd file made by ``htpasswd -Bbn``.

    Raises:
        ServerStartError: htpasswd failed or the registry did not start.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(["htpasswd", "-Bbn", username, password], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ServerStartError(f"htpasswd failed: {result.stderr}")
    htpasswd = workdir / "htpasswd"
    htpasswd.write_text(result.stdout)
    auth = {"htpasswd": {"realm": "gate-test-basic", "path": str(htpasswd)}}
    server = start_registry(workdir, auth=auth, ready_statuses=(401,))
    server.username, server.password = username, password
    return server


def start_token_auth_registry(workdir: Path, username: str, password: str) -> RegistryServer:
    """A registry using bearer-token auth, with a :class:`TokenServerDouble` as its token realm.

    Raises:
        ServerStartError: the registry did not start (the token server is stopped again).
    """
    workdir.mkdir(parents=True, exist_ok=True)
    token_server = TokenServerDouble(workdir, username, password)
    try:
        server = start_registry(workdir, auth=token_server.registry_auth(), ready_statuses=(401,))
    except ServerStartError:
        token_server.stop()
        raise
    server.username, server.password, server.token_server = username, password, token_server
    return server

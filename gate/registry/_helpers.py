"""Docker credential helpers: ``docker-credential-<name> get``, as docker, crane and cosign run them.

The protocol (github.com/docker/docker-credential-helpers): the server address goes to the
helper's stdin (``https://index.docker.io/v1/`` for Docker Hub, else the host[:port]); it prints
``{"ServerURL", "Username", "Secret"}``, with ``Username`` ``<token>`` when ``Secret`` is an
identity token. "credentials not found" on a non-zero exit means anonymous access.
"""

from __future__ import annotations

import json
import subprocess

from gate.errors import RegistryError
from gate.registry._reference import DOCKER_HUB

HELPER_SECONDS = 30.0
_HUB_SERVER = "https://index.docker.io/v1/"
_NOT_FOUND = "credentials not found"
_OUTPUT_BYTES = 64 * 1024


def helper_get(helper: str, registry: str) -> tuple[str, str, str] | None:
    """``(username, password, identity_token)`` from ``docker-credential-<helper>``, or None when it has none.

    Raises:
        RegistryError: the helper is missing, fails, times out or prints something else than its JSON.
    """
    program = f"docker-credential-{helper}"
    server = _HUB_SERVER if registry == DOCKER_HUB else registry
    try:
        # The program name is docker's convention and the helper name was checked to hold no path.
        done = subprocess.run([program, "get"], input=server.encode(), capture_output=True, timeout=HELPER_SECONDS, check=False)  # noqa: S603
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise _failed(program, registry, str(exc)) from exc
    output = done.stdout[:_OUTPUT_BYTES].decode("utf-8", "replace").strip()
    if done.returncode != 0:
        if _NOT_FOUND in output.lower() or _NOT_FOUND in done.stderr.decode("utf-8", "replace").lower():
            return None
        raise _failed(program, registry, f"exit status {done.returncode}: {output[:200]}")
    try:
        answer = json.loads(output)
        username, secret = answer["Username"], answer["Secret"]
    except (ValueError, KeyError, TypeError) as exc:
        raise _failed(program, registry, "it did not print {\"Username\", \"Secret\"} JSON") from exc
    if not isinstance(username, str) or not isinstance(secret, str):
        raise _failed(program, registry, "Username and Secret must be strings")
    return ("", "", secret) if username == "<token>" else (username, secret, "")


def _failed(program: str, registry: str, why: str) -> RegistryError:
    return RegistryError(
        f"credential helper {program} failed for {registry}: {why}",
        remedy=f"check that {program} is on PATH and logged in, or remove it from the docker config",
        details={"registry": registry},
    )

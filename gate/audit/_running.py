"""Judge the image a container actually runs, not what its tag names today.

A Pod spec that names ``api:1.4`` keeps running the digest the node pulled when the Pod started,
even after the tag moved to a rebuilt image. The kubelet reports that digest in the container's
status (``imageID``, ``<repository>@sha256:…``); the audit pins the spec's reference to it
(``api:1.4@sha256:…``), so a verdict, and a rebuild query, is about what runs. An ``imageID``
that is not a repository digest (some runtimes report the config's ``sha256:…``) or a container
without status (not started yet) leaves the reference as written, as the webhook judged it.
"""

from __future__ import annotations

import re
from typing import Any

from gate.admission._workloads import CONTAINER_LISTS, ImageUse

_REPO_DIGEST = re.compile(r"@(sha256:[0-9a-f]{64})$")
_STATUS_LISTS = {"initContainers": "initContainerStatuses", "containers": "containerStatuses", "ephemeralContainers": "ephemeralContainerStatuses"}


def pinned_to_running(uses: list[ImageUse], pod: dict[str, Any]) -> list[ImageUse]:
    """``uses`` with each started container's reference pinned to the digest it runs."""
    running = _running_digests(pod)
    return [_pinned(use, running.get(use.location.split(" ", 1)[0])) for use in uses]


def _running_digests(pod: dict[str, Any]) -> dict[str, str]:
    """``spec.<list>[i]`` -> the repository digest its status reports."""
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    found: dict[str, str] = {}
    for list_name in CONTAINER_LISTS:
        digests = {
            entry.get("name"): match.group(1)
            for entry in status.get(_STATUS_LISTS[list_name]) or []
            if isinstance(entry, dict) and (match := _REPO_DIGEST.search(str(entry.get("imageID") or "")))
        }
        for index, container in enumerate(spec.get(list_name) or []):
            if isinstance(container, dict) and container.get("name") in digests:
                found[f"spec.{list_name}[{index}]"] = digests[container["name"]]
    return found


def _pinned(use: ImageUse, digest: str | None) -> ImageUse:
    if digest is None or "@" in use.image:
        return use
    return use._replace(image=f"{use.image}@{digest}")

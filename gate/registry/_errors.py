"""Translate HTTP statuses and httpx exceptions into the ``RegistryError`` tree, with remedies.

Every message names the image and the registry; ``details`` carries registry, repository and
status so reports and metrics can group failures.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from gate._printable import printable
from gate.errors import RegistryError
from gate.registry._reference import Reference

log = logging.getLogger("gate.registry")
CREDENTIALS_HINT = "check registries.docker_config / imagePullSecrets"


def details(ref: Reference, status: int | None = None, **extra: Any) -> dict[str, Any]:
    """The machine-readable context every registry error carries."""
    found: dict[str, Any] = {"registry": ref.registry, "repository": ref.repository, "reference": str(ref)}
    if status is not None:
        found["status"] = status
    found.update(extra)
    return found


def status_error(ref: Reference, status: int, what: str, body: bytes, retries: int) -> RegistryError:
    """The error for an unexpected HTTP status while fetching ``what`` (e.g. "manifest") of ``ref``."""
    code = _registry_code(body)
    suffix = f" [{code}]" if code else ""
    host = ref.registry
    if status == 401:
        message, remedy = f"authentication failed for registry {host} fetching {what} of {ref}{suffix}", f"{CREDENTIALS_HINT} for {host}"
    elif status == 403:
        message, remedy = f"registry {host} denied access to {what} of {ref} (403 Forbidden){suffix}", f"give the credentials pull access to {ref.repository}; {CREDENTIALS_HINT}"
    elif status == 404:
        message, remedy = _not_found(ref, what) + suffix, "check the repository name, tag and digest; push the image if it is missing"
    elif status == 429:
        message, remedy = f"registry {host} is rate limiting requests for {ref} (429) after {retries} retries", "retry later, or authenticate to get a higher pull limit"
    elif status >= 500:
        retried = f" after {retries} retries" if status in (502, 503, 504) else ""
        message, remedy = f"registry {host} failed with HTTP {status} fetching {what} of {ref}{retried}{suffix}", "retry later; check the registry's health"
    else:
        message, remedy = f"registry {host} answered HTTP {status} fetching {what} of {ref}{suffix}", "check the reference and the registry"
    return RegistryError(message, remedy=remedy, details=details(ref, status, code=code) if code else details(ref, status))


def push_refused(ref: Reference, status: int, what: str, body: bytes) -> RegistryError:
    """The error for a registry that would not store ``what`` (a blob or manifest gate attaches)."""
    code = _registry_code(body)
    suffix = f" [{code}]" if code else ""
    return RegistryError(
        f"registry {ref.registry} refused to store {what} in {ref.repository} (HTTP {status}){suffix}",
        remedy=f"give the credentials push access to {ref.repository}; {CREDENTIALS_HINT}",
        details=details(ref, status, code=code) if code else details(ref, status),
    )


def _not_found(ref: Reference, what: str) -> str:
    if what.startswith("manifest"):
        return f"manifest unknown: tag or digest not found in repository {ref.repository} of {ref.registry} ({ref})"
    return f"{what} not found in repository {ref.repository} of {ref.registry} ({ref})"


def _registry_code(body: bytes) -> str:
    """The first ``errors[].code`` of a distribution-spec error body, if there is one."""
    try:
        errors = json.loads(body).get("errors") or []
        return str(errors[0].get("code") or "")
    except (ValueError, AttributeError, IndexError, TypeError):
        return ""


def transport_error(ref: Reference, host: str, exc: Exception, timeout: float) -> RegistryError:
    """The error for an httpx exception raised while talking to ``host`` about ``ref``.

    Every connection-level failure (refused, reset, timed out, TLS, protocol) gets the same text:
    a message that told them apart would let anyone who can submit a pod map which hosts and
    ports gate can reach. The precise cause goes to gate's own log for the operator.
    """
    cause = printable(f"{type(exc).__name__}: {exc}")
    log.warning("registry %s could not be reached for %s: %s", host, printable(str(ref)), cause,
                extra={"registry_host": host, "cause": cause, "timeout_seconds": timeout})
    return RegistryError(
        f"registry {host} could not be reached for {ref} (no usable answer within the limits)",
        remedy="retry; if it persists, check the address, that the registry is up, TLS and registries.insecure; "
        "gate's log has the cause",
        details=details(ref, host=host),
    )

"""Translate HTTP statuses and httpx exceptions into the ``RegistryError`` tree, with remedies.

Every message names the image and the registry; ``details`` carries registry, repository and
status so reports and metrics can group failures.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from gate.errors import RegistryError
from gate.registry._reference import Reference

CREDENTIALS_HINT = "check registries.docker_config / imagePullSecrets"


def details(ref: Reference, status: int | None = None, **extra: Any) -> dict[str, Any]:
    """The machine-readable context every registry error carries."""
    found = {"registry": ref.registry, "repository": ref.repository, "reference": str(ref)}
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
    """The error for an httpx exception raised while talking to ``host`` about ``ref``."""
    if isinstance(exc, httpx.TimeoutException):
        message = f"timed out after {timeout:g}s talking to {host} for {ref}"
        remedy = "retry; raise limits.timeout_seconds if the registry is slow"
    elif isinstance(exc, httpx.ConnectError):
        message = f"registry {host} is unreachable for {ref}: {exc or type(exc).__name__}"
        remedy = "check the registry address, that it is running, and network/DNS/TLS settings (registries.insecure for plain HTTP)"
    else:
        message = f"talking to {host} for {ref} failed: {type(exc).__name__}: {exc}"
        remedy = "retry; check the registry and any proxy in between"
    return RegistryError(message, remedy=remedy, details=details(ref, host=host, error=type(exc).__name__))

"""The OPA server engine: the one seam to an outside policy engine (opa-python-client, HTTP).

At construction the loaded modules are pushed with OPA's Policy API (``PUT /v1/policies/gate/…``;
modules gate pushed earlier and no longer loaded are deleted) and the rule parameters with the
Data API (``PUT /v1/data/gate/params``) — unless ``push`` is false (``policy.opa_push``), when the
server is expected to hold them already (e.g. from a bundle) and is only checked to answer. Each
evaluation is one Data API decision,
``POST /v1/data/gate/violations`` with ``{"input": …}``. Every client error is re-raised as
``PolicyError`` naming the server.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import opa_client.errors as opa_errors
import requests
from opa_client import OpaClient

from gate.errors import PolicyError
from gate.policy._sources import Module

_ID_PREFIX = "gate/"
_CLIENT_ERRORS: tuple[type[BaseException], ...] = (
    requests.RequestException,
    ValueError,
    *(value for value in vars(opa_errors).values() if isinstance(value, type) and issubclass(value, Exception)),
)


class OpaBackend:
    """Evaluates ``data.gate.violations`` on an OPA server.

    Raises:
        PolicyError: the URL is unusable, the server is unreachable or refuses a module.
    """

    def __init__(self, url: str, modules: tuple[Module, ...], data: dict[str, Any], *, timeout: float, push: bool = True):
        self._url = url
        self._client = _client(url, timeout)
        if push:
            self._call("push the policies", self._push, modules, data)
        else:
            self._call("list the pre-loaded policies", self._client.get_policies_list)

    def _push(self, modules: tuple[Module, ...], data: dict[str, Any]) -> None:
        wanted = {_ID_PREFIX + module.name: module.source for module in modules}
        for stale in set(self._client.get_policies_list()) - set(wanted):
            if stale.startswith(_ID_PREFIX):
                self._client.delete_policy(stale)
        for policy_id, source in wanted.items():
            self._client.update_policy_from_string(source, policy_id, rego_compat=False)
        self._client.update_or_create_data(data["gate"]["params"], "gate/params")

    def evaluate(self, input_doc: dict[str, Any]) -> Any:
        """Return ``result`` of the decision (``None`` when OPA answers undefined).

        Raises:
            PolicyError: the request failed or the answer is not a JSON object.
        """
        answer = self._call("evaluate", self._client.query_rule, input_doc, "gate", "violations")
        if not isinstance(answer, dict):
            raise PolicyError(f"OPA server {self._url} answered the decision with something other than a JSON object")
        return answer.get("result")

    def close(self) -> None:
        """Close the client's connection pool."""
        self._client.close_connection()

    def _call(self, what: str, function: Any, *args: Any) -> Any:
        try:
            return function(*args)
        except _CLIENT_ERRORS as exc:
            reason = getattr(exc, "message", None) or str(exc) or type(exc).__name__
            raise PolicyError(
                f"OPA server {self._url}: cannot {what}: {reason}",
                remedy="check policy.opa_url and that the OPA server is running",
            ) from exc


def _client(url: str, timeout: float) -> OpaClient:
    parts = urlsplit(url)
    try:
        explicit_port = parts.port
    except ValueError as exc:
        raise PolicyError(f"policy.opa_url {url!r} has an invalid port") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path.strip("/") or parts.query:
        raise PolicyError(f"policy.opa_url {url!r} must be http(s)://host[:port] without a path")
    port = explicit_port or (443 if parts.scheme == "https" else 80)
    return OpaClient(host=parts.hostname, port=port, ssl=parts.scheme == "https", timeout=timeout, retries=0)

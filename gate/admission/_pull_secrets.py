"""The one seam to the Kubernetes API: a pod's registry credentials as docker ``config.json`` bytes.

A node pulls with the pod's ``imagePullSecrets`` and, for kinds whose template does not list
them yet, its service account's; gate needs the same credentials to read private images. The
``kubernetes`` client is synchronous, so calls run in a worker thread, each with a timeout, and
results are cached briefly per (namespace, secret names, service account). A secret that is
missing or unreadable is skipped, as the kubelet does: the pull (and gate's evaluation) then fails
on its own with a registry error that names the image.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import Iterable
from typing import Any

import urllib3
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from gate.cache import LoadingCache, TTLCache
from gate.errors import ConfigError

log = logging.getLogger("gate.admission")

CACHE_SECONDS = 30.0
REQUEST_TIMEOUT = (2.0, 3.0)  # connect, read
_DOCKER_TYPES = {"kubernetes.io/dockerconfigjson": ".dockerconfigjson", "kubernetes.io/dockercfg": ".dockercfg"}


class PullSecretReader:
    """Reads imagePullSecrets through the Kubernetes API (in-cluster, or any ``ApiClient``).

    Args:
        api_client: a configured ``kubernetes.client.ApiClient``.
        cache_seconds: how long one namespace's credentials are reused.
    """

    def __init__(self, api_client: k8s.ApiClient, *, cache_seconds: float = CACHE_SECONDS) -> None:
        self._core = k8s.CoreV1Api(api_client)
        self._api_client = api_client
        self._cache: LoadingCache[tuple[Any, ...], bytes | None] = LoadingCache(
            TTLCache(max_entries=1024, max_bytes=16 * 1024 * 1024, ttl=cache_seconds, negative_ttl=cache_seconds)
        )

    @classmethod
    def in_cluster(cls) -> "PullSecretReader":
        """Use the pod's service account token and CA (``load_incluster_config``).

        Raises:
            ConfigError: not running in a cluster (no service host or token).
        """
        configuration = k8s.Configuration()
        try:
            k8s_config.load_incluster_config(client_configuration=configuration)
        except ConfigException as exc:
            raise ConfigError(f"cannot read in-cluster Kubernetes credentials: {exc}") from exc
        return cls(k8s.ApiClient(configuration))

    def close(self) -> None:
        self._api_client.close()

    async def docker_config(self, namespace: str | None, spec: dict[str, Any]) -> bytes | None:
        """``{"auths": ...}`` merged from the pod's secrets, then its service account's; None if there are none."""
        if not namespace:
            return None
        names = tuple(_names(spec.get("imagePullSecrets")))
        account = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
        key = (namespace, names, account if isinstance(account, str) else "default")
        return await self._cache.get_or_load(key, lambda: asyncio.to_thread(self._read, *key))

    def _read(self, namespace: str, names: tuple[str, ...], account: str) -> bytes | None:
        auths: dict[str, Any] = {}
        for name in (*names, *self._account_secrets(namespace, account)):
            for registry, entry in self._secret_auths(namespace, name).items():
                auths.setdefault(registry, entry)
        return json.dumps({"auths": auths}).encode() if auths else None

    def _account_secrets(self, namespace: str, account: str) -> list[str]:
        found = self._call(f"serviceaccount {namespace}/{account}", self._core.read_namespaced_service_account, account, namespace)
        refs = getattr(found, "image_pull_secrets", None) or []
        return [ref.name for ref in refs if getattr(ref, "name", None)]

    def _secret_auths(self, namespace: str, name: str) -> dict[str, Any]:
        secret = self._call(f"secret {namespace}/{name}", self._core.read_namespaced_secret, name, namespace)
        if secret is None:
            return {}
        field = _DOCKER_TYPES.get(secret.type or "")
        raw = (secret.data or {}).get(field) if field else None
        if raw is None:
            log.warning("image pull secret is not a docker config", extra={"secret": f"{namespace}/{name}", "type": secret.type})
            return {}
        try:
            document = json.loads(base64.b64decode(raw))
        except ValueError:
            log.warning("image pull secret does not hold JSON", extra={"secret": f"{namespace}/{name}"})
            return {}
        auths = document.get("auths", {}) if field == ".dockerconfigjson" else document
        return auths if isinstance(auths, dict) else {}

    def _call(self, what: str, method: Any, *args: str) -> Any:
        try:
            return method(*args, _request_timeout=REQUEST_TIMEOUT)
        except ApiException as exc:
            log.warning("cannot read %s from the Kubernetes API: HTTP %s", what, exc.status, extra={"object": what})
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            log.warning("cannot reach the Kubernetes API for %s: %s", what, exc, extra={"object": what})
        return None


def _names(refs: Any) -> Iterable[str]:
    if isinstance(refs, list):
        for ref in refs:
            if isinstance(ref, dict) and isinstance(ref.get("name"), str) and ref["name"]:
                yield ref["name"]

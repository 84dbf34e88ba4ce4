"""KubernetesApiDouble: a test double of the Kubernetes API paths gate calls.

No kube-apiserver can run here, so this HTTPS server on 127.0.0.1 (trustme certificate) keeps
objects in a dict and serves them the way the API server's REST layer does, for core
(``/api/v1``) and group (``/apis/{group}/{version}``) resources: GET of one object or of a list
(per namespace or across all, paged with ``limit``/``continue``, filtered by an equality
``labelSelector``), POST to create (409 AlreadyExists), PUT to replace (409 Conflict when
``metadata.resourceVersion`` is stale) and DELETE, each write bumping a global resourceVersion.
It checks the bearer token like the real one; 404 with a ``Status`` otherwise. The real
``kubernetes`` client talks to it.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import itertools
import json
import re
import ssl
import threading
import uuid
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.support.json_http import JsonHandler, kubernetes_status

_PATH = re.compile(r"^/(?:api/v1|apis/(?P<group>[^/]+)/(?P<version>[^/]+))(?:/namespaces/(?P<ns>[^/]+))?/(?P<resource>[a-z]+)(?:/(?P<name>[^/]+))?$")
RESOURCES = {
    "Pod": "pods", "ReplicaSet": "replicasets", "Deployment": "deployments", "StatefulSet": "statefulsets",
    "DaemonSet": "daemonsets", "Job": "jobs", "CronJob": "cronjobs", "Secret": "secrets",
    "ServiceAccount": "serviceaccounts", "Lease": "leases", "PolicyReport": "policyreports",
}
KINDS = {resource: kind for kind, resource in RESOURCES.items()}


class KubernetesApiDouble:
    """Serves the objects in ``objects`` ((namespace, resource, name) -> object); ``requests``
    lists each call (``/path`` for GET, ``METHOD /path`` for writes)."""

    def __init__(self, context: ssl.SSLContext, token: str = "test-token") -> None:
        self.token = token
        self.objects: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.requests: list[str] = []
        self.lock = threading.Lock()
        self._versions = itertools.count(1000)
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._httpd.socket = context.wrap_socket(self._httpd.socket, server_side=True)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="kubernetes-api-double", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self._httpd.server_address[1]}"

    def add(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Store ``obj`` as the API server would after a create (uid, resourceVersion, timestamp)."""
        meta = obj.setdefault("metadata", {})
        meta.setdefault("uid", str(uuid.uuid4()))
        meta.setdefault("creationTimestamp", dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
        meta["resourceVersion"] = str(next(self._versions))
        self.objects[(meta.get("namespace", ""), RESOURCES[obj["kind"]], meta["name"])] = obj
        return obj

    def get(self, namespace: str, resource: str, name: str) -> dict[str, Any] | None:
        return self.objects.get((namespace, resource, name))

    def of(self, resource: str) -> list[dict[str, Any]]:
        return [obj for (_, kind, _), obj in sorted(self.objects.items()) if kind == resource]

    def writes(self, resource: str) -> list[str]:
        return [call for call in self.requests if not call.startswith("/") and f"/{resource}" in call]

    def service_account(self, namespace: str, name: str, pull_secrets: list[str]) -> None:
        self.add({
            "apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": namespace},
            "imagePullSecrets": [{"name": secret} for secret in pull_secrets],
        })

    def docker_secret(self, namespace: str, name: str, auths: dict[str, Any]) -> None:
        payload = base64.b64encode(json.dumps({"auths": auths}).encode()).decode()
        self.add({
            "apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": namespace},
            "type": "kubernetes.io/dockerconfigjson", "data": {".dockerconfigjson": payload},
        })

    def stop(self) -> None:
        self._httpd.shutdown()
        self._thread.join(timeout=5)
        self._httpd.server_close()

    # --- the REST layer --------------------------------------------------------------------

    def list(self, namespace: str | None, resource: str, query: dict[str, list[str]]) -> dict[str, Any]:
        selector = dict(part.split("=", 1) for part in (query.get("labelSelector") or [""])[0].split(",") if "=" in part)
        items = [
            _as_list_item(obj) for (ns, kind, _), obj in sorted(self.objects.items())
            if kind == resource and namespace in (None, ns)
            and all((obj["metadata"].get("labels") or {}).get(k) == v for k, v in selector.items())
        ]
        start = int((query.get("continue") or ["0"])[0])
        limit = int((query.get("limit") or ["0"])[0]) or len(items)
        page = items[start : start + limit]
        metadata: dict[str, Any] = {"resourceVersion": str(next(self._versions))}
        if start + limit < len(items):
            metadata["continue"] = str(start + limit)
        return {"apiVersion": "v1", "kind": f"{KINDS.get(resource, resource)}List", "metadata": metadata, "items": page}

    def create(self, namespace: str, resource: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        name = body.get("metadata", {}).get("name", "")
        if (namespace, resource, name) in self.objects:
            return 409, kubernetes_status(409, "AlreadyExists")
        body["metadata"]["namespace"] = namespace
        return 201, copy.deepcopy(self.add(body))

    def replace(self, namespace: str, resource: str, name: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        current = self.objects.get((namespace, resource, name))
        if current is None:
            return 404, kubernetes_status(404, "NotFound")
        sent = body.get("metadata", {}).get("resourceVersion")
        if sent is not None and sent != current["metadata"]["resourceVersion"]:
            return 409, kubernetes_status(409, "Conflict")
        for kept in ("uid", "creationTimestamp"):
            body["metadata"][kept] = current["metadata"][kept]
        body["metadata"]["namespace"] = namespace
        return 200, copy.deepcopy(self.add(body))


def _as_list_item(obj: dict[str, Any]) -> dict[str, Any]:
    """List items carry no apiVersion/kind, as the API server sends them."""
    return {key: value for key, value in copy.deepcopy(obj).items() if key not in ("apiVersion", "kind")}


def _handler(double: KubernetesApiDouble) -> type[JsonHandler]:
    class Handler(JsonHandler):
        def _route(self, method: str) -> None:
            split = urlsplit(self.path)
            double.requests.append(self.path if method == "GET" else f"{method} {self.path}")
            if self.headers.get("Authorization") != f"Bearer {double.token}":
                return self.send_json(401, kubernetes_status(401, "Unauthorized"))
            match = _PATH.match(split.path)
            if match is None:
                return self.send_json(404, kubernetes_status(404, "NotFound"))
            namespace, resource, name = match["ns"], match["resource"], match["name"]
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else {}
            with double.lock:
                status, answer = self._answer(method, namespace, resource, name, body, parse_qs(split.query))
            return self.send_json(status, answer)

        def _answer(self, method: str, namespace: str | None, resource: str, name: str | None, body: Any, query: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
            if method == "GET" and name is None:
                return 200, double.list(namespace, resource, query)
            if method == "POST" and name is None and namespace:
                return double.create(namespace, resource, body)
            found = double.objects.get((namespace or "", resource, name or ""))
            if method == "GET" and found is not None:
                return 200, copy.deepcopy(found)
            if method == "PUT" and name and namespace:
                return double.replace(namespace, resource, name, body)
            if method == "DELETE" and found is not None:
                del double.objects[(namespace or "", resource, name or "")]
                return 200, kubernetes_status(200, "Deleted") | {"status": "Success"}
            return 404, kubernetes_status(404, "NotFound")

        def do_GET(self) -> None:
            self._route("GET")

        def do_POST(self) -> None:
            self._route("POST")

        def do_PUT(self) -> None:
            self._route("PUT")

        def do_DELETE(self) -> None:
            self._route("DELETE")

    return Handler

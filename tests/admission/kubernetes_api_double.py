"""KubernetesApiDouble: a test double of the few Kubernetes API paths the pull-secret reader calls.

No kube-apiserver can run here, so this HTTPS server on 127.0.0.1 (trustme certificate) answers
``GET /api/v1/namespaces/{ns}/serviceaccounts/{name}`` and ``.../secrets/{name}`` from dicts,
404 with a ``Status`` otherwise, and checks the bearer token like the real one. The real
``kubernetes`` client talks to it.
"""

from __future__ import annotations

import base64
import json
import re
import ssl
import threading
from http.server import ThreadingHTTPServer
from typing import Any
from tests.support.json_http import JsonHandler, kubernetes_status

_PATH = re.compile(r"^/api/v1/namespaces/([^/]+)/(serviceaccounts|secrets)/([^/?]+)")


class KubernetesApiDouble:
    """Serves ServiceAccounts and Secrets; ``requests`` counts the calls per path."""

    def __init__(self, context: ssl.SSLContext, token: str = "test-token") -> None:
        self.token = token
        self.objects: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.requests: list[str] = []
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._httpd.socket = context.wrap_socket(self._httpd.socket, server_side=True)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="kubernetes-api-double", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self._httpd.server_address[1]}"

    def service_account(self, namespace: str, name: str, pull_secrets: list[str]) -> None:
        self.objects[(namespace, "serviceaccounts", name)] = {
            "apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": namespace},
            "imagePullSecrets": [{"name": secret} for secret in pull_secrets],
        }

    def docker_secret(self, namespace: str, name: str, auths: dict[str, Any]) -> None:
        payload = base64.b64encode(json.dumps({"auths": auths}).encode()).decode()
        self.objects[(namespace, "secrets", name)] = {
            "apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": namespace},
            "type": "kubernetes.io/dockerconfigjson", "data": {".dockerconfigjson": payload},
        }

    def stop(self) -> None:
        self._httpd.shutdown()
        self._thread.join(timeout=5)
        self._httpd.server_close()


def _handler(double: KubernetesApiDouble) -> type[JsonHandler]:
    class Handler(JsonHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server naming)
            double.requests.append(self.path)
            if self.headers.get("Authorization") != f"Bearer {double.token}":
                return self.send_json(401, kubernetes_status(401, "Unauthorized"))
            match = _PATH.match(self.path)
            found = double.objects.get(match.groups()) if match else None  # type: ignore[arg-type]
            if found is None:
                return self.send_json(404, kubernetes_status(404, "NotFound"))
            return self.send_json(200, found)

    return Handler

"""KubernetesLookupDouble: a test double of the API server paths `helm --dry-run=server` reads.

No kube-apiserver can run here. Helm's `lookup` only reads, so this plain-HTTP server on 127.0.0.1
answers what helm asks for when it renders against a cluster: `/version`, API discovery for the
groups the chart uses, and `GET` of single objects from a dict (404 `Status` otherwise). Anything
that is not a GET is refused and recorded, so a test can assert helm wrote nothing.
"""

from __future__ import annotations

import json
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any
from tests.support.json_http import JsonHandler, kubernetes_status

# (group/version, [(plural, Kind, namespaced)]) for every kind the chart renders by default.
_RESOURCES: dict[str, list[tuple[str, str, bool]]] = {
    "v1": [("secrets", "Secret", True), ("configmaps", "ConfigMap", True), ("services", "Service", True),
           ("serviceaccounts", "ServiceAccount", True)],
    "apps/v1": [("deployments", "Deployment", True)],
    "policy/v1": [("poddisruptionbudgets", "PodDisruptionBudget", True)],
    "rbac.authorization.k8s.io/v1": [("clusterroles", "ClusterRole", False), ("clusterrolebindings", "ClusterRoleBinding", False),
                                     ("roles", "Role", True), ("rolebindings", "RoleBinding", True)],
    "admissionregistration.k8s.io/v1": [("validatingwebhookconfigurations", "ValidatingWebhookConfiguration", False),
                                        ("mutatingwebhookconfigurations", "MutatingWebhookConfiguration", False)],
    "networking.k8s.io/v1": [("networkpolicies", "NetworkPolicy", True)],
    "apiextensions.k8s.io/v1": [("customresourcedefinitions", "CustomResourceDefinition", False)],
}


def _discovery() -> dict[str, Any]:
    groups = [gv.split("/")[0] for gv in _RESOURCES if "/" in gv]
    routes: dict[str, Any] = {
        "/version": {"major": "1", "minor": "35", "gitVersion": "v1.35.0", "platform": "linux/amd64"},
        "/api": {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []},
        "/apis": {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
            {"name": g, "versions": [{"groupVersion": f"{g}/v1", "version": "v1"}], "preferredVersion": {"groupVersion": f"{g}/v1", "version": "v1"}}
            for g in groups
        ]},
    }
    for group_version, resources in _RESOURCES.items():
        path = "/api/v1" if group_version == "v1" else f"/apis/{group_version}"
        routes[path] = {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": [
            {"name": plural, "singularName": kind.lower(), "namespaced": namespaced, "kind": kind, "verbs": ["get"]}
            for plural, kind, namespaced in resources
        ]}
    return routes


class KubernetesLookupDouble:
    """Serves discovery plus the objects put with :meth:`put`; ``writes`` lists refused non-GET calls."""

    def __init__(self) -> None:
        self.routes = _discovery()
        self.reads: list[str] = []
        self.writes: list[str] = []
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="kubernetes-lookup-double", daemon=True)
        self._thread.start()

    def put(self, obj: dict[str, Any], release: str) -> None:
        """Make a namespaced core/v1 object exist as `helm install` of ``release`` leaves it.

        Helm stamps its ownership annotations on what it creates, and refuses to adopt objects
        without them, so they are added here.
        """
        meta = dict(obj["metadata"])
        meta["annotations"] = {**meta.get("annotations", {}), "meta.helm.sh/release-name": release,
                               "meta.helm.sh/release-namespace": meta["namespace"]}
        self.routes[f"/api/v1/namespaces/{meta['namespace']}/{obj['kind'].lower()}s/{meta['name']}"] = {**obj, "metadata": meta}

    def kubeconfig(self, directory: Path) -> Path:
        path = directory / "kubeconfig"
        port = self._httpd.server_address[1]
        path.write_text(json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "double",
            "clusters": [{"name": "double", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
            "users": [{"name": "double", "user": {}}],
            "contexts": [{"name": "double", "context": {"cluster": "double", "user": "double"}}],
        }), encoding="utf-8")
        return path

    def stop(self) -> None:
        self._httpd.shutdown()
        self._thread.join(timeout=5)
        self._httpd.server_close()


def _handler(double: KubernetesLookupDouble) -> type[JsonHandler]:
    class Handler(JsonHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server naming)
            path = self.path.split("?", 1)[0]
            double.reads.append(path)
            found = double.routes.get(path)
            if found is None:
                self.send_json(404, kubernetes_status(404, "NotFound"))
            else:
                self.send_json(200, found)

        def _refuse(self) -> None:
            double.writes.append(f"{self.command} {self.path}")
            self.send_json(405, kubernetes_status(405, "MethodNotAllowed"))

        do_POST = do_PUT = do_PATCH = do_DELETE = _refuse  # noqa: N815

    return Handler

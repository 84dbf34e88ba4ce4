"""The audit's seam to the Kubernetes API: what runs (Pods, and the ReplicaSets and Jobs that say
who owns them), the PolicyReports it writes, and the Lease that elects the one replica auditing.

The official ``kubernetes`` client is synchronous; callers run these methods in a worker thread.
Lists are read page by page (``limit``/``continue``) as raw JSON, the same documents an
AdmissionReview carries, so the audit reads workloads exactly as the webhook does. Failures
become :class:`KubernetesError` naming the call and the HTTP status.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import urllib3
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from gate.errors import ConfigError, GateError

PAGE_SIZE = 500
REQUEST_TIMEOUT = (5.0, 30.0)  # connect, read
REPORT_GROUP, REPORT_VERSION, REPORT_PLURAL = "wgpolicyk8s.io", "v1alpha2", "policyreports"


class KubernetesError(GateError):
    """The Kubernetes API refused or failed a call; ``status`` is its HTTP status (0: unreachable)."""

    def __init__(self, message: str, *, status: int = 0, remedy: str = "") -> None:
        super().__init__(message, remedy=remedy, details={"status": status})
        self.status = status


def api_client(kubeconfig: Path | None = None) -> k8s.ApiClient:
    """A client from ``kubeconfig``, else in-cluster credentials, else ``$KUBECONFIG`` / ``~/.kube/config``.

    Raises:
        ConfigError: no usable credentials were found.
    """
    configuration = k8s.Configuration()
    try:
        if kubeconfig is not None:
            k8s_config.load_kube_config(config_file=str(kubeconfig), client_configuration=configuration)
        else:
            try:
                k8s_config.load_incluster_config(client_configuration=configuration)
            except ConfigException:
                k8s_config.load_kube_config(client_configuration=configuration)
    except (ConfigException, OSError, TypeError, ValueError) as exc:
        where = f"--kubeconfig {kubeconfig}" if kubeconfig else "in-cluster credentials or ~/.kube/config"
        raise ConfigError(f"cannot load Kubernetes credentials from {where}: {exc}") from exc
    return k8s.ApiClient(configuration)


class Cluster:
    """Reads workloads and writes PolicyReports and Leases through one ``ApiClient``."""

    def __init__(self, api_client: k8s.ApiClient) -> None:
        self.api_client = api_client
        self._core = k8s.CoreV1Api(api_client)
        self._apps = k8s.AppsV1Api(api_client)
        self._batch = k8s.BatchV1Api(api_client)
        self._custom = k8s.CustomObjectsApi(api_client)
        self._coordination = k8s.CoordinationV1Api(api_client)

    def pods(self, namespace: str | None) -> list[dict[str, Any]]:
        return self._list("pods", self._core.list_namespaced_pod, self._core.list_pod_for_all_namespaces, namespace)

    def replicasets(self, namespace: str | None) -> list[dict[str, Any]]:
        return self._list(
            "replicasets", self._apps.list_namespaced_replica_set, self._apps.list_replica_set_for_all_namespaces, namespace
        )

    def jobs(self, namespace: str | None) -> list[dict[str, Any]]:
        return self._list("jobs", self._batch.list_namespaced_job, self._batch.list_job_for_all_namespaces, namespace)

    def _list(self, what: str, namespaced: Any, everywhere: Any, namespace: str | None) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"limit": PAGE_SIZE, "_preload_content": False, "_request_timeout": REQUEST_TIMEOUT}
            if token:
                kwargs["_continue"] = token
            call = functools.partial(namespaced, namespace, **kwargs) if namespace else functools.partial(everywhere, **kwargs)
            page = self._call(f"list {what}", call)
            items.extend(item for item in page.get("items") or [] if isinstance(item, dict))
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return items

    def reports(self, label_selector: str) -> list[dict[str, Any]]:
        """PolicyReports in every namespace whose labels match ``label_selector``."""
        document = self._call(
            "list policyreports",
            lambda: self._custom.list_cluster_custom_object(
                REPORT_GROUP, REPORT_VERSION, REPORT_PLURAL, label_selector=label_selector, _preload_content=False, _request_timeout=REQUEST_TIMEOUT
            ),
        )
        return [item for item in document.get("items") or [] if isinstance(item, dict)]

    def report(self, namespace: str, name: str) -> dict[str, Any] | None:
        """The PolicyReport ``namespace/name``, or None when there is none."""
        try:
            return self._call(
                f"get policyreport {namespace}/{name}",
                lambda: self._custom.get_namespaced_custom_object(
                    REPORT_GROUP, REPORT_VERSION, namespace, REPORT_PLURAL, name, _preload_content=False, _request_timeout=REQUEST_TIMEOUT
                ),
            )
        except KubernetesError as exc:
            if exc.status == 404:
                return None
            raise

    def create_report(self, namespace: str, body: dict[str, Any]) -> None:
        self._call(
            f"create policyreport {namespace}/{body['metadata']['name']}",
            lambda: self._custom.create_namespaced_custom_object(
                REPORT_GROUP, REPORT_VERSION, namespace, REPORT_PLURAL, body, _preload_content=False, _request_timeout=REQUEST_TIMEOUT
            ),
        )

    def replace_report(self, namespace: str, body: dict[str, Any]) -> None:
        """Replace with optimistic concurrency: ``body.metadata.resourceVersion`` must be current."""
        name = body["metadata"]["name"]
        self._call(
            f"update policyreport {namespace}/{name}",
            lambda: self._custom.replace_namespaced_custom_object(
                REPORT_GROUP, REPORT_VERSION, namespace, REPORT_PLURAL, name, body, _preload_content=False, _request_timeout=REQUEST_TIMEOUT
            ),
        )

    def lease(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            return self._call(
                f"get lease {namespace}/{name}",
                lambda: self._coordination.read_namespaced_lease(name, namespace, _preload_content=False, _request_timeout=REQUEST_TIMEOUT),
            )
        except KubernetesError as exc:
            if exc.status == 404:
                return None
            raise

    def create_lease(self, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._call(
            f"create lease {namespace}/{body['metadata']['name']}",
            lambda: self._coordination.create_namespaced_lease(namespace, _as_model(body), _preload_content=False, _request_timeout=REQUEST_TIMEOUT),
        )

    def replace_lease(self, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        """Replace with optimistic concurrency (409 when another replica wrote first)."""
        name = body["metadata"]["name"]
        return self._call(
            f"update lease {namespace}/{name}",
            lambda: self._coordination.replace_namespaced_lease(name, namespace, _as_model(body), _preload_content=False, _request_timeout=REQUEST_TIMEOUT),
        )

    @staticmethod
    def _call(what: str, call: Any) -> dict[str, Any]:
        try:
            response = call()
            document = json.loads(response.data or b"{}")
        except ApiException as exc:
            raise KubernetesError(f"cannot {what}: HTTP {exc.status} {exc.reason}", status=exc.status or 0, remedy=_remedy(exc.status)) from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise KubernetesError(f"cannot {what}: the Kubernetes API is unreachable ({exc})", remedy="check the API server address") from exc
        except ValueError as exc:
            raise KubernetesError(f"cannot {what}: the answer is not JSON") from exc
        if not isinstance(document, dict):
            raise KubernetesError(f"cannot {what}: the answer is not a JSON object")
        return document


def _as_model(body: dict[str, Any]) -> Any:
    """A JSON body where the typed API wants a model: the client serialises both the same way."""
    return body


def _remedy(status: int | None) -> str:
    if status in (401, 403):
        return "grant the RBAC the chart's audit role lists (list pods, replicasets, jobs; write policyreports and leases)"
    if status == 404:
        return "install the PolicyReport CRD (chart value audit.installCRD) or check the namespace"
    return ""

"""PullSecretReader against the KubernetesApiDouble, through the real kubernetes client over TLS."""

from __future__ import annotations

import asyncio
import json

from kubernetes import client as k8s

from gate.admission._pull_secrets import PullSecretReader
from tests.admission.kubernetes_api_double import KubernetesApiDouble

POD_AUTH = {"reg.example:5000": {"auth": "cG9kOnNlY3JldA=="}}
SA_AUTH = {"reg.example:5000": {"auth": "c2E6b3RoZXI="}, "other.example": {"auth": "c2E6b3RoZXI="}}


def test_pod_secrets_come_first_then_the_service_accounts(kubernetes_api: KubernetesApiDouble, kubernetes_client: k8s.ApiClient) -> None:
    kubernetes_api.docker_secret("shop", "pod-creds", POD_AUTH)
    kubernetes_api.docker_secret("shop", "sa-creds", SA_AUTH)
    kubernetes_api.service_account("shop", "builder", ["sa-creds"])
    reader = PullSecretReader(kubernetes_client)
    spec = {"serviceAccountName": "builder", "imagePullSecrets": [{"name": "pod-creds"}]}
    merged = json.loads(asyncio.run(reader.docker_config("shop", spec)))
    assert merged == {"auths": {"reg.example:5000": POD_AUTH["reg.example:5000"], "other.example": SA_AUTH["other.example"]}}


def test_results_are_cached_and_missing_objects_skipped(kubernetes_api: KubernetesApiDouble, kubernetes_client: k8s.ApiClient) -> None:
    kubernetes_api.docker_secret("shop", "pod-creds", POD_AUTH)
    reader = PullSecretReader(kubernetes_client)
    spec = {"imagePullSecrets": [{"name": "pod-creds"}, {"name": "gone"}]}

    async def twice() -> list[bytes | None]:
        return [await reader.docker_config("shop", spec), await reader.docker_config("shop", spec)]

    first, second = asyncio.run(twice())
    assert first == second and json.loads(first or b"{}") == {"auths": POD_AUTH}
    assert sorted(kubernetes_api.requests) == [
        "/api/v1/namespaces/shop/secrets/gone",
        "/api/v1/namespaces/shop/secrets/pod-creds",
        "/api/v1/namespaces/shop/serviceaccounts/default",
    ]


def test_no_secrets_anywhere_gives_none(kubernetes_api: KubernetesApiDouble, kubernetes_client: k8s.ApiClient) -> None:
    assert asyncio.run(PullSecretReader(kubernetes_client).docker_config("empty", {})) is None
    assert kubernetes_api.requests == ["/api/v1/namespaces/empty/serviceaccounts/default"]  # it did look


def test_a_wrong_token_is_logged_and_skipped(kubernetes_api: KubernetesApiDouble, kubernetes_client: k8s.ApiClient) -> None:
    kubernetes_api.token = "rotated"
    kubernetes_api.docker_secret("shop", "pod-creds", POD_AUTH)
    spec = {"imagePullSecrets": [{"name": "pod-creds"}]}
    assert asyncio.run(PullSecretReader(kubernetes_client).docker_config("shop", spec)) is None

"""Third-party AdmissionReview samples from tests/vectors/admission (see its PROVENANCE.md).

- connaisseur (sse-secure-systems/connaisseur, Apache-2.0): full AdmissionReviews, v1 and v1beta1,
  index lists the images per container list and the upstream verdict.
- kubewarden (kubewarden/policies, Apache-2.0): AdmissionRequests (``.request`` only).
- gatekeeper-library (open-policy-agent/gatekeeper-library, Apache-2.0): plain Pod objects that
  gator wraps as CREATE, and AdmissionReviews for UPDATE.
"""

from __future__ import annotations

import json
from typing import Any

import yaml
from tests.support.vectors import VECTORS

ROOT = VECTORS / "admission"


def index(suite: str) -> dict[str, Any]:
    return json.loads((ROOT / suite / "index.json").read_text())


def load(suite: str, name: str) -> Any:
    path = ROOT / suite / name
    if path.suffix in (".yaml", ".yml"):
        return yaml.safe_load(path.read_text())
    return json.loads(path.read_text())


def as_v1_review(document: Any) -> Any:
    """v1beta1 reviews carry the same request schema; gate speaks only v1, so re-label them."""
    if isinstance(document, dict) and document.get("apiVersion") == "admission.k8s.io/v1beta1":
        return {**document, "apiVersion": "admission.k8s.io/v1"}
    return document


def wrap_request(request: dict[str, Any]) -> dict[str, Any]:
    """A kubewarden AdmissionRequest inside a v1 AdmissionReview, as its index notes say."""
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}


def pod_review(pod: dict[str, Any], uid: str = "gatekeeper-case") -> dict[str, Any]:
    """A plain object wrapped as a CREATE review, as gator does."""
    return wrap_request(
        {"uid": uid, "kind": {"group": "", "version": "v1", "kind": pod["kind"]}, "operation": "CREATE",
         "namespace": pod.get("metadata", {}).get("namespace", "default"), "object": pod}
    )


def case_id(case: dict[str, Any]) -> str:
    return str(case.get("file") or case.get("request") or f"{case.get('policy')}:{case.get('case')}")


def json_bytes(document: Any) -> bytes:
    return json.dumps(document).encode()

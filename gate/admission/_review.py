"""Parse an ``admission.k8s.io/v1`` AdmissionReview and write the one that answers it.

Only the envelope is checked here: anything wrong with it is the caller's fault and becomes an
HTTP 400 (:class:`BadReview`), never a 500. What the object inside says is judged elsewhere.
"""

from __future__ import annotations

import json
from json.encoder import encode_basestring_ascii
from typing import Any, NamedTuple

from gate.admission._json import loads_bounded
from gate.errors import RequestError

API_VERSION = "admission.k8s.io/v1"
KIND = "AdmissionReview"
OPERATIONS = frozenset({"CREATE", "UPDATE", "DELETE", "CONNECT"})
_ENVELOPE = f'{{"apiVersion":"{API_VERSION}","kind":"{KIND}","response":{{"uid":'.encode()


class BadReview(RequestError):
    """The body is not an AdmissionReview gate can answer; the message says why (HTTP 400)."""


class AdmissionRequest(NamedTuple):
    """The parts of ``AdmissionReview.request`` the webhook reads (a named tuple: one is made per
    review, in C)."""

    uid: str
    kind: str
    namespace: str | None
    name: str | None
    operation: str
    sub_resource: str | None
    dry_run: bool
    object: Any
    old_object: Any


def parse_review(body: bytes) -> AdmissionRequest:
    """Decode and check an AdmissionReview.

    Raises:
        BadReview: not JSON, not an ``admission.k8s.io/v1`` AdmissionReview, no ``request``,
            or a request without ``uid`` / with an unknown ``operation``.
    """
    try:
        review = loads_bounded(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadReview(f"body is not valid JSON: {exc}") from exc
    if not isinstance(review, dict):
        raise BadReview("body must be a JSON object holding an AdmissionReview")
    if review.get("apiVersion") != API_VERSION or review.get("kind") != KIND:
        raise BadReview(
            f"expected apiVersion {API_VERSION} kind {KIND}, got apiVersion {review.get('apiVersion')!r} "
            f"kind {review.get('kind')!r}; list only v1 in the webhook's admissionReviewVersions"
        )
    request = review.get("request")
    if not isinstance(request, dict):
        raise BadReview("received an AdmissionReview without a request")
    return _request(request)


def _request(request: dict[str, Any]) -> AdmissionRequest:
    uid = request.get("uid")
    if not isinstance(uid, str) or not uid:
        raise BadReview("request.uid is missing or not a string")
    operation = request.get("operation")
    if operation not in OPERATIONS:
        raise BadReview(f"request.operation {operation!r} is not one of {', '.join(sorted(OPERATIONS))}")
    kind = request.get("kind")
    return AdmissionRequest(
        uid=uid,
        kind=_text(kind.get("kind")) if isinstance(kind, dict) else "",
        namespace=_text(request.get("namespace")) or None,
        name=_text(request.get("name")) or None,
        operation=operation,
        sub_resource=_text(request.get("subResource")) or None,
        dry_run=request.get("dryRun") is True,
        object=request.get("object"),
        old_object=request.get("oldObject"),
    )


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def review_response(uid: str, **fields: Any) -> bytes:
    """The answering AdmissionReview as JSON bytes: same ``uid``, the ``response`` members of
    :func:`response_fields` (``allowed``, ``message``, ``code``, ``warnings``, ``annotations``, ``patch``)."""
    return with_uid(uid, response_fields(**fields))


def response_fields(
    *,
    allowed: bool,
    message: str | None = None,
    code: int = 403,
    warnings: list[str] | None = None,
    annotations: dict[str, str] | None = None,
    patch: str | None = None,
) -> bytes:
    """The members of ``response`` that follow ``uid``, as JSON (``"allowed":...``; ``status`` only
    on denial; ``patch`` is a base64 JSONPatch from the mutating webhook). They depend on the
    verdicts alone, so one answer's are encoded once and reused for every review it answers."""
    response: dict[str, Any] = {"allowed": allowed}
    if not allowed:
        response["status"] = {"code": code, "reason": "Forbidden" if code == 403 else "BadRequest", "message": message or ""}
    elif message:
        response["status"] = {"code": 200, "message": message}
    if warnings:
        response["warnings"] = warnings
    if annotations:
        response["auditAnnotations"] = annotations
    if patch:
        response["patchType"] = "JSONPatch"
        response["patch"] = patch
    return json.dumps(response, separators=(",", ":")).encode()[1:-1]


def with_uid(uid: str, fields: bytes) -> bytes:
    """The AdmissionReview answering ``uid`` with the ``response`` members ``fields`` (:func:`response_fields`)."""
    return b"".join((_ENVELOPE, encode_basestring_ascii(uid).encode(), b",", fields, b"}}"))  # json.dumps(uid), without its dispatch

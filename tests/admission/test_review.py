"""AdmissionReview envelope parsing: every client mistake is a BadReview (HTTP 400), never a crash."""

from __future__ import annotations

import json

import pytest

from gate.admission._review import BadReview, parse_review, review_response
from tests.admission import vectors


@pytest.mark.parametrize(
    "body, why",
    [
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        (b"null", "JSON object"),
        (b"[]", "JSON object"),
        (b'{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}', "without a request"),
        (b'{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":null}', "without a request"),
        (b'{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":{}}', "admissionReviewVersions"),
        (b'{"apiVersion":"admission.k8s.io/v1","kind":"Pod","request":{}}', "kind 'Pod'"),
        (b'{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"operation":"CREATE"}}', "uid"),
        (b'{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","operation":"PATCH"}}', "operation"),
    ],
)
def test_malformed_reviews_are_refused_with_a_reason(body: bytes, why: str) -> None:
    with pytest.raises(BadReview, match=why):
        parse_review(body)


@pytest.mark.parametrize("name", ["25_null_request.json", "21_broken_admission_request.json", "26_broken_update_admission_request.json"])
def test_connaisseur_broken_reviews_are_400(name: str) -> None:
    """connaisseur expects an error (25: HTTP 400 "received empty admission request")."""
    with pytest.raises(BadReview):
        parse_review(vectors.json_bytes(vectors.load("connaisseur", name)))


def test_fields_are_read() -> None:
    review = vectors.load("kubewarden", "echo/test_data/delete_accept.json")
    review["dryRun"] = True
    request = parse_review(vectors.json_bytes(vectors.wrap_request(review)))
    assert (request.operation, request.kind, request.dry_run) == ("DELETE", "Deployment", True)
    assert request.uid == review["uid"]


def test_response_keeps_uid_and_carries_status_only_on_denial() -> None:
    allowed = json.loads(review_response("u-1", allowed=True, warnings=["w"], annotations={"decision": "allow"}))
    assert allowed == {
        "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "response": {"uid": "u-1", "allowed": True, "warnings": ["w"], "auditAnnotations": {"decision": "allow"}},
    }
    denied = json.loads(review_response("u-2", allowed=False, message="no"))["response"]
    assert denied == {"uid": "u-2", "allowed": False, "status": {"code": 403, "reason": "Forbidden", "message": "no"}}

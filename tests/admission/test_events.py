"""Registry notification envelopes -> references to pre-evaluate (pure parsing)."""

from __future__ import annotations

import json

import pytest

from gate.admission._events import BadEnvelope, Pushed, pushed_images

DIGEST = "sha256:" + "b" * 64


def event(action: str = "push", media: str = "application/vnd.oci.image.manifest.v1+json", **target: str) -> dict:
    return {
        "action": action,
        "target": {"mediaType": media, "repository": "shop/api", "digest": DIGEST,
                   "url": f"http://127.0.0.1:5000/v2/shop/api/manifests/{DIGEST}"} | target,
        "request": {"host": "registry.internal:5000", "method": "PUT"},
    }


def test_manifest_pushes_become_references_and_the_rest_is_ignored() -> None:
    envelope = {"events": [
        event(tag="1.4"),
        event(),
        event(action="pull"),
        event(media="application/vnd.oci.image.layer.v1.tar+gzip"),
        event(tag="1.4"),
    ]}
    pushed, ignored = pushed_images(json.dumps(envelope).encode())
    by_digest = f"127.0.0.1:5000/shop/api@{DIGEST}"
    assert pushed == [Pushed(f"127.0.0.1:5000/shop/api:1.4@{DIGEST}", by_digest), Pushed(by_digest, by_digest)]
    assert ignored == 2, "a pull and a layer push; the repeated push is merged, not ignored"


def test_request_host_is_used_without_a_target_url() -> None:
    push = event()
    del push["target"]["url"]
    assert [p.reference for p in pushed_images(json.dumps({"events": [push]}).encode())[0]] == [f"registry.internal:5000/shop/api@{DIGEST}"]


@pytest.mark.parametrize("body", [b"", b"{", b"[]", b'{"events": {}}'])
def test_bad_envelopes(body: bytes) -> None:
    with pytest.raises(BadEnvelope):
        pushed_images(body)

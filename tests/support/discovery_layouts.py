"""One small image per layout gate discovers evidence in, and the registry requests a check makes, by kind.

Shared by the request-count tests and ``bench/requests_bench.py``. Layouts: a single manifest with
nothing attached; cosign ``.sig`` and ``.att`` tags; an SBOM artifact found through the OCI
referrers API (served by :meth:`LyingRegistryProxyDouble.serve_referrers_api`, since Debian's
registry 2.8 has none) and the same found through the referrers tag schema; a two-platform index
with a BuildKit attestation manifest (provenance) for each platform.
"""

from __future__ import annotations

import base64
import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping

from tests.registry.lying_proxy_double import Seen
from tests.support.artifacts import (
    CYCLONEDX_JSON,
    Blob,
    cosign_attestation_layer,
    cosign_signature_layer,
    push_artifact,
    push_cosign_tag,
    push_index,
    simple_signing_payload,
)
from tests.support.images import ImageBuilder
from tests.support.push import PushTarget

SINGLE = "single manifest"
COSIGN_TAGS = "cosign .sig/.att tags"
REFERRERS_API = "OCI referrers API"
REFERRERS_TAG = "referrers tag schema"
INDEX = "index + BuildKit attestations"
LAYOUTS = (SINGLE, COSIGN_TAGS, REFERRERS_API, REFERRERS_TAG, INDEX)
KINDS = ("image tag", "cosign tag", "referrers tag", "referrers API", "manifest by digest", "blob", "other")

PROVENANCE_V02 = "https://slsa.dev/provenance/v0.2"
SBOM = {"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1, "components": []}
_MANIFEST = re.compile(r"/manifests/(?P<reference>[^/?]+)$")


def _provenance(subject: str) -> dict[str, object]:
    return {
        "_type": "https://in-toto.io/Statement/v0.1",
        "predicateType": PROVENANCE_V02,
        "subject": [{"name": "image", "digest": {"sha256": subject.removeprefix("sha256:")}}],
        "predicate": {"builder": {"id": "https://example.com/builder"}, "buildType": "https://example.com/build"},
    }


def _image(layout: str, variant: str, platform: str = "linux/amd64") -> ImageBuilder:
    """A one-layer image whose bytes differ per (layout, variant, platform), so each is never seen before."""
    return ImageBuilder(platform=platform).layer({f"app/{layout.split()[0]}.txt": f"{layout} {variant} {platform}\n"}).config(user="10001")


def push_layout(target: PushTarget, layout: str, variant: str = "1") -> str:
    """Push one image of ``layout`` (a fresh one per ``variant``) to ``target``; its reference by tag."""
    repository = f"{target.host}/layouts/{re.sub(r'[^a-z0-9]+', '-', layout.lower()).strip('-')}"
    if layout == INDEX:
        platforms = ("linux/amd64", "linux/arm64")
        images = [_image(layout, variant, platform).push(target, repository) for platform in platforms]
        statements: dict[str | int, list[Mapping[str, object]]] = {i: [_provenance(image.digest)] for i, image in enumerate(images)}
        return push_index(target, f"{repository}:{variant}", images, attestations=statements, style="legacy").ref
    image = _image(layout, variant).push(target, f"{repository}:{variant}")
    if layout == COSIGN_TAGS:
        signature = cosign_signature_layer(simple_signing_payload(image), base64.b64encode(b"not a real signature").decode())
        push_cosign_tag(target, image, ".sig", [signature], append=False)
        envelope = _dsse(_provenance(image.digest))
        push_cosign_tag(target, image, ".att", [cosign_attestation_layer(envelope, PROVENANCE_V02)], append=False)
    elif layout in (REFERRERS_API, REFERRERS_TAG):
        push_artifact(target, image, CYCLONEDX_JSON, [Blob(SBOM, CYCLONEDX_JSON)])
    elif layout != SINGLE:
        raise ValueError(f"unknown layout {layout!r}")
    return image.ref


def _dsse(statement: dict[str, object]) -> bytes:
    payload = base64.b64encode(json.dumps(statement).encode()).decode()
    return json.dumps({"payloadType": "application/vnd.in-toto+json", "payload": payload, "signatures": [{"keyid": "", "sig": "AAAA"}]}).encode()


def request_kind(seen: Seen) -> str:
    """What one request asked for: the image's tag, a cosign ``sha256-<hex>.sig/.att/.sbom`` tag,
    a referrers tag-schema ``sha256-<hex>`` tag, the referrers API, a manifest by digest, a blob;
    prefixed with the method when it is not GET."""
    path = seen.path.split("?")[0]
    manifest = _MANIFEST.search(path)
    if manifest:
        reference = manifest["reference"]
        if ":" in reference:
            kind = "manifest by digest"
        elif re.fullmatch(r"[a-z0-9]+-[a-f0-9]{32,}", reference):
            kind = "referrers tag"
        else:
            kind = "cosign tag" if re.fullmatch(r"[a-z0-9]+-[a-f0-9]{32,}\.(sig|att|sbom)", reference) else "image tag"
    elif "/referrers/" in path:
        kind = "referrers API"
    elif "/blobs/" in path:
        kind = "blob"
    else:
        kind = "other"
    return kind if seen.method == "GET" else f"{seen.method} {kind}"


def requests_by_kind(seen: Iterable[Seen]) -> Counter[str]:
    """:func:`request_kind` counted over ``seen``, plus ``repeated``: requests for a method and path already asked."""
    seen = list(seen)
    counts = Counter(request_kind(request) for request in seen)
    repeated = sum(count - 1 for count in Counter((request.method, request.path) for request in seen).values())
    if repeated:
        counts["repeated"] = repeated
    return counts

"""Per-digest facts shared through a real redis-server, under image policies (``images``).

Replica A judges an image; replica B, sharing A's Redis, judges the same digest for another
namespace (so the verdict key differs) and must take the facts from Redis without a registry
request beyond the reference's own manifest, while verifying every signature itself against its
own image-policy authorities. A value in Redis that was tampered with, even one rewritten so that
its envelope checks out, never makes B admit what it would deny.

Images are signed with the SigstoreInstanceDouble (the test double of a private Sigstore
instance) as ``cosign sign`` stores signatures (a ``.sig`` tag); a LyingRegistryProxyDouble
(honest here) in front of the registry counts requests.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from gate.config import Config
from gate.engine import Engine, WorkloadContext
from gate.report import ImageResult
from tests.registry.lying_proxy_double import LyingRegistryProxyDouble
from tests.support.artifacts import Blob, push_cosign_tag, push_index
from tests.support.gate_config import config_for
from tests.support.images import PushedImage
from tests.support.push import OCI_MANIFEST
from tests.support.redis_server import RedisServer
from tests.support.registry_server import RegistryServer
from tests.support.reports import only_evidence
from tests.support.sigstore_double import Keyed, SigstoreInstanceDouble, pem_public, simple_signing
from tests.test_end_to_end import Signing, app_image, provenance

QUIET = {rule: {"action": "off"} for rule in ("provenance.missing", "provenance.unverified", "sbom.missing", "image.stale")}


@dataclass
class Scene:
    registry: RegistryServer
    proxy: LyingRegistryProxyDouble
    redis: RedisServer
    double: SigstoreInstanceDouble
    signers: dict[str, Signing]
    keys: Path
    repo: str

    def config(self, rules: dict[str, Any] = QUIET) -> Config:
        """Two image policies: ``acme/**`` trusts the acme key, ``vendor/**`` the vendor key."""
        host = self.proxy.host
        images = [
            {"name": name, "match": [f"{host}/{name}/**"], "authorities": [{"name": f"{name}-key", "key": str(self.keys / f"{name}.pub")}]}
            for name in ("acme", "vendor")
        ]
        trust = {"trusted_root": str(self.keys / "trusted_root.json")}
        return config_for(self.proxy, rules=rules, trust=trust, images=images, cache={"url": self.redis.url, "retry_seconds": 0.2})

    def push(self, path: str, signer: str) -> tuple[PushedImage, str]:
        """A clean image under ``path/``, signed by ``signer``'s key; its reference through the proxy."""
        pushed = app_image().push(self.registry, f"{path}/{self.repo.split('/', 1)[1]}:1")
        self.signers[signer].sign(pushed, self.signers[signer].keyed)
        return pushed, f"{self.proxy.host}/{pushed.repository}:1"


@pytest.fixture
def scene(registry: RegistryServer, lying_proxy: LyingRegistryProxyDouble, redis_server: RedisServer, repo: str, tmp_path: Path) -> Scene:
    double = SigstoreInstanceDouble()
    signers = {name: Signing(registry, double, ec.generate_private_key(ec.SECP256R1())) for name in ("acme", "vendor", "stranger")}
    for name, signing in signers.items():
        (tmp_path / f"{name}.pub").write_bytes(pem_public(signing.key))
    (tmp_path / "trusted_root.json").write_bytes(double.trusted_root_json())
    return Scene(registry, lying_proxy, redis_server, double, signers, tmp_path, repo)


def _verdict(result: ImageResult) -> tuple[str, list[str]]:
    return result.decision, sorted(v.rule for v in result.violations)


def _judge(config: Config, refs: list[str], namespace: str) -> tuple[list[ImageResult], dict[str, Any]]:
    """One fresh replica's checks of ``refs`` in ``namespace``; its results and stats."""

    async def run() -> tuple[list[ImageResult], dict[str, Any]]:
        async with Engine(config) as engine:
            results = [await engine.check(ref, WorkloadContext(namespace=namespace)) for ref in refs]
            return results, engine.stats()

    return asyncio.run(run())


def _blob_gets(proxy: LyingRegistryProxyDouble) -> list[str]:
    return [seen.path for seen in proxy.seen if seen.method == "GET" and "/blobs/" in seen.path]


def test_replica_b_takes_facts_from_redis_and_verifies_signatures_itself(scene: Scene) -> None:
    """A key trusted for one image policy proves nothing, on B either, for another policy's image."""
    ours, our_ref = scene.push("acme", "acme")
    theirs, their_ref = scene.push("vendor", "acme")  # signed, but not by the vendor key
    config = scene.config()
    judged, _ = _judge(config, [our_ref, their_ref], "team-a")
    assert [_verdict(r) for r in judged] == [("allow", []), ("deny", ["signature.missing"])]

    scene.proxy.seen.clear()
    results, stats = _judge(config, [our_ref, their_ref], "team-b")

    assert [_verdict(r) for r in results] == [("allow", []), ("deny", ["signature.missing"])]
    assert [f"{s.method} {s.path}" for s in scene.proxy.seen] == [
        f"GET /v2/{ours.repository}/manifests/1",
        f"GET /v2/{theirs.repository}/manifests/1",
    ], "B read each reference once (the tag) and nothing else: no signature tag, no config, no layer"
    assert stats["caches"]["shared_facts"].hits == 2 and stats["caches"]["shared_verdicts"].hits == 0
    assert sum(stats["shared_fallbacks"].values()) == 0
    (signature,) = only_evidence(results[0].to_json())["signatures"]
    assert signature["authorities"] == ["acme-key"]
    (violation,) = results[1].violations
    assert "image policy `vendor`" in violation.message


def _facts_keys(redis: RedisServer) -> list[bytes]:
    with redis.client() as client:
        return sorted(key for key in client.keys("gate:*") if b":facts:" in key)


def _rewrite(redis: RedisServer, key: bytes, change: Callable[[dict[str, Any]], None]) -> None:
    """Rewrite a stored value's body as a writer of gate's keys could: the envelope still checks out."""
    with redis.client() as client:
        value, ttl = client.get(key), client.pttl(key)
        first, _, data = value.partition(b"\n")
        prefix, _, header_text = first.partition(b" ")
        body = json.loads(data)
        change(body)
        data = json.dumps(body, separators=(",", ":")).encode()
        header = json.loads(header_text) | {"stored": time.time(), "sha256": hashlib.sha256(data).hexdigest()}
        client.set(key, prefix + b" " + json.dumps(header, separators=(",", ":")).encode() + b"\n" + data, px=ttl)


def _evidence(body: dict[str, Any]) -> dict[str, Any]:
    (platform,) = body["platforms"]
    return platform["evidence"]


def _alter_artifact_bytes(body: dict[str, Any]) -> None:
    (artifact,) = _evidence(body)["artifacts"]
    data = base64.b64decode(artifact["data"])
    artifact["data"] = base64.b64encode(data.replace(b"sha256:", b"sha256:0", 1)[: len(data)]).decode()


def _alter_manifest_bytes(body: dict[str, Any]) -> None:
    (manifest,) = _evidence(body)["manifests"].values()
    manifest["data"] = base64.b64encode(base64.b64decode(manifest["data"]) + b" ").decode()  # same JSON, other bytes


def _claim_another_digest(body: dict[str, Any]) -> None:
    _evidence(body)["digest"] = "sha256:" + "0" * 64


def _point_at_a_layer_the_manifest_lacks(body: dict[str, Any]) -> None:
    (artifact,) = _evidence(body)["artifacts"]
    artifact["layer"] = 1


TAMPERINGS: dict[str, Callable[[dict[str, Any]], None]] = {
    "artifact-bytes-altered": _alter_artifact_bytes,
    "manifest-bytes-altered": _alter_manifest_bytes,
    "another-digest": _claim_another_digest,
    "descriptor-not-in-manifest": _point_at_a_layer_the_manifest_lacks,
}


@pytest.mark.parametrize("tampering", sorted(TAMPERINGS))
def test_tampered_facts_in_redis_are_ignored_and_b_reads_the_registry(scene: Scene, tampering: str) -> None:
    pushed, ref = scene.push("acme", "acme")
    config = scene.config()
    _judge(config, [ref], "team-a")
    (key,) = _facts_keys(scene.redis)
    _rewrite(scene.redis, key, TAMPERINGS[tampering])

    scene.proxy.seen.clear()
    (result,), stats = _judge(config, [ref], "team-b")

    assert _verdict(result) == ("allow", [])
    assert stats["shared_fallbacks"]["corrupt"] == 1 and stats["caches"]["shared_facts"].hits == 0
    assert any(path.endswith(pushed.config_digest) for path in _blob_gets(scene.proxy)), "B gathered the facts itself"


def test_a_self_consistent_record_with_an_untrusted_signature_does_not_verify(scene: Scene) -> None:
    """Whoever can write Redis can only hand over bytes: a signature by a key no image policy trusts,
    in a cosign manifest rewritten to list it (every digest consistent), is verified here and fails."""
    pushed, ref = scene.push("acme", "acme")
    config = scene.config()
    _judge(config, [ref], "team-a")
    (key,) = _facts_keys(scene.redis)
    at = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=5)
    layer = scene.double.sign_legacy(simple_signing(pushed.digest, f"{pushed.host}/{pushed.repository}"), Keyed(scene.signers["stranger"].key), at)

    def forge(body: dict[str, Any]) -> None:
        evidence = _evidence(body)
        (artifact,) = evidence["artifacts"]
        (old_digest,) = evidence["manifests"]
        manifest = json.loads(base64.b64decode(evidence["manifests"][old_digest]["data"]))
        manifest["layers"] = [
            {"mediaType": layer.media_type, "digest": "sha256:" + hashlib.sha256(layer.data).hexdigest(), "size": len(layer.data), "annotations": dict(layer.annotations)}
        ]
        raw = json.dumps(manifest, separators=(",", ":")).encode()
        digest = "sha256:" + hashlib.sha256(raw).hexdigest()
        evidence["manifests"] = {digest: {"media_type": OCI_MANIFEST, "data": base64.b64encode(raw).decode()}}
        artifact |= {"manifest": digest, "layer": 0, "data": base64.b64encode(layer.data).decode()}

    _rewrite(scene.redis, key, forge)
    scene.proxy.seen.clear()
    (result,), stats = _judge(config, [ref], "team-b")

    assert stats["caches"]["shared_facts"].hits == 1, "the forged record is well-formed: it is read"
    assert _verdict(result) == ("deny", ["signature.missing"]), "and its signature, checked here, counts for nothing"
    assert _blob_gets(scene.proxy) == []


def test_facts_with_large_attached_evidence_stay_in_the_replica(scene: Scene) -> None:
    pushed, ref = scene.push("acme", "acme")
    sbom = {"spdxVersion": "SPDX-2.3", "SPDXID": "SPDXRef-DOCUMENT", "name": "big", "packages": [], "comment": "x" * (5 * 1024 * 1024)}
    push_cosign_tag(scene.registry, pushed, ".sbom", [Blob(sbom, "application/spdx+json")])
    (result,), stats = _judge(scene.config(), [ref], "team-a")
    assert _verdict(result) == ("allow", []), "judged in full, no layer left unscanned"
    assert stats["caches"]["shared_facts"].loads == 1
    assert _facts_keys(scene.redis) == [], "larger than the portable bound: not written to Redis"


def _rebuilt_manifest(evidence: dict[str, Any], artifact: dict[str, Any], data: bytes) -> None:
    """Give ``artifact`` new bytes and rewrite its manifest to list them, every digest consistent."""
    old = artifact["manifest"]
    carried = evidence["manifests"].pop(old)
    manifest = json.loads(base64.b64decode(carried["data"]))
    manifest["layers"][artifact["layer"]] |= {"digest": "sha256:" + hashlib.sha256(data).hexdigest(), "size": len(data)}
    raw = json.dumps(manifest, separators=(",", ":")).encode()
    digest = "sha256:" + hashlib.sha256(raw).hexdigest()
    evidence["manifests"][digest] = carried | {"data": base64.b64encode(raw).decode()}
    artifact |= {"manifest": digest, "data": base64.b64encode(data).decode()}


def test_index_evidence_is_proven_by_the_index_bytes(scene: Scene) -> None:
    """A BuildKit provenance counts through the signed index that lists its attestation manifest:
    B verifies that chain itself, and a record that swaps the index or rewrites the attestation
    (its manifest rebuilt to match) is refused."""
    image = app_image().push(scene.registry, f"acme/{scene.repo.split('/', 1)[1]}")
    index = push_index(scene.registry, f"{image.repository}:1", [image], attestations={"linux/amd64": [provenance(image.digest)]})
    other = push_index(scene.registry, f"{image.repository}:2", [app_image("linux/arm64")])
    scene.signers["acme"].sign(index, scene.signers["acme"].keyed)
    ref = f"{scene.proxy.host}/{image.repository}:1"
    config = scene.config({rule: {"action": "off"} for rule in ("sbom.missing", "image.stale")})  # provenance rules on
    (judged,), _ = _judge(config, [ref], "team-a")
    assert _verdict(judged) == ("allow", []), judged.violations
    (key,) = _facts_keys(scene.redis)

    scene.proxy.seen.clear()
    (shared,), stats = _judge(config, [ref], "team-b")
    assert _verdict(shared) == ("allow", []) and stats["caches"]["shared_facts"].hits == 1
    assert [s.path for s in scene.proxy.seen] == [f"/v2/{image.repository}/manifests/1"]
    assert only_evidence(shared.to_json())["provenance"]["verified"] is True

    def swap_index(body: dict[str, Any]) -> None:
        _evidence(body)["manifests"][index.digest]["data"] = base64.b64encode(other.raw).decode()

    def rewrite_attestation(body: dict[str, Any]) -> None:
        evidence = _evidence(body)
        (attestation,) = [a for a in evidence["artifacts"] if a["store"] == "buildkit"]
        forged = provenance(image.digest, materials=[])
        _rebuilt_manifest(evidence, attestation, json.dumps(forged).encode())

    with scene.redis.client() as client:
        original, ttl = client.get(key), client.pttl(key)
    for tampering in (swap_index, rewrite_attestation):
        with scene.redis.client() as client:
            client.set(key, original, px=ttl)
        _rewrite(scene.redis, key, tampering)
        scene.proxy.seen.clear()
        (result,), stats = _judge(config, [ref], f"team-{tampering.__name__}")  # a verdict key of its own
        assert _verdict(result) == ("allow", []), tampering.__name__
        assert stats["shared_fallbacks"]["corrupt"] == 1, tampering.__name__
        assert _blob_gets(scene.proxy), f"{tampering.__name__}: B gathered the facts itself"

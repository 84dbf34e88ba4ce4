"""End to end on the test registry: images signed by ``SigstoreInstanceDouble`` in all three
layouts, found by ``gate.evidence.discover`` and verified by ``gate.verify``."""

from __future__ import annotations

import asyncio
import datetime as dt

from cryptography.hazmat.primitives.asymmetric import ec

from gate.config import Config, KeylessIdentity
from gate.evidence import discover
from gate.evidence._signatures import CosignAttestation, SigstoreBundle, StoredLayer, parse_signature_layers
from gate.registry import Reference, RegistryClient
from gate.verify import (
    TrustPolicy,
    attestation_trust,
    covered_digests,
    trusted_coverage,
    verify_attached_signatures,
    verify_attestation,
    verify_image_signatures,
)
from tests.support.artifacts import Blob, push_cosign_tag, push_index, push_sigstore_bundle
from tests.support.images import ImageBuilder
from tests.support.registry_server import RegistryServer
from tests.support.sigstore_double import Keyed, Keyless, SigstoreInstanceDouble, pem_public, simple_signing, statement

NOW = dt.datetime(2026, 11, 26, 14, 0, tzinfo=dt.timezone.utc)
SIGNER = Keyless("release@example.com", "https://accounts.example")
SLSA = "https://slsa.dev/provenance/v1"


def blob(layer: StoredLayer) -> Blob:
    return Blob(layer.data, layer.media_type, dict(layer.annotations))


def attached_signatures(config: Config, reference: str):
    async def scenario():
        async with RegistryClient(config) as client:
            ref = Reference.parse(reference)
            manifest = await client.manifest(ref)
            attached = await discover(client, ref, manifest, blob_bytes=config.limits.blob_bytes)
            return manifest, parse_signature_layers(attached.signature_layers())

    return asyncio.run(scenario())


def test_all_layouts_keyless_and_keyed(registry: RegistryServer, gate_config: Config, repo: str) -> None:
    double, key = SigstoreInstanceDouble(), ec.generate_private_key(ec.SECP256R1())
    image = ImageBuilder().layer({"app": "binary"}).push(registry, f"{repo}:1")
    payload = simple_signing(image.digest, f"{registry.host}/{repo}")
    push_cosign_tag(registry, image, ".sig", [blob(double.sign_legacy(payload, SIGNER, NOW)), blob(double.sign_legacy(payload, Keyed(key), NOW))])
    push_cosign_tag(registry, image, ".att", [blob(double.attest_legacy(statement(image.digest, SLSA), SIGNER, NOW))])
    push_sigstore_bundle(registry, image, double.bundle(statement(image.digest), SIGNER, NOW))
    push_sigstore_bundle(registry, image, double.bundle(statement(image.digest, SLSA), Keyed(key), NOW), predicate_type=SLSA)

    manifest, artifacts = attached_signatures(gate_config, f"{registry.host}/{repo}:1")
    trust = TrustPolicy.from_parts(
        keys=[("release.pub", pem_public(key))],
        identities=[KeylessIdentity(issuer="https://accounts.example", subject="release@example.com")],
        trusted_root_json=double.trusted_root_json(),
    )
    checks = verify_image_signatures(manifest.digest, artifacts, trust, NOW)
    assert sorted((check.layout, check.signer.kind) for check in checks if check.ok) == [
        ("cosign-legacy", "key"), ("cosign-legacy", "keyless"), ("sigstore-bundle", "keyless"),
    ]
    assert len(checks) == 3  # the .att layer and the SLSA bundle are attestations, not signatures
    attestations = [a for a in artifacts if isinstance(a, (CosignAttestation, SigstoreBundle))]
    predicates = sorted(verify_attestation(a, manifest.digest, trust, NOW).predicate_type for a in attestations)
    assert predicates == sorted([SLSA, SLSA, "https://sigstore.dev/cosign/sign/v1"])


def test_garbage_sig_tag_is_a_failed_check(registry: RegistryServer, gate_config: Config, repo: str) -> None:
    image = ImageBuilder().layer({"app": "binary"}).push(registry, f"{repo}:1")
    garbage = Blob(b"\x89PNG not a payload", "application/vnd.dev.cosign.simplesigning.v1+json", {"dev.cosignproject.cosign/signature": "AAAA"})
    push_cosign_tag(registry, image, ".sig", [garbage])
    manifest, artifacts = attached_signatures(gate_config, f"{registry.host}/{repo}:1")
    checks = verify_image_signatures(manifest.digest, artifacts, TrustPolicy.from_parts(trusted_root_json=SigstoreInstanceDouble().trusted_root_json()), NOW)
    assert [check.status for check in checks] == ["invalid"]
    assert "not a cosign simple-signing document" in checks[0].reason


def test_signed_index_covers_its_platform_images(registry: RegistryServer, gate_config: Config, repo: str) -> None:
    double = SigstoreInstanceDouble()
    amd64 = ImageBuilder(platform="linux/amd64").layer({"a": "1"}).push(registry, repo)
    arm64 = ImageBuilder(platform="linux/arm64").layer({"a": "2"}).push(registry, repo)
    index = push_index(registry, f"{repo}:1", [amd64, arm64])
    push_sigstore_bundle(registry, index, double.bundle(statement(index.digest), SIGNER, NOW))
    manifest, artifacts = attached_signatures(gate_config, f"{registry.host}/{repo}:1")
    trust = TrustPolicy.from_parts(identities=[KeylessIdentity(issuer="https://accounts.example", subject="release@example.com")], trusted_root_json=double.trusted_root_json())
    assert [check.ok for check in verify_image_signatures(manifest.digest, artifacts, trust, NOW)] == [True]
    assert {amd64.digest, arm64.digest} <= covered_digests(manifest.digest, manifest.json)
    assert covered_digests(amd64.digest, amd64.json) == {amd64.digest}


def attached_evidence(config: Config, reference: str):
    async def scenario():
        async with RegistryClient(config) as client:
            ref = Reference.parse(reference)
            manifest = await client.manifest(ref)
            return manifest, await discover(client, ref, manifest, blob_bytes=config.limits.blob_bytes)

    return asyncio.run(scenario())


def test_buildkit_provenance_counts_only_under_a_trusted_index_signature(registry: RegistryServer, gate_config: Config, repo: str) -> None:
    double = SigstoreInstanceDouble()
    trust = TrustPolicy.from_parts(identities=[KeylessIdentity(issuer="https://accounts.example", subject="release@example.com")], trusted_root_json=double.trusted_root_json())
    amd64 = ImageBuilder(platform="linux/amd64").layer({"a": "1"}).push(registry, repo)
    index = push_index(registry, f"{repo}:1", [amd64], attestations={"linux/amd64": [statement(amd64.digest, SLSA)]})
    push_cosign_tag(registry, amd64, ".att", [blob(double.attest_legacy(statement(amd64.digest, SLSA), SIGNER, NOW))])

    manifest, attached = attached_evidence(gate_config, f"{registry.host}/{repo}:1")
    provenance = [a for a in attached.artifacts if a.subject == amd64.digest and a.store in ("buildkit", "cosign-att")]
    assert sorted(a.store for a in provenance) == ["buildkit", "cosign-att"]

    def verdicts(covered):
        return {a.store: attestation_trust(a, amd64.digest, trust, NOW, covered) for a in provenance}

    unsigned_index = verdicts(covered=frozenset())
    assert unsigned_index["cosign-att"].via == "signature" and unsigned_index["cosign-att"].signer.subject == "release@example.com"
    assert unsigned_index["buildkit"].verified is False

    push_sigstore_bundle(registry, index, double.bundle(statement(index.digest), SIGNER, NOW))
    _, attached = attached_evidence(gate_config, f"{registry.host}/{repo}:1")
    checks = verify_attached_signatures(attached, amd64.digest, trust, NOW, index_digest=index.digest)
    assert [(check.digest, check.ok) for check in checks] == [(index.digest, True)]  # the .att on amd64 is no signature
    covered = trusted_coverage(checks, {index.digest: manifest.json, amd64.digest: amd64.json})
    signed_index = verdicts(covered=covered)
    assert (signed_index["buildkit"].verified, signed_index["buildkit"].via) == (True, "coverage")
    assert covered_digests(amd64.digest, amd64.json) == {amd64.digest}  # a platform signature covers no sibling attestation

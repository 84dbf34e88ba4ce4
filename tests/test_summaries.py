"""Signed verification summaries on the real registry: `gate check image --attest`, then gates that
list the signer in `trust.verifiers` admit the image without fetching a layer, and ignore (and
report) every summary that fails a check.

A counting LyingRegistryProxyDouble (honest here) sits in front of the consumer so the test sees
each request it makes. Each gate gets its own layer-cache directory, so a consumer can only skip
the layers by trusting the summary.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from sigstore.models import Bundle, InvalidBundle
from sigstore_models.bundle.v1 import Bundle as BundleDocument

from gate import config as config_module
from gate.attest import Attester
from gate.cli import main
from gate.engine import Engine, Gathered
from gate.errors import ConfigError, EvidenceError
from gate.policy_input import ImageIdentity
from tests.registry.lying_proxy_double import LyingRegistryProxyDouble
from tests.support.discovery_layouts import requests_by_kind
from tests.support.reports import only_evidence
from tests.support.artifacts import push_index, push_sigstore_bundle, referrers_tag
from tests.support.images import ImageBuilder, PushedImage
from tests.support.push import client_for
from tests.support.registry_server import RegistryServer
from tests.support.sigstore_double import SigstoreInstanceDouble, pem_public
from tests.support.summaries import VERIFIER, VSA, image_blob_gets, write_key
from tests.test_end_to_end import Signing

BUNDLE_V03 = "application/vnd.dev.sigstore.bundle.v0.3+json"
RECENT = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
EVIDENCE_OFF = {rule: {"action": "off"} for rule in ("signature.missing", "provenance.missing", "sbom.missing")}


@pytest.fixture
def keys(tmp_path: Path) -> dict[str, tuple[Path, Path]]:
    """The CI gate's key and a stranger's, as (private PEM, public PEM)."""
    return {
        "ci": write_key(tmp_path / "ci.key", ec.generate_private_key(ec.SECP256R1())),
        "stranger": write_key(tmp_path / "stranger.key", ec.generate_private_key(ec.SECP256R1())),
    }


def _config_file(tmp_path: Path, name: str, hosts: list[str], **sections: Any) -> Path:
    document = {"registries": {"insecure": hosts}, "rules": dict(EVIDENCE_OFF), "scan": {"cache_dir": str(tmp_path / f"cache-{name}")}}
    for key, value in sections.items():
        document[key] = value if key != "rules" else document["rules"] | value
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def _image() -> ImageBuilder:
    image = ImageBuilder()
    image.layer({"etc/passwd": "root:x:0:0:root:/root:/bin/sh\napp:x:10001:10001::/app:/sbin/nologin\n"}, created_by="COPY passwd /etc")
    image.layer({"app/server": "#!/bin/sh\necho ok\n"}, created_by="COPY app /app")
    return image.config(user="app", created=RECENT)


@dataclass
class Scene:
    """A CI gate that attests through the session registry, and a consuming gate behind the counting proxy."""

    registry: RegistryServer
    proxy: LyingRegistryProxyDouble
    repo: str
    tmp_path: Path
    keys: dict[str, tuple[Path, Path]]
    capsys: pytest.CaptureFixture[str]

    def attester(self, signer: str = "ci", **extra: Any) -> Path:
        attest = {"key": str(self.keys[signer][0]), "verifier_id": VERIFIER}
        return _config_file(self.tmp_path, "ci", [self.registry.host], attest=attest, **extra)

    def consumer(self, verifier_id: str = VERIFIER, listed: str = "ci", **extra: Any) -> Path:
        verifiers = [{"key": str(self.keys[listed][1]), "id": verifier_id, "max_age_hours": 24}]
        return _config_file(self.tmp_path, "consumer", [self.proxy.host], trust={"verifiers": verifiers}, **extra)

    def attest(self, ref: str, *args: str, signer: str = "ci", expect: int = 0, **config: Any) -> dict[str, Any]:
        """``gate check image REF --attest``; the JSON report."""
        code = main(["check", "image", ref, "--attest", "--config", str(self.attester(signer, **config)), "--output", "json", *args])
        captured = self.capsys.readouterr()
        assert code == expect, captured
        assert "attested" in captured.err
        return json.loads(captured.out)

    def consume(self, tag: str, *args: str, config: Path | None = None) -> tuple[int, dict[str, Any]]:
        """The consumer's check of ``repo:tag`` through the proxy: exit code and the one result."""
        ref = f"{self.proxy.host}/{self.repo}:{tag}"
        code = main(["check", "image", ref, "--config", str(config or self.consumer()), "--output", "json", *args])
        (result,) = json.loads(self.capsys.readouterr().out)["results"]
        return code, result

    def push(self, tag: str = "1", image: ImageBuilder | None = None) -> PushedImage:
        return (image or _image()).push(self.registry, f"{self.repo}:{tag}")


@pytest.fixture
def scene(
    registry: RegistryServer, lying_proxy: LyingRegistryProxyDouble, repo: str, tmp_path: Path, keys: dict[str, tuple[Path, Path]], capsys: pytest.CaptureFixture[str]
) -> Scene:
    return Scene(registry, lying_proxy, repo, tmp_path, keys, capsys)


def test_listed_summary_replaces_layer_fetching(scene: Scene) -> None:
    pushed = scene.push()
    attested = scene.attest(pushed.ref)

    code, result = scene.consume("1")

    assert code == 0, result
    assert result["decision"] == "allow" and result["digest"] == pushed.digest
    summary = result["evidence"]["summary"]
    assert (summary["verifier"], summary["policy_digest"], summary["verification_result"]) == (VERIFIER, attested["policy_digest"], "PASSED")
    assert dt.datetime.fromisoformat(summary["time_verified"].replace("Z", "+00:00")) > dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5)
    assert only_evidence(result)["config"]["effective_user"]["uid"] == 10001  # the CI gate's facts, resolved through passwd
    assert list(result["evidence"]["platforms"]) == list(attested["results"][0]["evidence"]["platforms"]) == ["linux/amd64"]
    assert image_blob_gets(scene.proxy, pushed) == []
    assert len(scene.proxy.seen) <= 8, [f"{s.method} {s.path}" for s in scene.proxy.seen]


def test_summary_facts_are_judged_with_local_policy_and_context(scene: Scene) -> None:
    """A root image summarised by CI is still denied by the consumer's own Rego (FAILED summary, local deny)."""
    image = ImageBuilder()
    image.layer({"app/server": "x"}, created_by="COPY app /app")
    pushed = scene.push("root", image.config(user="root", created=RECENT))
    scene.attest(pushed.ref, expect=1)

    code, result = scene.consume("root")

    assert code == 1
    assert [v["rule"] for v in result["violations"]] == ["user.root"]
    assert result["evidence"]["summary"]["verification_result"] == "FAILED"
    assert image_blob_gets(scene.proxy, pushed) == []


def _assert_full_check(result: dict[str, Any], proxy: LyingRegistryProxyDouble, pushed: PushedImage, reason: str) -> None:
    assert "summary" not in result["evidence"]
    problems = [p for p in only_evidence(result)["problems"] if "verification summary" in p]
    assert problems and all("ignored" in p for p in problems), only_evidence(result)["problems"]
    assert any(reason in p for p in problems), problems
    assert len(image_blob_gets(proxy, pushed)) == 1 + len(pushed.manifest["layers"])  # config and every layer: the full check ran


def test_summary_by_unlisted_key_is_ignored(scene: Scene) -> None:
    pushed = scene.push()
    scene.attest(pushed.ref, signer="stranger")
    code, result = scene.consume("1")
    assert code == 0
    _assert_full_check(result, scene.proxy, pushed, "verifies under no trust.verifiers key")


def test_a_full_check_after_an_ignored_summary_reads_nothing_twice(scene: Scene) -> None:
    """The summary lookup and the full check's discovery both list the image's referrers and
    both read the summary's manifest and bundle: one request each."""
    pushed = scene.push()
    scene.attest(pushed.ref, signer="stranger")
    code, result = scene.consume("1")
    assert code == 0
    _assert_full_check(result, scene.proxy, pushed, "verifies under no trust.verifiers key")
    counted = requests_by_kind(scene.proxy.seen)
    assert "repeated" not in counted, [f"{s.method} {s.path}" for s in scene.proxy.seen]
    assert (counted["referrers API"], counted["referrers tag"]) == (1, 1)


def test_summary_with_another_verifier_id_is_ignored(scene: Scene) -> None:
    pushed = scene.push()
    scene.attest(pushed.ref)
    _, result = scene.consume("1", config=scene.consumer(verifier_id="https://other.example/gate"))
    _assert_full_check(result, scene.proxy, pushed, "its key is listed for https://other.example/gate")


def test_summary_under_another_policy_is_ignored(scene: Scene) -> None:
    pushed = scene.push()
    attested = scene.attest(pushed.ref, rules={"image.stale": {"action": "warn", "max_age_days": 30}})
    _, result = scene.consume("1")
    _assert_full_check(result, scene.proxy, pushed, f"made under policy {attested['policy_digest']}")


def _other_image() -> ImageBuilder:
    return _image().config(user="app", created=RECENT, labels={"variant": "b"})


def test_summary_about_another_digest_is_ignored(scene: Scene) -> None:
    """A genuine summary of image B, copied onto image A as a referrer, says nothing about A."""
    other = scene.push("b", _other_image())
    scene.attest(other.ref)
    pushed = scene.push("a")
    assert other.digest != pushed.digest
    push_sigstore_bundle(scene.registry, pushed, _attached_bundle(scene.registry, other)[1], predicate_type=VSA)

    _, result = scene.consume("a")
    _assert_full_check(result, scene.proxy, pushed, f"not {pushed.digest}")


def test_summary_older_than_max_age_is_ignored(scene: Scene) -> None:
    pushed = scene.push()
    config = config_module.load(scene.attester())

    async def attest_two_days_ago() -> None:
        async with Engine(config) as engine:
            result = await engine.check(pushed.ref)
            await Attester.from_config(config).attest(engine, result, dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=48))

    asyncio.run(attest_two_days_ago())
    _, result = scene.consume("1")
    _assert_full_check(result, scene.proxy, pushed, "older than max_age_hours 24")


def _attached_bundle(registry: RegistryServer, pushed: PushedImage) -> tuple[dict[str, Any], bytes]:
    """The referrer manifest gate attached (read through the tag-schema index) and its bundle."""
    client = client_for(registry)
    raw_index = client.get_manifest(pushed.repository, referrers_tag(pushed.digest))
    assert raw_index is not None, "no referrers tag index: registry 2.8 has no referrers API, so gate must write one"
    (entry,) = [m for m in json.loads(raw_index[0])["manifests"] if m.get("annotations", {}).get("dev.sigstore.bundle.predicateType") == VSA]
    assert entry["artifactType"] == BUNDLE_V03
    raw_manifest = client.get_manifest(pushed.repository, entry["digest"])
    assert raw_manifest is not None
    manifest = json.loads(raw_manifest[0])
    layer = manifest["layers"][0]
    bundle = client._checked("GET", f"{registry.url}/v2/{pushed.repository}/blobs/{layer['digest']}", (200,)).content
    return manifest, bundle


def test_attached_summary_is_a_cosign_v3_bundle_referrer_that_sigstore_python_reads(scene: Scene) -> None:
    """The layout cosign v3 writes, checked with sigstore-python's models and `cryptography`.

    sigstore-python's ``Bundle`` (and so its ``Verifier``) accepts only certificate bundles; it
    refuses keyed ones, which the first assertion records. The keyed check is what cosign's
    ``verify-attestation --key --insecure-ignore-tlog`` does: DSSE PAE signed by the key.
    """
    pushed = scene.push()
    attested = scene.attest(pushed.ref)
    manifest, bundle = _attached_bundle(scene.registry, pushed)

    assert manifest["artifactType"] == BUNDLE_V03
    assert manifest["config"]["mediaType"] == "application/vnd.oci.empty.v1+json"
    assert [layer["mediaType"] for layer in manifest["layers"]] == [BUNDLE_V03]
    assert manifest["subject"]["digest"] == pushed.digest
    assert manifest["annotations"]["dev.sigstore.bundle.content"] == "dsse-envelope"
    assert manifest["annotations"]["dev.sigstore.bundle.predicateType"] == VSA

    with pytest.raises(InvalidBundle, match="certificate"):
        Bundle.from_json(bundle)
    document = BundleDocument.from_json(bundle)
    assert document.media_type == BUNDLE_V03 and document.verification_material.public_key is not None
    envelope = document.dsse_envelope
    assert envelope.payload_type == "application/vnd.in-toto+json"
    pae = b"DSSEv1 %d %s %d %s" % (len(envelope.payload_type), envelope.payload_type.encode(), len(envelope.payload), envelope.payload)
    public = serialization.load_pem_public_key(scene.keys["ci"][1].read_bytes())
    public.verify(envelope.signatures[0].sig, pae, ec.ECDSA(hashes.SHA256()))  # raises when it does not verify

    statement = json.loads(envelope.payload)
    assert statement["_type"] == "https://in-toto.io/Statement/v1" and statement["predicateType"] == VSA
    assert statement["subject"][0]["digest"] == {"sha256": pushed.digest.split(":")[1]}
    predicate = statement["predicate"]
    assert predicate["verifier"]["id"] == VERIFIER
    assert predicate["policy"]["digest"] == {"sha256": attested["policy_digest"].split(":")[1]}
    assert predicate["verificationResult"] == "PASSED"
    assert predicate["resourceUri"] == f"oci://{scene.registry.host}/{scene.repo}@{pushed.digest}"
    assert [entry["digest"] for entry in predicate["gateFacts"]["platforms"]] == [pushed.digest]
    assert base64.b64decode(document.verification_material.public_key.hint)


def test_ed25519_summary_is_accepted(scene: Scene, monkeypatch: pytest.MonkeyPatch) -> None:
    """An encrypted PKCS#8 Ed25519 key, its password from GATE_ATTEST_PASSWORD."""
    scene.keys["ed"] = write_key(scene.tmp_path / "ed.key", ed25519.Ed25519PrivateKey.generate(), password=b"correct horse")
    monkeypatch.setenv("GATE_ATTEST_PASSWORD", "correct horse")
    pushed = scene.push()
    scene.attest(pushed.ref, signer="ed")
    code, result = scene.consume("1", config=scene.consumer(listed="ed"))
    assert code == 0 and result["evidence"]["summary"]["verifier"] == VERIFIER
    assert image_blob_gets(scene.proxy, pushed) == []


def test_encrypted_key_without_or_with_a_wrong_password_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    private, _ = write_key(tmp_path / "enc.key", ec.generate_private_key(ec.SECP256R1()), password=b"right")
    document = {"attest": {"key": str(private), "verifier_id": VERIFIER}}
    monkeypatch.delenv("GATE_ATTEST_PASSWORD", raising=False)
    with pytest.raises(ConfigError, match="attest.key"):
        config_module.from_mapping(document)
    monkeypatch.setenv("GATE_ATTEST_PASSWORD", "wrong")
    with pytest.raises(ConfigError, match=r"attest\.key.*password"):
        config_module.from_mapping(document)
    monkeypatch.setenv("GATE_ATTEST_PASSWORD", "right")
    assert config_module.from_mapping(document).attest.key == private


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({"attest": {"key": "PRIVATE"}}, "verifier_id"),
        ({"attest": {"key": "PUBLIC", "verifier_id": VERIFIER}}, "attest.key"),
        ({"trust": {"verifiers": [{"key": "PRIVATE", "id": VERIFIER}]}}, r"trust.verifiers\[0\].key"),
        ({"trust": {"verifiers": [{"key": "PUBLIC", "id": "gate"}]}}, r"trust.verifiers\[0\].id"),
        ({"trust": {"verifiers": [{"key": "PUBLIC", "id": VERIFIER, "max_age_hours": 0}]}}, r"trust.verifiers\[0\].max_age_hours"),
    ],
)
def test_bad_attest_and_verifier_settings_are_refused(document: dict[str, Any], field: str, keys: dict[str, tuple[Path, Path]]) -> None:
    private, public = keys["ci"]
    text = json.dumps(document).replace("PRIVATE", str(private)).replace("PUBLIC", str(public))
    with pytest.raises(ConfigError, match=field):
        config_module.from_mapping(json.loads(text))


def test_attest_without_a_key_is_a_usage_error(registry: RegistryServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _config_file(tmp_path, "plain", [registry.host])
    assert main(["check", "image", f"{registry.host}/none:1", "--attest", "--config", str(config)]) == 2
    assert "attest.key" in capsys.readouterr().err


def _platform_image(user: str, platform: str) -> ImageBuilder:
    image = ImageBuilder(platform=platform)
    image.layer({"app/server": f"{platform}\n"}, created_by="COPY app /app")
    return image.config(user=user, created=RECENT)


def test_index_summary_is_judged_on_every_platform_or_the_one_asked(scene: Scene) -> None:
    index = push_index(scene.registry, f"{scene.repo}:multi", [_platform_image("10001", "linux/amd64"), _platform_image("0", "linux/arm64")])
    scene.attest(index.ref, expect=1)

    code, result = scene.consume("multi")
    assert code == 1
    assert [(v["rule"], v["platform"]) for v in result["violations"]] == [("user.root", "linux/arm64")]
    assert result["evidence"]["summary"]["verifier"] == VERIFIER
    assert set(result["evidence"]["platforms"]) == {"linux/amd64", "linux/arm64"}

    code, one = scene.consume("multi", "--platform", "linux/amd64")
    assert (code, one["decision"], one["evidence"]["summary"]["verifier"]) == (0, "allow", VERIFIER)
    assert not [s for image in index.images for s in image_blob_gets(scene.proxy, image)]


def test_summary_of_one_platform_does_not_cover_the_index(scene: Scene) -> None:
    index = push_index(scene.registry, f"{scene.repo}:multi", [_platform_image("10001", "linux/amd64"), _platform_image("10001", "linux/arm64")])
    scene.attest(index.ref, "--platform", "linux/amd64")
    _, result = scene.consume("multi")
    assert "summary" not in result["evidence"]
    problems = [p for platform in result["evidence"]["platforms"].values() for p in platform["problems"]]
    assert any(f"not {index.images[1].digest}" in p for p in problems), problems


def test_altered_summary_is_ignored(scene: Scene) -> None:
    """A summary of image B whose statement was edited to name image A must not verify."""
    pushed = scene.push("1")
    other = scene.push("2", _other_image())
    assert other.digest != pushed.digest
    scene.attest(other.ref)
    bundle = json.loads(_attached_bundle(scene.registry, other)[1])
    statement = json.loads(base64.b64decode(bundle["dsseEnvelope"]["payload"]))
    statement["subject"][0]["digest"]["sha256"] = pushed.digest.split(":")[1]
    bundle["dsseEnvelope"]["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    push_sigstore_bundle(scene.registry, pushed, bundle, predicate_type=VSA)

    _, result = scene.consume("1")
    _assert_full_check(result, scene.proxy, pushed, "verifies under no trust.verifiers key")


def test_summary_made_without_layer_scan_is_ignored_by_a_scanning_gate(scene: Scene) -> None:
    pushed = scene.push()
    scene.attest(pushed.ref, "--no-layer-scan", expect=1)  # "app" cannot be resolved without /etc/passwd
    _, result = scene.consume("1")
    _assert_full_check(result, scene.proxy, pushed, "made without scanning layers")


def test_newest_acceptable_summary_wins_and_the_others_are_reported(scene: Scene) -> None:
    pushed = scene.push()
    scene.attest(pushed.ref)
    scene.attest(pushed.ref, signer="stranger")
    _, result = scene.consume("1")
    assert result["evidence"]["summary"]["verifier"] == VERIFIER
    assert any("verifies under no trust.verifiers key" in p for p in only_evidence(result)["problems"])
    assert image_blob_gets(scene.proxy, pushed) == []


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        ({"user": {}}, "config"),
        ({"config": [], "user": {}}, "config"),
        ({"config": {}, "user": {}, "signatures": []}, "signatures"),
        ({"config": {}, "user": {}, "findings": [1]}, "findings"),
        ({"config": {}, "user": {}, "problems": [{}]}, "problems"),
        ({"config": {}, "user": {}, "declared_platform": "linux/amd64\u001b[2J"}, "declared_platform"),
        ({"config": {}, "user": {}, "declared_platform": None}, "declared_platform"),
    ],
)
def test_summary_facts_of_the_wrong_shape_are_refused(entry: dict[str, Any], field: str) -> None:
    """A listed verifier's facts are still read defensively: a malformed entry is an EvidenceError, never a crash later."""
    identity = ImageIdentity(reference="r/a@sha256:" + "a" * 64, registry="r", repository="a", digest="sha256:" + "a" * 64)
    with pytest.raises(EvidenceError, match=field):
        Gathered.from_summary_json(entry, identity, {}, "summary")
    assert Gathered.from_summary_json({"config": {}, "user": {}}, identity, {"verifier": "v"}, "summary").summary == {"verifier": "v"}


@dataclass
class PolicyKeys:
    """An image policy trusting ``keys/release.pub``, the same section in the CI and the consuming
    gate (it is part of the policy digest); each gate reads its own copy of the key file."""

    release: Signing
    stranger: Signing
    directory: Path
    images: list[dict[str, Any]]
    trusted_root: str

    def consumer(self, scene: Scene) -> Path:
        verifiers = [{"key": str(scene.keys["ci"][1]), "id": VERIFIER, "max_age_hours": 24}]
        trust = {"verifiers": verifiers, "trusted_root": self.trusted_root}
        return _config_file(scene.tmp_path, "consumer", [scene.proxy.host], trust=trust, images=self.images, rules=SIGNATURES_ON)


SIGNATURES_ON = {"signature.missing": {"action": "deny"}}


@pytest.fixture
def policy_keys(scene: Scene) -> PolicyKeys:
    double = SigstoreInstanceDouble()
    release, stranger = (Signing(scene.registry, double, ec.generate_private_key(ec.SECP256R1())) for _ in range(2))
    directory = scene.tmp_path / "keys"
    directory.mkdir()
    (directory / "release.pub").write_bytes(pem_public(release.key))
    (directory / "trusted_root.json").write_bytes(double.trusted_root_json())
    prefix = scene.repo.split("/")[0]
    authorities = [{"name": "release", "key": str(directory / "release.pub")}]
    images = [{"name": "ours", "match": [f"{host}/{prefix}/**" for host in (scene.registry.host, scene.proxy.host)], "authorities": authorities}]
    return PolicyKeys(release, stranger, directory, images, str(directory / "trusted_root.json"))


def _attest_signed(scene: Scene, keys: PolicyKeys) -> PushedImage:
    pushed = scene.push()
    keys.release.sign(pushed, keys.release.keyed)
    scene.attest(pushed.ref, rules=SIGNATURES_ON, images=keys.images, trust={"trusted_root": keys.trusted_root})
    return pushed


def test_a_gate_with_image_policies_uses_a_summary_and_verifies_its_signatures_itself(scene: Scene, policy_keys: PolicyKeys) -> None:
    """The summary gives the scan facts (no config or layer blob is fetched); the signatures are
    checked against the consumer's own image-policy authorities, from the evidence the summary carries."""
    pushed = _attest_signed(scene, policy_keys)
    consumer = policy_keys.consumer(scene)

    code, result = scene.consume("1", config=consumer)
    assert code == 0, result
    assert result["evidence"]["summary"]["verifier"] == VERIFIER
    assert [signature["authorities"] for signature in only_evidence(result)["signatures"]] == [["release"]]
    assert image_blob_gets(scene.proxy, pushed) == []

    # The cluster's copy of keys/release.pub holds another key: the summary is still accepted,
    # and the signature it carries counts for nothing here.
    (policy_keys.directory / "release.pub").write_bytes(pem_public(policy_keys.stranger.key))
    scene.proxy.seen.clear()
    code, result = scene.consume("1", config=consumer)
    assert code == 1 and {v["rule"] for v in result["violations"]} == {"signature.missing"}, result["violations"]
    assert result["evidence"]["summary"]["verifier"] == VERIFIER
    assert image_blob_gets(scene.proxy, pushed) == []


def test_a_summary_without_attached_evidence_is_ignored_by_a_gate_with_image_policies(
    scene: Scene, policy_keys: PolicyKeys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("gate.engine._portable.PORTABLE_BYTES", 0)  # the attester finds the evidence too large to carry
    pushed = _attest_signed(scene, policy_keys)
    monkeypatch.undo()
    _, result = scene.consume("1", config=policy_keys.consumer(scene))
    assert result["decision"] == "allow"
    _assert_full_check(result, scene.proxy, pushed, "carries no attached evidence")

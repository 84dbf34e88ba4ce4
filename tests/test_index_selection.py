"""Which manifests of an index gate judges: every one a runtime could select (containerd's
``images.Manifest`` walk, containers/image's choice), real indexes on the real registry."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from gate.cli import main
from gate.engine import _platforms
from tests.support.artifacts import push_index
from tests.support.images import (
    OCI_INDEX,
    ImageBuilder,
    PushedImage,
    parse_platform,
    push_json_manifest,
)
from tests.support.registry_server import RegistryServer
from tests.test_cli import EVIDENCE_OFF, PASSWD, RECENT

ATTESTATION = {"vnd.docker.reference.type": "attestation-manifest"}
UNKNOWN = {"os": "unknown", "architecture": "unknown"}
STATEMENT = {"_type": "https://in-toto.io/Statement/v1", "subject": [], "predicateType": "https://example.com/p", "predicate": {}}


@pytest.fixture
def config_file(tmp_path: Path, registry: RegistryServer) -> Path:
    path = tmp_path / "gate.yaml"
    path.write_text(yaml.safe_dump({"registries": {"insecure": [registry.host]}, "rules": EVIDENCE_OFF}))
    return path


def _image(registry: RegistryServer, repo: str, user: str, platform: str = "linux/amd64") -> PushedImage:
    image = ImageBuilder(platform=platform).layer({"etc/passwd": PASSWD, "app/server": f"{user}\n"}, created_by="COPY app /app")
    return image.config(user=user, created=RECENT).push(registry, repo)


def _index(registry: RegistryServer, repo: str, descriptors: list[dict[str, Any]], tag: str | None = "1") -> Any:
    return push_json_manifest(registry, repo, {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": descriptors}, tag)


def _check(capsys: pytest.CaptureFixture[str], config: Path, ref: str, *extra: str) -> tuple[int, dict[str, Any]]:
    code = main(["check", "image", ref, "--config", str(config), "--output", "json", *extra])
    (result,) = json.loads(capsys.readouterr().out)["results"]
    return code, result


def _root_platforms(result: dict[str, Any]) -> list[str]:
    return [v["platform"] for v in result["violations"] if v["rule"] == "user.root"]


def test_an_image_wearing_the_attestation_annotation_is_judged(registry: RegistryServer, repo: str, config_file: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    good, evil = _image(registry, repo, "10001"), _image(registry, repo, "0")
    index = _index(registry, repo, [good.descriptor(platform=parse_platform("linux/amd64")),
                                    evil.descriptor(platform=parse_platform("linux/amd64"), annotations=ATTESTATION)])
    code, result = _check(capsys, config_file, index.ref)
    assert (code, result["decision"]) == (1, "deny")
    assert _root_platforms(result) == [f"linux/amd64 ({evil.digest[:19]})"]


def test_an_unknown_platform_image_without_in_toto_content_is_judged(registry: RegistryServer, repo: str, config_file: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    good, evil = _image(registry, repo, "10001"), _image(registry, repo, "0")
    index = _index(registry, repo, [good.descriptor(platform=parse_platform("linux/amd64")),
                                    evil.descriptor(platform=UNKNOWN, annotations=ATTESTATION)])
    code, result = _check(capsys, config_file, index.ref)
    assert (code, _root_platforms(result)) == (1, ["unknown/unknown"])


def test_nested_index_and_platformless_entries_are_judged(registry: RegistryServer, repo: str, config_file: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    good, nested_root, bare_root = (_image(registry, repo, user) for user in ("10001", "0", "root"))
    inner = _index(registry, repo, [nested_root.descriptor(platform=parse_platform("linux/arm64"))], tag=None)
    index = _index(registry, repo, [good.descriptor(platform=parse_platform("linux/amd64")), inner.descriptor(), bare_root.descriptor()])
    code, result = _check(capsys, config_file, index.ref)
    assert code == 1
    assert sorted(_root_platforms(result)) == ["(no platform)", "linux/arm64"]
    # A node walks a platform-less nested index and keeps what matches it, plus platform-less images.
    code, result = _check(capsys, config_file, index.ref, "--platform", "linux/arm64")
    assert (code, sorted(_root_platforms(result))) == (1, ["(no platform)", "linux/arm64"])
    code, result = _check(capsys, config_file, index.ref, "--platform", "linux/amd64")
    assert (code, _root_platforms(result)) == (1, ["(no platform)"])


def test_indexes_nested_too_deep_are_refused(registry: RegistryServer, repo: str, config_file: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    level = _index(registry, repo, [_image(registry, repo, "10001").descriptor(platform=parse_platform("linux/amd64"))], tag=None)
    for _ in range(3):
        level = _index(registry, repo, [level.descriptor()], tag=None)
    code, result = _check(capsys, config_file, level.by_digest)
    (violation,) = result["violations"]
    assert (code, violation["rule"]) == (2, "evaluation.error")
    assert "nests indexes more than 3 deep" in violation["message"]


def test_honest_buildkit_index_with_attestations_is_allowed(registry: RegistryServer, repo: str, config_file: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    images = [ImageBuilder(platform=p).layer({"etc/passwd": PASSWD}).config(user="10001", created=RECENT) for p in ("linux/amd64", "linux/arm64")]
    index = push_index(registry, f"{repo}:1", images, attestations={"linux/amd64": [STATEMENT], "linux/arm64": [STATEMENT]})
    code, result = _check(capsys, config_file, index.ref)
    assert (code, result["decision"], result["violations"]) == (0, "allow", [])
    assert set(result["evidence"]["platforms"]) == {"linux/amd64", "linux/arm64"}


def test_platform_flag_selects_as_containerd_does(registry: RegistryServer, repo: str, config_file: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    arm64_v8, arm_v7, amd = (_image(registry, repo, user, p) for user, p in (("10001", "linux/arm64/v8"), ("0", "linux/arm/v7"), ("0", "linux/amd64")))
    index = _index(registry, repo, [arm64_v8.descriptor(platform={"os": "linux", "architecture": "aarch64", "variant": "8"}),
                                    arm_v7.descriptor(platform=parse_platform("linux/arm/v7")),
                                    amd.descriptor(platform=parse_platform("linux/amd64"))])
    # An arm64 node can run arm/v7 images: containerd's platformVector, so that entry is judged too.
    code, result = _check(capsys, config_file, index.ref, "--platform", "linux/arm64")
    assert (code, _root_platforms(result)) == (1, ["linux/arm/v7"])
    code, result = _check(capsys, config_file, index.ref, "--platform", "linux/arm64/v8")
    assert _root_platforms(result) == ["linux/arm/v7"]


@pytest.mark.parametrize(("wanted", "entry", "expected"), [
    ("linux/arm64", {"os": "linux", "architecture": "arm64", "variant": "v8"}, True),
    ("linux/arm64/v8", {"os": "linux", "architecture": "arm64"}, True),
    ("linux/arm64", {"os": "linux", "architecture": "aarch64"}, True),
    ("linux/arm64", {"os": "linux", "architecture": "arm", "variant": "v5"}, True),
    ("linux/arm64", {"os": "linux", "architecture": "arm64", "variant": "v9"}, False),
    ("linux/arm64/v9", {"os": "linux", "architecture": "arm64", "variant": "v8.5"}, True),
    ("linux/arm64/v9", {"os": "linux", "architecture": "arm64", "variant": "v8.6"}, False),
    ("linux/arm/v7", {"os": "linux", "architecture": "armhf"}, True),
    ("linux/arm/v6", {"os": "linux", "architecture": "arm", "variant": "v7"}, False),
    ("linux/arm", {"os": "linux", "architecture": "arm", "variant": "7"}, True),
    ("linux/amd64", {"os": "linux", "architecture": "x86_64"}, True),
    ("linux/amd64", {"os": "linux", "architecture": "386"}, True),
    ("linux/amd64", {"os": "linux", "architecture": "amd64", "variant": "v2"}, False),
    ("linux/amd64/v3", {"os": "linux", "architecture": "amd64", "variant": "v2"}, True),
    ("linux/amd64/v2", {"os": "linux", "architecture": "amd64", "variant": "v1"}, True),
    ("linux/amd64", {"os": "Linux", "architecture": "AMD64"}, True),
    ("linux/amd64", {"os": "windows", "architecture": "amd64"}, False),
])
def test_platform_matching_follows_containerd_only(wanted: str, entry: dict[str, str], expected: bool) -> None:
    """Cases from containerd/platforms compare_test.go (TestOnly) and its Normalize table."""
    assert _platforms.matches(wanted, entry) is expected


@pytest.mark.parametrize(
    ("platform", "annotated", "layer_type", "skipped"),
    [
        ({"os": "unknown", "architecture": "unknown"}, True, "application/vnd.in-toto+json", True),
        ({"os": "unknown", "architecture": "amd64"}, True, "application/vnd.in-toto+json", False),
        ({"os": "linux", "architecture": "unknown"}, True, "application/vnd.in-toto+json", False),
        ({"os": "unknown", "architecture": "unknown"}, False, "application/vnd.in-toto+json", False),
        ({"os": "unknown", "architecture": "unknown"}, True, "application/vnd.oci.image.layer.v1.tar+gzip", False),
    ],
)
def test_an_attestation_entry_is_recognised_by_its_whole_shape_only(platform: dict[str, str], annotated: bool, layer_type: str, skipped: bool) -> None:
    """Platform unknown/unknown, the annotation and in-toto content, all three; anything else is judged."""
    from gate.engine._selection import is_attestation
    from gate.registry._models import Descriptor, Manifest

    annotations = {"vnd.docker.reference.type": "attestation-manifest"} if annotated else {}
    entry = Descriptor("application/vnd.oci.image.manifest.v1+json", "sha256:" + "a" * 64, 1, annotations=annotations, platform=platform)
    layer = Descriptor(layer_type, "sha256:" + "b" * 64, 1)
    manifest = Manifest("sha256:" + "a" * 64, "application/vnd.oci.image.manifest.v1+json", b"{}", {}, layers=(layer,))
    assert is_attestation(entry, manifest) is skipped

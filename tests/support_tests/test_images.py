"""The image factory pushes what it claims, as read back by skopeo (an independent client)."""

from __future__ import annotations

import httpx
import pytest

from tests.support.artifacts import push_index
from tests.support.images import ImageBuilder, OCI_EMPTY, push_json_manifest
from tests.support.layers import Dir, Symlink
from tests.support.push import PushError
from tests.support.registry_server import RegistryServer
from tests.support.skopeo import skopeo_inspect as skopeo

PASSWD = "root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n"


def sample_image(platform: str = "linux/amd64", media: str = "oci") -> ImageBuilder:
    image = ImageBuilder(platform=platform, media=media)  # type: ignore[arg-type]
    image.layer({"etc/passwd": PASSWD, "app/": Dir(), "bin/sh": Symlink("busybox")}, created_by="COPY . / # buildkit")
    image.step("ENV APP_ENV=prod", comment="buildkit.dockerfile.v0")
    image.layer({"app/main.py": "print('hi')\n"}, compression="zstd" if media == "oci" else "gzip")
    return image.config(user="1000", env={"APP_ENV": "prod"}, labels={"team": "shop"})


def test_oci_image_reads_back_with_skopeo(registry: RegistryServer, repo: str) -> None:
    pushed = sample_image().push(registry, f"{repo}:1.4")

    inspected = skopeo(f"docker://{pushed.ref}")
    raw = skopeo("--raw", f"docker://{pushed.ref}")
    config = skopeo("--config", f"docker://{pushed.by_digest}")

    assert inspected["Digest"] == pushed.digest
    assert (inspected["Os"], inspected["Architecture"]) == ("linux", "amd64")
    assert inspected["Env"] == ["APP_ENV=prod"] and inspected["Labels"] == {"team": "shop"}
    assert raw == pushed.manifest
    assert [layer["mediaType"] for layer in raw["layers"]] == [
        "application/vnd.oci.image.layer.v1.tar+gzip",
        "application/vnd.oci.image.layer.v1.tar+zstd",
    ]
    assert [layer["digest"] for layer in raw["layers"]] == list(pushed.layer_digests)
    assert raw["config"]["digest"] == pushed.config_digest
    assert config["config"]["User"] == "1000"
    assert [entry.get("empty_layer", False) for entry in config["history"]] == [False, True, False]
    assert len(config["rootfs"]["diff_ids"]) == 2


def test_docker_image_uses_docker_media_types(registry: RegistryServer, repo: str) -> None:
    pushed = sample_image(media="docker").push(registry, f"{repo}:docker")

    raw = skopeo("--raw", f"docker://{pushed.ref}")

    assert raw["mediaType"] == "application/vnd.docker.distribution.manifest.v2+json"
    assert raw["config"]["mediaType"] == "application/vnd.docker.container.image.v1+json"
    assert {layer["mediaType"] for layer in raw["layers"]} == {"application/vnd.docker.image.rootfs.diff.tar.gzip"}


def test_pushing_twice_reuses_blobs_and_gives_the_same_digest(registry: RegistryServer, repo: str) -> None:
    first = sample_image().push(registry, f"{repo}:a")
    second = sample_image().push(registry, f"{repo}:b")

    assert first.digest == second.digest
    assert skopeo(f"docker://{registry.host}/{repo}:b")["Digest"] == first.digest


def test_push_by_digest_only_leaves_no_tag(registry: RegistryServer, repo: str) -> None:
    pushed = sample_image().push(registry, repo)

    assert pushed.tag is None and pushed.ref == pushed.by_digest
    assert skopeo("--no-tags", f"docker://{pushed.by_digest}")["Digest"] == pushed.digest
    tags = httpx.get(f"{registry.url}/v2/{repo}/tags/list")
    assert tags.status_code == 404  # registry 2.8: a repository without tags has no tag list


@pytest.mark.parametrize("style", ["legacy", "oci-artifact"])
def test_index_with_buildkit_attestations(registry: RegistryServer, repo: str, style: str) -> None:
    statement = {"_type": "https://in-toto.io/Statement/v1", "predicateType": "https://slsa.dev/provenance/v1"}
    index = push_index(
        registry,
        f"{repo}:multi",
        [sample_image("linux/amd64"), sample_image("linux/arm64/v8")],
        attestations={"linux/amd64": [statement]},
        style=style,  # type: ignore[arg-type]
    )

    raw = skopeo("--raw", f"docker://{index.ref}")
    arm = skopeo("--override-arch", "arm64", "--override-variant", "v8", f"docker://{index.ref}")
    attestation = skopeo("--raw", f"docker://{index.attestations[0].by_digest}")

    amd64, arm64 = index.images
    assert raw["mediaType"] == "application/vnd.oci.image.index.v1+json"
    assert [d["digest"] for d in raw["manifests"]] == [amd64.digest, arm64.digest, index.attestations[0].digest]
    assert raw["manifests"][1]["platform"] == {"architecture": "arm64", "os": "linux", "variant": "v8"}
    assert (arm["Digest"], arm["Architecture"]) == (index.digest, "arm64")
    described = raw["manifests"][2]
    assert described["platform"] == {"architecture": "unknown", "os": "unknown"}
    assert described["annotations"] == {
        "vnd.docker.reference.digest": amd64.digest,
        "vnd.docker.reference.type": "attestation-manifest",
    }
    assert attestation["layers"][0]["mediaType"] == "application/vnd.in-toto+json"
    assert attestation["layers"][0]["annotations"] == {"in-toto.io/predicate-type": "https://slsa.dev/provenance/v1"}
    if style == "oci-artifact":
        assert attestation["artifactType"] == "application/vnd.docker.attestation.manifest.v1+json"
        assert attestation["config"]["mediaType"] == OCI_EMPTY
        assert attestation["subject"]["digest"] == amd64.digest
    else:
        assert "subject" not in attestation and "artifactType" not in attestation
        assert attestation["config"]["mediaType"] == "application/vnd.oci.image.config.v1+json"


def test_docker_manifest_list(registry: RegistryServer, repo: str) -> None:
    index = push_index(registry, f"{repo}:list", [sample_image(media="docker"), sample_image("linux/arm64", "docker")])

    raw = skopeo("--raw", f"docker://{index.ref}")

    assert raw["mediaType"] == "application/vnd.docker.distribution.manifest.list.v2+json"
    assert [d["platform"]["architecture"] for d in raw["manifests"]] == ["amd64", "arm64"]


def test_registry_refuses_an_index_naming_a_missing_manifest(registry: RegistryServer, repo: str) -> None:
    """Pins registry 2.8 behaviour the factory relies on: children are pushed before the index."""
    missing = {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:" + "1" * 64, "size": 2}
    document = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [missing]}

    with pytest.raises(PushError, match="MANIFEST_BLOB_UNKNOWN"):
        push_json_manifest(registry, repo, document, "broken")

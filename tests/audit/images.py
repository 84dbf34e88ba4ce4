"""Images for the audit tests, pushed to the real registry: a root and a non-root image, and
builds with BuildKit provenance (FROM a pinned golang digest, or a floating alpine tag) and a
CycloneDX SBOM listing one lodash version."""

from __future__ import annotations

from tests.evidence._statements import material, provenance_v02, statement
from tests.support.artifacts import push_index
from tests.support.images import ImageBuilder
from tests.support.push import PushTarget

PASSWD = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n"
GOLANG = "a1" * 32
GOLANG_OTHER = "b2" * 32
ALPINE = "c3" * 32
CYCLONEDX = "https://cyclonedx.org/bom"


def plain(target: PushTarget, repository: str, user: str) -> str:
    """A one-layer image running as ``user`` (empty: root); returns ``host/repo:1``."""
    ImageBuilder().layer({"etc/passwd": PASSWD, f"app/{repository}": repository}).config(user=user).push(target, f"{repository}:1")
    return f"{target.host}/{repository}:1"


def built(target: PushTarget, repository: str, dockerfile: str, materials: list[dict], lodash: str) -> str:
    """A non-root image whose index carries provenance (``dockerfile`` over ``materials``) and an SBOM."""
    image = ImageBuilder().layer({"etc/passwd": PASSWD, f"app/{repository}": repository}).config(user="1000").push(target, repository)
    sbom = {
        "bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1,
        "components": [{"type": "library", "name": "lodash", "version": lodash, "purl": f"pkg:npm/lodash@{lodash}"}],
    }
    statements = [provenance_v02(image.digest, materials, dockerfile=dockerfile), statement(CYCLONEDX, sbom, image.digest)]
    push_index(target, f"{repository}:1", [image], attestations={0: statements}, style="oci-artifact")
    return f"{target.host}/{repository}:1"


def from_golang(target: PushTarget, repository: str, golang: str, lodash: str) -> str:
    dockerfile = f"FROM golang:1.22@sha256:{golang} AS build\nRUN go build\nFROM scratch\nCOPY --from=build /app /app\n"
    materials = [material(f"pkg:docker/golang@1.22?digest=sha256:{golang}&platform=linux%2Famd64", golang)]
    return built(target, repository, dockerfile, materials, lodash)


def from_alpine(target: PushTarget, repository: str, lodash: str) -> str:
    return built(target, repository, "FROM alpine:3.19\nCOPY app /app\n", [material("pkg:docker/alpine@3.19?platform=linux%2Famd64", ALPINE)], lodash)

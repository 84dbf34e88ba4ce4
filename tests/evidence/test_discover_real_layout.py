"""Discovery over a real published image: slsa-verifier's ``gha_generic_container`` OCI layout.

The layout (``attestations/slsa-verifier/gha_generic_container/v1.10.0/container_workflow_dispatch``)
holds an index with a BuildKit attestation manifest (legacy shape) and cosign's ``.att`` manifest
with the SLSA generator's DSSE provenance. Its filesystem layers were not copied, so the test
registry would refuse the index; :class:`LayoutRegistryDouble` serves the layout instead, through the
same four client calls discovery makes.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from gate.errors import LimitExceeded
from gate.evidence import collect, discover, pinning
from gate.registry import Descriptor, Manifest, Reference
from tests.evidence._vectors import ATTESTATIONS

LAYOUT = ATTESTATIONS / "slsa-verifier" / "gha_generic_container" / "v1.10.0" / "container_workflow_dispatch"
INDEX = (LAYOUT.parent / "container_workflow_dispatch.digest").read_text().strip()
PLATFORM = "sha256:ae01bed04d3f41efa80182824a50345cd1430f4d1a9308eda4369122bd94c85e"


class LayoutRegistryDouble:
    """A read-only stand-in for ``RegistryClient`` over an OCI image layout (a test double).

    cosign's attestation manifest (``kind: dev.cosignproject.cosign/atts``) answers as the
    ``sha256-<hex of the index>.att`` tag; there are no referrers. Counts requests like the client.
    """

    def __init__(self, root: Path):
        self.root = root
        self.request_count = 0
        entries = json.loads((root / "index.json").read_text())["manifests"]
        self.tags = {INDEX.replace(":", "-") + ".att": e["digest"] for e in entries if e["annotations"]["kind"].endswith("/atts")}

    def _read(self, digest: str) -> bytes:
        self.request_count += 1
        return (self.root / "blobs" / "sha256" / digest.removeprefix("sha256:")).read_bytes()

    async def manifest(self, ref: Reference) -> Manifest:
        return Manifest.from_bytes(self._read(ref.identifier), ref.identifier, None, str(ref))

    async def tag_manifest(self, ref: Reference, tag: str) -> Manifest | None:
        if tag not in self.tags:
            self.request_count += 1
            return None
        return await self.manifest(ref.with_digest(self.tags[tag]))

    async def referrers(self, ref: Reference, digest: str, artifact_type: str | None = None) -> list[Descriptor]:
        self.request_count += 1
        return []

    async def blob(self, ref: Reference, descriptor: Descriptor, max_bytes: int | None = None) -> bytes:
        if max_bytes is not None and descriptor.size > max_bytes:
            raise LimitExceeded(f"blob {descriptor.digest} is larger than {max_bytes}")
        return self._read(descriptor.digest)


def test_real_image_with_buildkit_and_cosign_attestations() -> None:
    client = LayoutRegistryDouble(LAYOUT)
    ref = Reference.parse(f"ghcr.io/slsa-framework/example-package@{INDEX}")

    async def scenario():
        top = await client.manifest(ref)
        return top, await discover(client, ref, top, blob_bytes=40 * 1024 * 1024)  # type: ignore[arg-type]

    top, attached = asyncio.run(scenario())
    assert attached.subjects == (INDEX, PLATFORM) and attached.problems == ()
    assert sorted((a.store, a.subject) for a in attached.artifacts) == [("buildkit", PLATFORM), ("cosign-att", INDEX)]
    # the index, 2 subjects x (3 tag lookups + referrers), the .att layer, the attestation manifest and its layer
    assert client.request_count == 1 + 2 * 4 + 1 + 2

    platform = collect(attached, PLATFORM, top.digest)
    assert platform.problems == () and len(platform.provenance) == 2
    by_store = {found.artifact.store: found.value for found in platform.provenance}
    generator, buildkit = by_store["cosign-att"], by_store["buildkit"]
    assert generator.builder_id == "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml@refs/tags/v1.10.0"
    assert buildkit.build_type == "https://mobyproject.org/buildkit@v1" and buildkit.builder_id is None
    stages = pinning(buildkit).stages
    assert [(s.base, s.pinned, s.digest_used) for s in stages] == [
        ("golang:1.21", True, "sha256:c82d4ad02c062cf2b393bf0374df26638c6fed3dfe52cdbd3635d4a7befab86e"),
        ("gcr.io/distroless/static", True, "sha256:072d78bc452a2998929a9579464e55067db4bf6d2c5f9cde582e33c10a415bd1"),
    ]
    assert collect(attached, INDEX).provenance[0].value == generator  # the index alone: only the .att is about it

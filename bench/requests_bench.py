"""Registry requests per image for a cold admission, by discovery layout, and how long it takes.

Run: ``.venv/bin/python bench/requests_bench.py`` (or ``python -m bench requests_bench``). Starts
Debian's registry on loopback with its access log on, pushes one small image per layout gate
discovers evidence in, then checks each with a fresh engine (nothing cached) and counts, from the
registry's own log, the requests it answered: manifests by tag and by digest, referrers API,
blobs, and requests for a URL already asked in the same check (redundant).

Layouts: no evidence; cosign ``.sig``/``.att``/``.sbom`` tags; an OCI 1.1 artifact found
through the referrers tag schema; a two-platform index with BuildKit attestation manifests.
The floor is one request per manifest and blob the check must read; the wall time of the cold
check (median of the rounds) is printed beside the time of a single manifest GET.
"""

from __future__ import annotations

import asyncio
import re
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gate.config import from_mapping  # noqa: E402
from gate.engine import Engine  # noqa: E402
from tests.support.artifacts import CYCLONEDX_JSON, Blob, in_toto_layer, push_artifact, push_cosign_tag, push_index  # noqa: E402
from tests.support.images import ImageBuilder  # noqa: E402
from tests.support.registry_server import RegistryServer, start_registry  # noqa: E402

ROUNDS = 5
_REQUEST = re.compile(r'"(GET|HEAD) (/v2/[^ ]+) HTTP')
_ENDPOINT = re.compile(r"/(manifests|blobs|referrers)/([^/]+)$")
SBOM = {"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1, "components": []}
PROVENANCE = {
    "_type": "https://in-toto.io/Statement/v0.1",
    "predicateType": "https://slsa.dev/provenance/v0.2",
    "subject": [],
    "predicate": {"builder": {"id": "https://example.com/builder"}, "buildType": "https://example.com/build"},
}


def _image(name: str) -> ImageBuilder:
    return ImageBuilder().layer({f"app/{name}.txt": f"{name}\n"}).config(user="10001")


def push_layouts(registry: RegistryServer) -> dict[str, str]:
    """One image per discovery layout; returns layout name -> reference by tag."""
    host = registry.host
    plain = _image("plain").push(registry, f"{host}/bench/plain:1")
    tagged = _image("tags").push(registry, f"{host}/bench/tags:1")
    push_cosign_tag(registry, tagged, ".sbom", [Blob(SBOM, CYCLONEDX_JSON)], append=False)
    push_cosign_tag(registry, tagged, ".att", [in_toto_layer({**PROVENANCE, "subject": [{"name": "x", "digest": {"sha256": tagged.digest[7:]}}]})], append=False)
    referred = _image("referrers").push(registry, f"{host}/bench/referrers:1")
    push_artifact(registry, referred, CYCLONEDX_JSON, [Blob(SBOM, CYCLONEDX_JSON)])
    index = push_index(registry, f"{host}/bench/index:1", [ImageBuilder(platform="linux/amd64").layer({"a": "a"}).config(user="1"),
                                                           ImageBuilder(platform="linux/arm64").layer({"b": "b"}).config(user="1")],
                       attestations={"linux/amd64": [PROVENANCE]}, style="legacy")
    return {"no evidence": plain.ref, "cosign tags": tagged.ref, "referrers tag schema": referred.ref, "index + BuildKit attestations": index.ref}


def _kind(path: str) -> str:
    """What a request path asks for: the image's tag, an evidence tag (``sha256-<hex>…``), a
    manifest by digest, the referrers API or a blob."""
    match = _ENDPOINT.search(path)
    endpoint, reference = (match[1], match[2]) if match else ("other", "")
    if endpoint == "manifests":
        if reference.startswith("sha256:"):
            return "manifest by digest"
        return "evidence tag" if reference.startswith("sha256-") else "image tag"
    return endpoint


def requests_since(registry: RegistryServer, offset: int) -> tuple[list[str], int]:
    """The /v2/ request paths the registry logged after ``offset`` bytes of its log, and the new offset."""
    text = registry.log()
    return [match[2] for match in _REQUEST.finditer(text[offset:]) if match[2] != "/v2/"], len(text)


def check_cold(registry: RegistryServer, reference: str) -> float:
    config = from_mapping({"registries": {"insecure": [registry.host]}})

    async def run() -> float:
        async with Engine(config) as engine:
            start = time.perf_counter()
            result = await engine.check(reference)
            elapsed = time.perf_counter() - start
            assert result.digest, result
            return elapsed

    return asyncio.run(run())


def _median_ms(function: Callable[[], float]) -> float:
    return statistics.median(function() for _ in range(ROUNDS)) * 1000


def manifest_get_ms(registry: RegistryServer, reference: str) -> float:
    repository, tag = reference.split("/", 1)[1].rsplit(":", 1)
    with httpx.Client() as http:
        start = time.perf_counter()
        http.get(f"{registry.url}/v2/{repository}/manifests/{tag}", headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
        return time.perf_counter() - start


def main() -> None:
    with tempfile.TemporaryDirectory() as workdir:
        registry = start_registry(Path(workdir), extra_config={"log": {"level": "info", "accesslog": {"disabled": False}}})
        try:
            layouts = push_layouts(registry)
            rows = []
            for name, reference in layouts.items():
                _, offset = requests_since(registry, 0)
                check_cold(registry, reference)
                time.sleep(0.2)  # the registry writes its access log asynchronously
                paths, _ = requests_since(registry, offset)
                kinds = Counter(_kind(path) for path in paths)
                repeated = sum(count - 1 for count in Counter(paths).values())
                if "-v" in sys.argv:
                    print(name, *paths, sep="\n  ")
                rows.append((name, len(paths), kinds, repeated, _median_ms(lambda reference=reference: check_cold(registry, reference))))
            floor = _median_ms(lambda: manifest_get_ms(registry, layouts["no evidence"]))
        finally:
            registry.stop()
    print(f"{'layout':32} {'total':>5} {'tag':>4} {'evidence tags':>13} {'digest':>6} {'referrers':>9} {'blobs':>5} {'repeated':>8} {'cold ms':>8}")
    for name, total, kinds, repeated, ms in rows:
        print(f"{name:32} {total:5} {kinds['image tag']:4} {kinds['evidence tag']:13} {kinds['manifest by digest']:6} "
              f"{kinds['referrers']:9} {kinds['blobs']:5} {repeated:8} {ms:8.1f}")
    print(f"floor: one manifest GET over loopback {floor:.1f} ms; cold target <= 100 ms")


if __name__ == "__main__":
    main()

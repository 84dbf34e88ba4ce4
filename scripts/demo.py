"""`make demo`: one image built the safe way is allowed, one with the multi-stage mistakes is denied.

Everything runs locally: Debian's docker-registry on a free 127.0.0.1 port (storage in
``.demo/registry``, fresh every run), images built and pushed from Python by the test suite's
image factory, and signatures from ``SigstoreInstanceDouble``, the test suite's in-process stand-in
for a private Sigstore instance (Fulcio CA, CT log, Rekor log), whose ``trusted_root.json`` gate is
told to trust, exactly as an air-gapped cluster trusts its own Sigstore. Then the ``gate``
command judges both images and the script exits 0 only if the safe one was allowed and the
unsafe one denied.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the image factory and the Sigstore double live in tests/support

import yaml  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402

from tests.evidence._statements import material, provenance_v02, statement  # noqa: E402
from tests.support.artifacts import Blob, push_cosign_tag, push_index  # noqa: E402
from tests.support.images import ImageBuilder, PushedIndex  # noqa: E402
from tests.support.layers import Symlink  # noqa: E402
from tests.support.push import PushError, close_clients  # noqa: E402
from tests.support.registry_server import RegistryServer, ServerStartError, start_registry  # noqa: E402
from tests.support.sigstore_double import Keyed, SigstoreInstanceDouble, pem_public, simple_signing  # noqa: E402

DEMO_DIR = ROOT / ".demo"
GATE = Path(sys.executable).parent / "gate"  # the console script of the virtualenv running this
REPOSITORY = "demo/shop-api"
PLATFORMS = ("linux/amd64", "linux/arm64")


def fake_digest(name: str) -> str:
    """A stable, realistic-looking digest for a base image the demo does not really pull."""
    return "sha256:" + hashlib.sha256(name.encode()).hexdigest()


GOLANG = fake_digest("golang:1.22")
DISTROLESS = fake_digest("gcr.io/distroless/static-debian12:nonroot")
DEBIAN = fake_digest("debian:12")
# Shaped like a real npm token, but derived here so no literal secret sits in the repository.
NPM_TOKEN = "npm_" + hashlib.sha256(b"gate demo token").hexdigest()[:36]

SAFE_DOCKERFILE = f"""\
FROM golang:1.22@{GOLANG} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=secret,id=netrc,target=/root/.netrc go mod download
COPY cmd/ cmd/
RUN CGO_ENABLED=0 go build -o /out/api ./cmd/api

FROM gcr.io/distroless/static-debian12:nonroot@{DISTROLESS}
COPY --from=build /out/api /api
USER 10001
ENTRYPOINT ["/api"]
"""

UNSAFE_DOCKERFILE = f"""\
FROM golang:1.22 AS build
WORKDIR /src
COPY . .
RUN go build -o /out/api ./cmd/api

FROM debian:12@{DEBIAN}
RUN apt-get update && apt-get install -y gcc nodejs npm
WORKDIR /app
COPY .npmrc /root/.npmrc
ARG NPM_TOKEN
RUN npm ci
RUN rm /root/.npmrc
COPY . .
COPY --from=build /out/api /usr/local/bin/api
CMD ["node", "server.js"]
"""

SPDX_SBOM = {
    "spdxVersion": "SPDX-2.3",
    "SPDXID": "SPDXRef-DOCUMENT",
    "name": "shop-api",
    "dataLicense": "CC0-1.0",
    "packages": [
        {
            "SPDXID": "SPDXRef-api",
            "name": "shop-api",
            "versionInfo": "1.4.0",
            "externalRefs": [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": "pkg:golang/example.com/shop-api@v1.4.0"}],
        }
    ],
}


def step(title: str) -> None:
    print(f"\n=== {title}", flush=True)


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def rfc3339(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


# --- trust ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Trust:
    """The CI's cosign key and the private Sigstore instance that logs its signatures."""

    key: ec.EllipticCurvePrivateKey
    sigstore: SigstoreInstanceDouble

    @classmethod
    def create(cls, directory: Path) -> Trust:
        """Generate the key pair and write ``cosign.key``, ``cosign.pub`` and ``trusted_root.json``."""
        trust = cls(ec.generate_private_key(ec.SECP256R1()), SigstoreInstanceDouble())
        private = trust.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        (directory / "cosign.key").write_bytes(private)
        (directory / "cosign.key").chmod(0o600)
        (directory / "cosign.pub").write_bytes(pem_public(trust.key))
        (directory / "trusted_root.json").write_bytes(trust.sigstore.trusted_root_json())
        return trust

    def sign(self, registry: RegistryServer, subject: PushedIndex) -> None:
        """``cosign sign --key cosign.key`` on the index digest, with a Rekor entry in the private log."""
        payload = simple_signing(subject.digest, f"{registry.host}/{subject.repository}")
        layer = self.sigstore.sign_legacy(payload, Keyed(self.key), now())
        push_cosign_tag(registry, subject, ".sig", [Blob(layer.data, layer.media_type, dict(layer.annotations))])


# --- the two images ---------------------------------------------------------------------------


def provenance(subject_digest: str, dockerfile: str, materials: list[dict[str, Any]], args: dict[str, str] | None = None) -> dict[str, Any]:
    """BuildKit ``--provenance=mode=max``: SLSA provenance recording the Dockerfile, built minutes ago."""
    document = provenance_v02(subject_digest, materials, dockerfile=dockerfile, args=args or {})
    started, finished = now() - dt.timedelta(minutes=5), now() - dt.timedelta(minutes=3)
    document["predicate"]["metadata"] |= {"buildStartedOn": rfc3339(started), "buildFinishedOn": rfc3339(finished)}
    return document


def safe_image(platform: str) -> ImageBuilder:
    """distroless-style runtime plus one static binary, running as uid 10001."""
    image = ImageBuilder(platform=platform)
    base = {"etc/passwd": "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532::/home/nonroot:/sbin/nologin\n"}
    image.layer(base, created_by="distroless static-debian12 base")
    image.layer({"api": b"\x7fELF static shop-api binary"}, created_by="COPY /out/api /api # buildkit")
    image.step("USER 10001")
    return image.config(user="10001", entrypoint=["/api"], created=rfc3339(now() - dt.timedelta(minutes=3)))


def push_safe(registry: RegistryServer, trust: Trust) -> PushedIndex:
    """Multi-arch index, pinned bases in its provenance, an SPDX SBOM, the index signed with the key."""
    images = [safe_image(platform).push(registry, REPOSITORY) for platform in PLATFORMS]
    attestations = {}
    for image, platform in zip(images, PLATFORMS, strict=True):
        query = f"platform={platform.replace('/', '%2F')}"
        materials = [
            material(f"pkg:docker/golang@1.22?digest={GOLANG}&{query}", GOLANG.split(":")[1]),
            material(f"pkg:docker/gcr.io/distroless/static-debian12@nonroot?digest={DISTROLESS}&{query}", DISTROLESS.split(":")[1]),
        ]
        sbom = statement("https://spdx.dev/Document", SPDX_SBOM, image.digest)
        attestations[platform] = [provenance(image.digest, SAFE_DOCKERFILE, materials), sbom]
    index = push_index(registry, f"{REPOSITORY}:safe", images, attestations=attestations)
    trust.sign(registry, index)
    return index


def unsafe_image() -> ImageBuilder:
    """Every mistake of the unsafe Dockerfile, layer by layer (no USER, so root)."""
    image = ImageBuilder(platform="linux/amd64")
    image.layer({"etc/passwd": "root:x:0:0:root:/root:/bin/bash\n", "bin/sh": b"\x7fELF sh"}, created_by="debian:12 base")
    toolchain = {"usr/bin/gcc-12": b"\x7fELF gcc", "usr/bin/gcc": Symlink("gcc-12"), "usr/bin/node": b"\x7fELF node"}
    image.layer(toolchain, created_by="RUN /bin/sh -c apt-get update && apt-get install -y gcc nodejs npm # buildkit")
    image.step("WORKDIR /app")
    image.layer({"root/.npmrc": f"//registry.npmjs.org/:_authToken={NPM_TOKEN}\n"}, created_by="COPY .npmrc /root/.npmrc # buildkit")
    image.step("ARG NPM_TOKEN")
    image.layer({"app/node_modules/express/package.json": '{"name": "express"}\n'}, created_by=f"RUN |1 NPM_TOKEN={NPM_TOKEN} /bin/sh -c npm ci # buildkit")
    image.layer(whiteouts=["root/.npmrc"], created_by=f"RUN |1 NPM_TOKEN={NPM_TOKEN} /bin/sh -c rm /root/.npmrc # buildkit")
    source = {"app/server.js": "require('express')\n", "app/.git/HEAD": "ref: refs/heads/main\n", "app/.git/config": "[core]\n"}
    image.layer(source, created_by="COPY . . # buildkit")
    image.layer({"usr/local/bin/api": b"\x7fELF shop-api"}, created_by="COPY /out/api /usr/local/bin/api # buildkit")
    image.step('CMD ["node", "server.js"]')
    return image.config(cmd=["node", "server.js"], workdir="/app", created=rfc3339(now() - dt.timedelta(minutes=3)))


def push_unsafe(registry: RegistryServer) -> PushedIndex:
    """Single-platform index with BuildKit provenance (unpinned golang builder, the token as a build arg); unsigned."""
    image = unsafe_image().push(registry, REPOSITORY)
    materials = [
        material("pkg:docker/golang@1.22?platform=linux%2Famd64", GOLANG.split(":")[1]),
        material(f"pkg:docker/debian@12?digest={DEBIAN}&platform=linux%2Famd64", DEBIAN.split(":")[1]),
    ]
    attestation = provenance(image.digest, UNSAFE_DOCKERFILE, materials, args={"NPM_TOKEN": NPM_TOKEN})
    return push_index(registry, f"{REPOSITORY}:unsafe", [image], attestations={"linux/amd64": [attestation]})


# --- gate -------------------------------------------------------------------------------------


def write_config(directory: Path, registry: RegistryServer) -> Path:
    """``gate.yaml``: the demo key may sign the demo's images only (an image policy that also
    requires BuildKit's SLSA provenance, vouched for by that key), under the private Sigstore root;
    Docker Hub's official images need no signature. Paths are relative to the file."""
    document = {
        "trust": {"trusted_root": "trusted_root.json", "require_tlog": True},
        "registries": {"insecure": [registry.host]},
        "images": [
            {
                "name": "shop",
                "match": [f"{registry.host}/demo/**"],
                "authorities": [{"name": "shop-release", "key": "cosign.pub"}],
                "attestations": [{"type": "https://slsa.dev/provenance/v0.2"}],
            },
            {"name": "public-bases", "match": ["docker.io/library/*"], "authorities": []},
        ],
    }
    path = directory / "gate.yaml"
    path.write_text("# Written by scripts/demo.py (make demo); rewritten on every run.\n" + yaml.safe_dump(document, sort_keys=False))
    return path


def gate_check(config: Path, reference: str) -> int:
    """Run the ``gate`` command as a user would (table output); returns its exit code."""
    command = [str(GATE), "check", "image", reference, "--config", str(config)]
    print("$ " + " ".join(command[:1] + ["check", "image", reference, "--config", str(config.relative_to(ROOT))]), flush=True)
    return subprocess.run(command, check=False).returncode


def verdict(safe_code: int, unsafe_code: int) -> tuple[bool, str]:
    """Whether the demo showed what it should, and the sentence saying so."""
    if safe_code == 0 and unsafe_code == 1:
        return True, "as expected: the safe image was allowed (exit 0) and the unsafe one denied (exit 1)"
    problems = []
    if safe_code != 0:
        problems.append(f"the safe image was not allowed (exit {safe_code}, expected 0)")
    if unsafe_code != 1:
        problems.append(f"the unsafe image was not denied by policy (exit {unsafe_code}, expected 1)")
    return False, "demo FAILED: " + "; ".join(problems)


def run(directory: Path) -> int:
    step("1. Start a local registry (Debian's docker-registry, fresh storage under .demo/registry)")
    shutil.rmtree(directory / "registry", ignore_errors=True)
    registry = start_registry(directory / "registry")
    try:
        print(f"registry at {registry.url}")
        step("2. Trust: a cosign key pair and a private Sigstore instance (its trusted_root.json)")
        trust = Trust.create(directory)
        print("wrote .demo/cosign.key, .demo/cosign.pub, .demo/trusted_root.json")

        step("3. Push the safe image: multi-arch, USER 10001, pinned FROMs in its provenance, SBOM, signed index")
        safe = push_safe(registry, trust)
        print(f"{safe.ref}  ({safe.digest})")

        step("4. Push the unsafe image: root, token as ARG, .npmrc copied then deleted, golang:1.22 unpinned, gcc, .git, unsigned")
        unsafe = push_unsafe(registry)
        print(f"{unsafe.ref}  ({unsafe.digest})")

        step("5. Write .demo/gate.yaml")
        config = write_config(directory, registry)
        print(config.read_text(), end="")
        step("6. gate check image on the safe image (expect ALLOW)")
        safe_code = gate_check(config, safe.ref)
        step("7. gate check image on the unsafe image (expect DENY)")
        unsafe_code = gate_check(config, unsafe.ref)
    finally:
        registry.stop()
        close_clients()
    ok, sentence = verdict(safe_code, unsafe_code)
    step("8. Registry stopped; result")
    print(sentence)
    return 0 if ok else 1


def main() -> int:
    if not GATE.exists():
        print(f"demo: {GATE} is missing; run `make venv` first", file=sys.stderr)
        return 2
    DEMO_DIR.mkdir(exist_ok=True)
    try:
        return run(DEMO_DIR)
    except (ServerStartError, PushError, OSError) as exc:
        print(f"demo FAILED: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

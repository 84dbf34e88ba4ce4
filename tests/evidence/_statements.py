"""In-toto statements shaped like BuildKit's, for tests that need a build of their own.

Field names follow BuildKit's ``docs/attestations/slsa-provenance.md`` and the real output in
``tests/vectors/formats/buildkit-provenance-slsa0.2-max.json``.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

V01 = "https://in-toto.io/Statement/v0.1"
V1 = "https://in-toto.io/Statement/v1"
STARTED = "2026-01-02T03:04:05.123456789Z"
FINISHED = "2026-01-02T03:05:06Z"


def material(uri: str, digest_hex: str) -> dict[str, Any]:
    return {"uri": uri, "digest": {"sha256": digest_hex}}


def statement(predicate_type: str, predicate: dict[str, Any], subject_digest: str, statement_type: str = V01) -> dict[str, Any]:
    algorithm, _, value = subject_digest.partition(":")
    subject = [{"name": "pkg:docker/127.0.0.1/t/app@latest?platform=linux%2Famd64", "digest": {algorithm: value}}]
    return {"_type": statement_type, "predicateType": predicate_type, "subject": subject, "predicate": predicate}


@dataclass(frozen=True)
class Build:
    """What a BuildKit build records: its image materials, Dockerfile (``mode=max``), build args and secret ids."""

    materials: list[dict[str, Any]]
    dockerfile: str | None = None
    args: dict[str, str] = field(default_factory=dict)
    secrets: tuple[str, ...] = ()

    @property
    def infos(self) -> list[dict[str, str]]:
        return [] if self.dockerfile is None else [{"filename": "Dockerfile", "data": base64.b64encode(self.dockerfile.encode()).decode()}]

    @property
    def request(self) -> dict[str, Any]:
        args = {f"build-arg:{k}": v for k, v in self.args.items()} | {"label:org.opencontainers.image.title": "app"}
        return {"frontend": "dockerfile.v0", "args": args, "secrets": [{"id": s, "optional": False} for s in self.secrets]}


def provenance_v02(subject_digest: str, materials: list[dict[str, Any]], **build: Any) -> dict[str, Any]:
    """A BuildKit SLSA v0.2 provenance statement (``mode=max`` when ``dockerfile=`` is given)."""
    recorded = Build(materials, **build)
    predicate = {
        "builder": {"id": "https://example.test/builders/ci"},
        "buildType": "https://mobyproject.org/buildkit@v1",
        "materials": materials,
        "invocation": {"configSource": {"entryPoint": "Dockerfile"}, "parameters": recorded.request, "environment": {"platform": "linux/amd64"}},
        "metadata": {
            "buildStartedOn": STARTED,
            "buildFinishedOn": FINISHED,
            "https://mobyproject.org/buildkit@v1#metadata": {"source": {"infos": recorded.infos}},
        },
    }
    return statement("https://slsa.dev/provenance/v0.2", predicate, subject_digest)


def provenance_v1(subject_digest: str, materials: list[dict[str, Any]], **build: Any) -> dict[str, Any]:
    """A BuildKit SLSA v1 provenance statement in an in-toto v1 Statement."""
    recorded = Build(materials, **build)
    predicate = {
        "buildDefinition": {
            "buildType": "https://github.com/moby/buildkit/blob/master/docs/attestations/slsa-definitions.md",
            "externalParameters": {"configSource": {"path": "Dockerfile"}, "request": recorded.request},
            "resolvedDependencies": materials,
        },
        "runDetails": {
            "builder": {"id": ""},
            "metadata": {"startedOn": STARTED, "finishedOn": FINISHED, "buildkit_metadata": {"source": {"infos": recorded.infos}}},
        },
    }
    return statement("https://slsa.dev/provenance/v1", predicate, subject_digest, V1)


def to_bytes(document: dict[str, Any]) -> bytes:
    return json.dumps(document).encode()


def dsse(document: dict[str, Any]) -> bytes:
    """An (unsigned-looking) DSSE envelope around a statement, as cosign's ``.att`` layers hold."""
    payload = base64.b64encode(to_bytes(document)).decode()
    return to_bytes({"payloadType": "application/vnd.in-toto+json", "payload": payload, "signatures": [{"keyid": "", "sig": "AAAA"}]})


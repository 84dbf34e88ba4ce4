"""SLSA provenance v0.2/v1 fields and per-stage pinning (``builder.unpinned``) on BuildKit-shaped builds."""

from __future__ import annotations

import base64
import json

import pytest

from gate.errors import EvidenceError, LimitExceeded
from gate.evidence import Provenance, pinning
from tests.evidence._statements import dsse, material, provenance_v02, provenance_v1, to_bytes

IMAGE = "sha256:" + "1" * 64
GOLANG = "2" * 64
ALPINE = "3" * 64
SCANNER = "4" * 64
FRONTEND = "5" * 64
PINNED_ALPINE = f"sha256:{ALPINE}"
BOTH = pytest.mark.parametrize("make", [provenance_v02, provenance_v1], ids=["slsa-v0.2", "slsa-v1"])

MULTI_STAGE = f"""# syntax=docker/dockerfile:1
ARG ALPINE=alpine:3.19@{PINNED_ALPINE}
FROM --platform=$BUILDPLATFORM golang:1.22 AS builder
RUN --mount=type=secret,id=npm go build -o /app
FROM builder AS tested
FROM ${{ALPINE}}
COPY --from=tested /app /app
"""
MATERIALS = [
    material("pkg:docker/docker/dockerfile@1", FRONTEND),
    material("pkg:docker/docker/buildkit-syft-scanner@stable-1", SCANNER),
    material("pkg:docker/golang@1.22?platform=linux%2Famd64", GOLANG),
    material(f"pkg:docker/alpine@3.19?digest={PINNED_ALPINE}&platform=linux%2Famd64", ALPINE),
]


@BOTH
def test_fields(make) -> None:
    provenance = Provenance.from_bytes(to_bytes(make(IMAGE, MATERIALS, dockerfile=MULTI_STAGE, args={"VERSION": "1.2"}, secrets=("npm",))))
    assert dict(provenance.build_args) == {"VERSION": "1.2"}
    assert provenance.secret_ids == ("npm",)
    assert provenance.started_ns == 1767323045123456789
    assert provenance.finished_ns == 1767323106000000000
    assert provenance.dockerfile == MULTI_STAGE
    assert len(provenance.materials) == 4 and provenance.materials[2].digest == f"sha256:{GOLANG}"


@BOTH
def test_stages_from_dockerfile(make) -> None:
    facts = pinning(Provenance.from_bytes(to_bytes(make(IMAGE, MATERIALS, dockerfile=MULTI_STAGE))))
    assert facts.source == "dockerfile"
    assert [(s.index, s.name, s.line, s.base, s.pinned, s.digest_used, s.parent_stage) for s in facts.stages] == [
        (0, "builder", "FROM --platform=$BUILDPLATFORM golang:1.22 AS builder", "golang:1.22", False, f"sha256:{GOLANG}", None),
        (1, "tested", "FROM builder AS tested", "builder", True, None, "builder"),
        (2, None, "FROM ${ALPINE}", f"alpine:3.19@{PINNED_ALPINE}", True, PINNED_ALPINE, None),
    ]
    assert (facts.frontend.ref, facts.frontend.pinned, facts.frontend.digest_used) == ("docker/dockerfile:1", False, f"sha256:{FRONTEND}")


def test_build_arg_override_recorded_in_provenance_unpins_an_arg_pinned_base() -> None:
    materials = [material("pkg:docker/alpine@3.20?platform=linux%2Famd64", ALPINE)]
    facts = pinning(Provenance.from_bytes(to_bytes(provenance_v02(IMAGE, materials, dockerfile=MULTI_STAGE, args={"ALPINE": "alpine:3.20"}))))
    final = facts.stages[2]
    assert (final.base, final.pinned, final.digest_used) == ("alpine:3.20", False, f"sha256:{ALPINE}")


@BOTH
def test_stages_from_materials_without_dockerfile(make) -> None:
    facts = pinning(Provenance.from_bytes(to_bytes(make(IMAGE, MATERIALS))))
    assert facts.source == "materials"
    assert [(s.base, s.pinned, s.digest_used, s.line) for s in facts.stages] == [
        ("golang:1.22", False, f"sha256:{GOLANG}", None),
        ("alpine:3.19", True, f"sha256:{ALPINE}", None),
    ]
    assert facts.frontend is not None and not facts.frontend.pinned


def test_docker_image_uris_and_other_registries() -> None:
    materials = [
        material(f"docker-image://docker.io/library/golang:1.22@sha256:{GOLANG}", GOLANG),
        material("docker-image://ghcr.io/acme/base:1", ALPINE),
        material("pkg:docker/ghcr.io/acme/tools@2?platform=linux%2Farm64", SCANNER),
        material("https://example.test/archive.tar.gz", FRONTEND),
    ]
    facts = pinning(Provenance.from_bytes(to_bytes(provenance_v02(IMAGE, materials))))
    assert [(s.base, s.pinned) for s in facts.stages] == [("golang:1.22", True), ("ghcr.io/acme/base:1", False), ("ghcr.io/acme/tools:2", False)]


def test_unparseable_image_materials_still_count_as_unpinned_stages() -> None:
    materials = [
        material("pkg:docker/Upper/Case@1", GOLANG),
        material("pkg:docker/alpine@3?digest=sha256:zz", ALPINE),
        material("docker-image://Not A Ref", SCANNER),
        material("pkg:docker/a@b?digest", FRONTEND),
    ]
    facts = pinning(Provenance.from_bytes(to_bytes(provenance_v02(IMAGE, materials))))
    assert [(s.base, s.pinned) for s in facts.stages] == [("Upper/Case:1", False), ("alpine:3", False), ("Not A Ref", False), ("pkg:docker/a@b?digest", False)]


def test_base_by_digest_only_matches_its_material() -> None:
    materials = [material(f"pkg:docker/alpine?digest=sha256:{ALPINE}&platform=linux%2Famd64", ALPINE)]
    facts = pinning(Provenance.from_bytes(to_bytes(provenance_v02(IMAGE, materials, dockerfile=f"FROM alpine@sha256:{ALPINE}\n"))))
    assert [(s.pinned, s.digest_used) for s in facts.stages] == [(True, f"sha256:{ALPINE}")]


def test_images_no_from_accounts_for_become_extra_stages() -> None:
    dockerfile = f"FROM golang:1.22 AS build\nCOPY --from=ghcr.io/acme/assets:2 /a /a\nFROM alpine:3.19@{PINNED_ALPINE}\n"
    materials = [*MATERIALS, material("pkg:docker/ghcr.io/acme/assets@2?platform=linux%2Famd64", SCANNER)]
    stages = pinning(Provenance.from_bytes(to_bytes(provenance_v02(IMAGE, materials, dockerfile=dockerfile)))).stages
    assert [(s.index, s.line, s.base, s.pinned) for s in stages] == [
        (0, "FROM golang:1.22 AS build", "golang:1.22", False),
        (1, f"FROM alpine:3.19@{PINNED_ALPINE}", f"alpine:3.19@{PINNED_ALPINE}", True),
        (2, None, "ghcr.io/acme/assets:2", False),
    ]


def test_a_base_pulled_for_two_platforms_is_one_stage() -> None:
    materials = [
        material("pkg:docker/golang@1.22?platform=linux%2Famd64", GOLANG),
        material("pkg:docker/golang@1.22?platform=linux%2Farm64", ALPINE),
    ]
    stages = pinning(Provenance.from_bytes(to_bytes(provenance_v02(IMAGE, materials, dockerfile="FROM golang:1.22\n")))).stages
    assert [(s.base, s.digest_used) for s in stages] == [("golang:1.22", f"sha256:{GOLANG}")]


def test_unresolvable_base_is_not_pinned() -> None:
    facts = pinning(Provenance.from_bytes(to_bytes(provenance_v02(IMAGE, MATERIALS, dockerfile="FROM golang:${MISSING}\n"))))
    assert [(s.base, s.pinned, s.digest_used) for s in facts.stages] == [
        ("golang:", False, None),
        ("golang:1.22", False, f"sha256:{GOLANG}"),  # what the build really pulled, from the materials
        ("alpine:3.19", True, f"sha256:{ALPINE}"),
    ]


def test_scratch_stage() -> None:
    facts = pinning(Provenance.from_bytes(to_bytes(provenance_v02(IMAGE, [], dockerfile="FROM scratch\nCOPY app /\n"))))
    assert [(s.scratch, s.pinned, s.digest_used) for s in facts.stages] == [(True, True, None)]


def test_dsse_wrapped_provenance() -> None:
    assert Provenance.from_bytes(dsse(provenance_v02(IMAGE, MATERIALS))).builder_id == "https://example.test/builders/ci"


def test_dsse_payload_in_url_safe_base64() -> None:
    envelope = json.loads(dsse(provenance_v02(IMAGE, MATERIALS)))
    envelope["payload"] = base64.urlsafe_b64encode(base64.b64decode(envelope["payload"])).decode().rstrip("=")
    assert Provenance.from_bytes(json.dumps(envelope).encode()).builder_id == "https://example.test/builders/ci"


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda s: s.update(predicateType="https://spdx.dev/Document"), "not SLSA provenance"),
        (lambda s: s["predicate"].pop("builder"), "v0.2 shape"),
        (lambda s: s.update(predicateType="https://slsa.dev/provenance/v1"), "v1 shape"),
        (lambda s: s["predicate"]["metadata"].update(buildStartedOn="yesterday"), "RFC 3339"),
        (lambda s: s["predicate"]["invocation"]["parameters"].update(args=["build-arg:X"]), "must be a JSON object"),
        (lambda s: s["predicate"].update(materials={"uri": "x"}), "must be an array"),
        (lambda s: s.update(subject=[]), "names no subject"),
        (lambda s: s["subject"][0].update(digest={}), "digest must map"),
        (lambda s: s.update(_type="https://in-toto.io/Statement/v9"), "unknown in-toto statement type"),
        (lambda s: s["predicate"]["metadata"]["https://mobyproject.org/buildkit@v1#metadata"]["source"]["infos"].append({"data": "!!"}), "not valid base64"),
    ],
    ids=[
        "wrong-predicate-type", "v02-without-builder", "v02-body-declared-v1", "bad-time", "args-not-object",
        "materials-not-array", "no-subject", "empty-digest", "unknown-statement", "bad-base64",
    ],
)
def test_malformed_provenance_is_an_evidence_error(mutate, message: str) -> None:
    document = provenance_v02(IMAGE, MATERIALS)
    mutate(document)
    with pytest.raises(EvidenceError, match=message):
        Provenance.from_bytes(to_bytes(document))


def test_oversized_and_non_json_documents() -> None:
    with pytest.raises(LimitExceeded):
        Provenance.from_bytes(to_bytes(provenance_v02(IMAGE, MATERIALS)), max_bytes=100)
    with pytest.raises(EvidenceError, match="not valid JSON"):
        Provenance.from_bytes(b"\xff\xfe{")
    with pytest.raises(EvidenceError, match="payloadType"):
        Provenance.from_bytes(b'{"payloadType": "text/plain", "payload": "e30="}')


def test_a_dsse_payload_that_reads_two_ways_is_refused() -> None:
    """sigstore drops URL-safe characters from standard base64 while gate reads them, so four of them
    slipped in at a quantum boundary would add three bytes only gate sees: a statement other than
    the verified one."""
    envelope = json.loads(dsse(provenance_v1("sha256:" + "a" * 64, [])))
    envelope["payload"] = envelope["payload"][:8] + "-_--" + envelope["payload"][8:]
    with pytest.raises(EvidenceError, match="reads differently"):
        Provenance.from_bytes(json.dumps(envelope).encode())


def test_a_from_naming_a_stage_defined_later_reads_an_image() -> None:
    """BuildKit resolves a base against the stages named *before* it: `FROM node` ahead of the
    stage `node` pulls the image node:latest, so it is not a parent stage and not pinned."""
    node = "5" * 64
    dockerfile = f"FROM node AS first\nFROM node:20@sha256:{node} AS node\n"
    materials = [material("pkg:docker/node@latest?platform=linux%2Famd64", node),
                 material(f"pkg:docker/node@20?digest=sha256:{node}&platform=linux%2Famd64", node)]
    facts = pinning(Provenance.from_bytes(to_bytes(provenance_v02(IMAGE, materials, dockerfile=dockerfile))))
    first, named = facts.stages[:2]
    assert (first.base, first.parent_stage, first.pinned, first.digest_used) == ("node", None, False, f"sha256:{node}")
    assert (named.name, named.parent_stage, named.pinned) == ("node", None, True)

"""The ``provenance`` and ``sbom`` input-document sections built from collected evidence."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from gate.errors import EvidenceError
from gate.evidence import DenyList, Evidence, Found, Provenance, Sbom, VulnScan, provenance_section, sbom_section, vulnerability_section
from gate.evidence._discover import Artifact
from gate.registry import Descriptor
from tests.evidence._statements import material, provenance_v02, to_bytes

IMAGE = "sha256:" + "1" * 64
GOLANG = "2" * 64


def artifact(source: str) -> Artifact:
    return Artifact("buildkit", IMAGE, "sha256:" + "3" * 64, Descriptor("application/vnd.in-toto+json", "sha256:" + "4" * 64, 1), b"", source)


def evidence(provenance=(), sboms=(), vulns=()) -> Evidence:
    return Evidence(tuple(provenance), tuple(sboms), tuple(vulns), (), ())


def prov(dockerfile: str | None, builder: str) -> Provenance:
    document = provenance_v02(IMAGE, [material("pkg:docker/golang@1.22?platform=linux%2Famd64", GOLANG)], dockerfile=dockerfile)
    document["predicate"]["builder"]["id"] = builder
    return Provenance.from_bytes(to_bytes(document))


def test_absent_sections_are_none() -> None:
    assert provenance_section(evidence(), lambda a: True) == (None, ())
    assert sbom_section(evidence(), DenyList(()), lambda a: True) is None


def test_verified_provenance_wins() -> None:
    found = [Found(artifact("unsigned"), prov(None, "https://a")), Found(artifact("signed"), prov("FROM golang:1.22\n", "https://b"))]
    section, problems = provenance_section(evidence(found), lambda a: a.source == "signed")
    assert problems == ()
    assert (section["builder_id"], section["verified"], section["present"]) == ("https://b", True, True)
    assert section["stages"] == [
        {"index": 0, "name": None, "line": "FROM golang:1.22", "base": "golang:1.22", "pinned": False, "digest_used": f"sha256:{GOLANG}",
         "scratch": False, "parent_stage": None}
    ]
    assert section["materials"] == [{"uri": "pkg:docker/golang@1.22?platform=linux%2Famd64", "digest": f"sha256:{GOLANG}"}]
    json.dumps(section)  # JSON-able for the policy engine


def test_among_equals_the_provenance_with_the_dockerfile_wins() -> None:
    found = [Found(artifact("min"), prov(None, "https://min")), Found(artifact("max"), prov("FROM golang:1.22\n", "https://max"))]
    section, _ = provenance_section(evidence(found), lambda a: False)
    assert section["builder_id"] == "https://max"
    assert [stage["line"] for stage in section["stages"]] == [None, "FROM golang:1.22"]  # none verified: every statement's stages


def test_unreadable_dockerfile_is_a_problem_not_a_crash() -> None:
    section, problems = provenance_section(evidence([Found(artifact("s"), prov("# nothing here\n", "https://b"))]), lambda a: False)
    assert section["verified"] is False
    assert [(stage["base"], stage["pinned"]) for stage in section["stages"]] == [("golang:1.22", False)]  # judged from the materials
    assert len(problems) == 1 and "no FROM" in problems[0].message


def test_verified_statements_that_disagree_are_all_judged() -> None:
    """A second, cleaner verified statement never masks a first: every verified statement's stages count."""
    pinned = provenance_v02(IMAGE, [material(f"pkg:docker/golang@1.22?digest=sha256:{GOLANG}", GOLANG)], dockerfile=f"FROM golang:1.22@sha256:{GOLANG}\n")
    found = [Found(artifact("clean"), Provenance.from_bytes(to_bytes(pinned))), Found(artifact("first"), prov("FROM golang:1.22\n", "https://b")),
             Found(artifact("unsigned"), prov("FROM evil:latest\n", "https://c"))]
    section, _ = provenance_section(evidence(found), lambda a: a.source != "unsigned")
    assert [(stage["base"], stage["pinned"]) for stage in section["stages"]] == [(f"golang:1.22@sha256:{GOLANG}", True), ("golang:1.22", False)]


def test_sbom_section_counts_distinct_components_and_denies() -> None:
    cdx = json.dumps({"bomFormat": "CycloneDX", "specVersion": "1.5", "components": [{"type": "library", "name": "lodash", "version": "4.17.20", "purl": "pkg:npm/lodash@4.17.20"}]})
    sboms = [Found(artifact("a"), Sbom.from_bytes(cdx.encode())), Found(artifact("b"), Sbom.from_bytes(cdx.encode()))]
    deny = DenyList.from_params({"deny": [{"purl": "pkg:npm/lodash", "range": "vers:npm/<4.17.21", "reason": "CVE-2021-23337"}]})
    section = sbom_section(evidence(sboms=sboms), deny, lambda a: a.source == "b")
    assert section == {
        "present": True,
        "verified": True,
        "formats": ["cyclonedx"],
        "components": 1,
        "denied": [{"purl": "pkg:npm/lodash@4.17.20", "range": "vers:npm/<4.17.21", "reason": "CVE-2021-23337"}],
    }


def test_vulnerability_section_leaves_out_raw_results() -> None:
    scan = VulnScan.from_predicate({"scanner": {"uri": "trivy", "version": "0.50", "db": {"uri": "ghcr.io/db", "version": "2"}, "result": {"huge": True}}})
    rows = vulnerability_section(evidence(vulns=[Found(artifact("v"), scan)]), lambda a: False)
    assert rows == [{"scanner_uri": "trivy", "scanner_version": "0.50", "db_uri": "ghcr.io/db", "db_version": "2", "started_ns": None, "finished_ns": None, "verified": False}]


def test_vuln_predicate_without_scanner_is_refused() -> None:
    with pytest.raises(EvidenceError, match="no `scanner`"):
        VulnScan.from_predicate({"invocation": {}})


SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "docs" / "input.schema.json").read_text())


@pytest.mark.parametrize("section", ["provenance", "sbom"])
def test_sections_match_the_documented_input_schema(section: str) -> None:
    """What this package computes is what docs/input.schema.json promises user Rego."""
    found = [
        Found(artifact("a"), prov("# syntax=docker/dockerfile:1\nFROM golang:1.22 AS b\nFROM b\nFROM scratch\nCOPY --from=ghcr.io/x/y:1 / /\n", "https://b")),
        Found(artifact("b"), prov(None, "https://c")),
    ]
    cdx = json.dumps({"bomFormat": "CycloneDX", "specVersion": "1.5", "components": [{"type": "library", "name": "lodash", "version": "1", "purl": "pkg:npm/lodash@1"}]})
    collected = evidence(found, [Found(artifact("s"), Sbom.from_bytes(cdx.encode()))])
    deny = DenyList.from_params({"deny": [{"purl": "pkg:npm/lodash"}]})
    value = provenance_section(collected, lambda a: True)[0] if section == "provenance" else sbom_section(collected, deny, lambda a: False)
    jsonschema.validate(value, {"$defs": SCHEMA["$defs"], **SCHEMA["properties"][section]})

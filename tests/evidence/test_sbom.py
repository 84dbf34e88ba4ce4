"""SBOMs: CycloneDX 1.2-1.6 in JSON and XML (validated by cyclonedx-python-lib), SPDX 2.2/2.3 JSON."""

from __future__ import annotations

import json

import pytest

from gate.errors import EvidenceError, LimitExceeded
from gate.evidence import Sbom, Statement

VERSIONS = ["1.2", "1.3", "1.4", "1.5", "1.6"]


def cyclonedx_json(version: str) -> dict:
    return {
        "bomFormat": "CycloneDX",
        "specVersion": version,
        "version": 1,
        "components": [
            {
                "type": "library",
                "name": "lodash",
                "version": "4.17.20",
                "purl": "pkg:npm/lodash@4.17.20",
                "components": [{"type": "library", "name": "inner", "version": "1.0.0"}],
            },
            {"type": "operating-system", "name": "alpine", "version": "3.19.1"},
        ],
    }


def cyclonedx_xml(version: str, component: str = "<name>lodash</name><version>4.17.20</version><purl>pkg:npm/lodash@4.17.20</purl>") -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<bom xmlns="http://cyclonedx.org/schema/bom/{version}" version="1">'
        f'<components><component type="library">{component}'
        '<components><component type="library"><name>inner</name><version>1.0.0</version></component></components>'
        "</component></components></bom>"
    ).encode()


@pytest.mark.parametrize("version", VERSIONS)
def test_cyclonedx_json(version: str) -> None:
    sbom = Sbom.from_bytes(json.dumps(cyclonedx_json(version)).encode())
    assert (sbom.format, sbom.spec_version, sbom.encoding) == ("cyclonedx", version, "json")
    assert [(c.name, c.version, c.purl, c.type) for c in sbom.components] == [
        ("lodash", "4.17.20", "pkg:npm/lodash@4.17.20", "library"),
        ("inner", "1.0.0", None, "library"),
        ("alpine", "3.19.1", None, "operating-system"),
    ]


@pytest.mark.parametrize("version", VERSIONS)
def test_cyclonedx_xml(version: str) -> None:
    sbom = Sbom.from_bytes(cyclonedx_xml(version))
    assert (sbom.format, sbom.spec_version, sbom.encoding) == ("cyclonedx", version, "xml")
    assert [(c.name, c.version, c.purl) for c in sbom.components] == [("lodash", "4.17.20", "pkg:npm/lodash@4.17.20"), ("inner", "1.0.0", None)]


@pytest.mark.parametrize("version", VERSIONS)
def test_cyclonedx_schema_violations_are_refused(version: str) -> None:
    document = cyclonedx_json(version)
    document["components"][0]["type"] = "spaceship"
    with pytest.raises(EvidenceError, match=f"not valid CycloneDX {version} JSON"):
        Sbom.from_bytes(json.dumps(document).encode())
    with pytest.raises(EvidenceError, match=f"not valid CycloneDX {version} XML"):
        Sbom.from_bytes(cyclonedx_xml(version, component="<version>1</version>"))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (json.dumps({"bomFormat": "CycloneDX", "specVersion": "1.1", "version": 1}).encode(), "unsupported CycloneDX specVersion"),
        (b'<bom xmlns="http://cyclonedx.org/schema/bom/1.0"/>', "unsupported CycloneDX specVersion"),
        (b"<html><body/></html>", "not a CycloneDX <bom>"),
        (b"<bom", "not well-formed"),
        (b'<?xml version="1.0"?><!DOCTYPE b [<!ENTITY x "y">]><bom xmlns="http://cyclonedx.org/schema/bom/1.4">&x;</bom>', "not well-formed, safe XML"),
        (json.dumps({"spdxVersion": "SPDX-2.1", "SPDXID": "SPDXRef-DOCUMENT"}).encode(), "unsupported spdxVersion"),
        (
            json.dumps({"spdxVersion": "SPDX-2.3", "SPDXID": "SPDXRef-DOCUMENT", "name": "x", "dataLicense": "CC0-1.0", "packages": [{"SPDXID": "p"}]}).encode(),
            r"packages\[0\]\.name",
        ),
        (b"[]", "must be a JSON object"),
    ],
    ids=["cdx-1.1", "cdx-xml-1.0", "other-xml", "broken-xml", "xml-entities", "spdx-2.1", "spdx-package-without-name", "json-array"],
)
def test_bad_sboms(data: bytes, message: str) -> None:
    with pytest.raises(EvidenceError, match=message):
        Sbom.from_bytes(data)


def nested_xml(depth: int) -> bytes:
    inner = "<name>leaf</name><version>1</version>"
    for level in range(depth):
        inner = f'<name>n{level}</name><version>1</version><components><component type="library">{inner}</component></components>'
    return f'<bom xmlns="http://cyclonedx.org/schema/bom/1.5" version="1"><components><component type="library">{inner}</component></components></bom>'.encode()


def test_byte_order_mark_and_deep_nesting() -> None:
    sbom = Sbom.from_bytes(b"\xef\xbb\xbf" + nested_xml(1000))  # deeper than Python's recursion limit
    assert len(sbom.components) == 1001 and sbom.components[-1].name == "leaf"


def test_nesting_beyond_the_xml_validator_limit_is_an_evidence_error() -> None:
    with pytest.raises(EvidenceError, match="cannot be validated"):
        Sbom.from_bytes(nested_xml(1100))


def test_json_nesting_beyond_the_validator_is_an_evidence_error() -> None:
    component: dict = {"type": "library", "name": "leaf"}
    for level in range(300):
        component = {"type": "library", "name": f"n{level}", "components": [component]}
    document = {"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1, "components": [component]}
    with pytest.raises(EvidenceError, match="nests too deeply"):
        Sbom.from_bytes(json.dumps(document).encode())


def test_size_cap() -> None:
    with pytest.raises(LimitExceeded):
        Sbom.from_bytes(cyclonedx_xml("1.5"), max_bytes=64)


def test_spdx_23_purpose_and_purl() -> None:
    document = {
        "spdxVersion": "SPDX-2.3",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": "sbom",
        "dataLicense": "CC0-1.0",
        "packages": [
            {
                "SPDXID": "SPDXRef-Package-1",
                "name": "openssl",
                "versionInfo": "3.1.4-r5",
                "primaryPackagePurpose": "LIBRARY",
                "externalRefs": [
                    {"referenceCategory": "SECURITY", "referenceType": "cpe23Type", "referenceLocator": "cpe:2.3:a:openssl:openssl:3.1.4"},
                    {"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": "pkg:apk/alpine/openssl@3.1.4-r5"},
                ],
            }
        ],
    }
    sbom = Sbom.from_bytes(json.dumps(document).encode())
    assert [(c.name, c.version, c.purl, c.type) for c in sbom.components] == [("openssl", "3.1.4-r5", "pkg:apk/alpine/openssl@3.1.4-r5", "library")]


@pytest.mark.parametrize("predicate_type", ["https://cyclonedx.org/bom", "https://cyclonedx.org/bom/v1.5"])
def test_cyclonedx_statement(predicate_type: str) -> None:
    statement = _statement(predicate_type, cyclonedx_json("1.5"))
    assert len(Sbom.from_statement(statement).components) == 3


def test_predicate_type_must_match_the_document() -> None:
    with pytest.raises(EvidenceError, match="holds a cyclonedx document"):
        Sbom.from_statement(_statement("https://spdx.dev/Document", cyclonedx_json("1.5")))


def _statement(predicate_type: str, predicate: dict) -> Statement:
    document = {"_type": "https://in-toto.io/Statement/v1", "predicateType": predicate_type, "subject": [{"name": "_", "digest": {"sha256": "1" * 64}}], "predicate": predicate}
    return Statement.from_bytes(json.dumps(document).encode())


@pytest.mark.parametrize("version", ["1.4", "1.5", "1.6"])
def test_licences_are_read_from_every_format(version: str) -> None:
    licensed = {"type": "library", "name": "lodash", "version": "4.17.20", "licenses": [{"license": {"id": "MIT"}}, {"license": {"name": "Custom"}}]}
    expression = {"type": "library", "name": "dual", "version": "1", "licenses": [{"expression": "MIT OR Apache-2.0"}]}
    document = {"bomFormat": "CycloneDX", "specVersion": version, "version": 1, "components": [licensed, expression]}
    assert [c.licenses for c in Sbom.from_bytes(json.dumps(document).encode()).components] == [("MIT", "Custom"), ("MIT OR Apache-2.0",)]
    xml = (
        f'<?xml version="1.0"?><bom xmlns="http://cyclonedx.org/schema/bom/{version}" version="1"><components>'
        '<component type="library"><name>lodash</name><version>4.17.20</version><licenses><license><id>MIT</id></license></licenses></component>'
        '<component type="library"><name>dual</name><version>1</version><licenses><expression>MIT OR Apache-2.0</expression></licenses></component>'
        "</components></bom>"
    )
    assert [c.licenses for c in Sbom.from_bytes(xml.encode()).components] == [("MIT",), ("MIT OR Apache-2.0",)]
    spdx = {
        "spdxVersion": "SPDX-2.3", "SPDXID": "SPDXRef-DOCUMENT", "name": "s", "dataLicense": "CC0-1.0",
        "packages": [
            {"SPDXID": "SPDXRef-a", "name": "a", "licenseConcluded": "MIT", "licenseDeclared": "MIT"},
            {"SPDXID": "SPDXRef-b", "name": "b", "licenseConcluded": "NOASSERTION", "licenseDeclared": "GPL-2.0-only"},
        ],
    }
    assert [c.licenses for c in Sbom.from_bytes(json.dumps(spdx).encode()).components] == [("MIT",), ("GPL-2.0-only",)]

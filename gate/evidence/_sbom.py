"""SBOMs: CycloneDX (JSON and XML, spec 1.2-1.6) and SPDX 2.2/2.3 JSON, normalised to components.

CycloneDX documents are schema-validated with ``cyclonedx-python-lib``'s validators before we walk
their components (the library's object model is stricter than real SBOMs in the wild, so we only
read name/version/purl/type from the validated tree). XML is first parsed with ``defusedxml`` so
entity tricks are refused before anything else reads it. SPDX has no validator in our
dependencies; its required fields are checked here. The validators (and the XML parsers) are
imported when an SBOM is read: an image without one never loads them.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterator, Literal

from gate.errors import EvidenceError, LimitExceeded
from gate.evidence import _json
from gate.evidence._intoto import Statement

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element

    from cyclonedx.validation.json import JsonValidator
    from cyclonedx.validation.xml import XmlValidator

CYCLONEDX_PREDICATE = "https://cyclonedx.org/bom"
SPDX_PREDICATE = "https://spdx.dev/Document"
CYCLONEDX_VERSIONS = tuple(f"1.{minor}" for minor in range(2, 7))
SPDX_VERSIONS = ("SPDX-2.2", "SPDX-2.3")
_CYCLONEDX_NS = re.compile(r"^\{http://cyclonedx\.org/schema/bom/(1\.\d+)\}bom$")


@dataclass(frozen=True)
class Component:
    """One package an SBOM lists, reduced to what deny lists and policies match on."""

    name: str
    version: str | None
    purl: str | None
    type: str | None
    licenses: tuple[str, ...] = ()  # SPDX ids, names or expressions, as the SBOM wrote them


@dataclass(frozen=True)
class Sbom:
    """A validated SBOM: its format, spec version, encoding and components (nested ones flattened)."""

    format: Literal["cyclonedx", "spdx"]
    spec_version: str
    encoding: Literal["json", "xml"]
    components: tuple[Component, ...]

    @classmethod
    def from_bytes(cls, data: bytes, *, what: str = "SBOM", max_bytes: int = _json.MAX_DOCUMENT_BYTES) -> Sbom:
        """Parse a raw CycloneDX (JSON or XML) or SPDX JSON document.

        Raises:
            EvidenceError: unknown format or version, schema-invalid, or malformed.
            LimitExceeded: above ``max_bytes``.
        """
        data = data.removeprefix(b"\xef\xbb\xbf")  # a UTF-8 byte-order mark, common in XML
        if data.lstrip()[:1] == b"<":
            return _cyclonedx_xml(data, what, max_bytes)
        return cls.from_document(_json.load(data, what, max_bytes=max_bytes), what=what)

    @classmethod
    def from_document(cls, document: Any, *, what: str = "SBOM") -> Sbom:
        """Parse an already decoded JSON SBOM (an in-toto predicate, say).

        Raises:
            EvidenceError: unknown format or version, schema-invalid, or malformed.
        """
        document = _json.obj(document, what)
        if document.get("bomFormat") == "CycloneDX":
            return _cyclonedx_json(document, what)
        if "spdxVersion" in document:
            return _spdx(document, what)
        raise EvidenceError(f"{what} is neither CycloneDX (bomFormat) nor SPDX (spdxVersion)")

    @classmethod
    def from_statement(cls, statement: Statement) -> Sbom:
        """The SBOM predicate of a statement; its type must agree with the document inside.

        Raises:
            EvidenceError: the predicate type is not an SBOM, or the document is not the declared format.
        """
        declared = statement.predicate_type
        sbom = cls.from_document(dict(statement.predicate), what=f"{declared} predicate")
        expected = CYCLONEDX_PREDICATE if sbom.format == "cyclonedx" else SPDX_PREDICATE
        if declared.rstrip("/") != expected and not declared.startswith(expected + "/"):
            raise EvidenceError(f"statement declares predicateType {declared!r} but holds a {sbom.format} document")
        return sbom


def is_sbom_predicate(predicate_type: str) -> bool:
    """True for CycloneDX and SPDX predicate types (with or without a version suffix)."""
    return any(predicate_type == base or predicate_type.startswith(base + "/") for base in (CYCLONEDX_PREDICATE, SPDX_PREDICATE))


def _cyclonedx_json(document: dict[str, Any], what: str) -> Sbom:
    version = _cyclonedx_version(document.get("specVersion"), what)
    try:
        error = _json_validator(version).validate_str(json.dumps(document))
    except RecursionError as exc:  # jsonschema recurses per nesting level; a hostile BOM nests deeply
        raise EvidenceError(f"{what} nests too deeply to validate as CycloneDX {version} JSON") from exc
    if error is not None:
        raise EvidenceError(f"{what} is not valid CycloneDX {version} JSON: {_first_line(error)}")
    components = tuple(_walk_json_components(_json.opt_list(document, "components", what)))
    return Sbom("cyclonedx", version, "json", components)


def _walk_json_components(entries: list[Any]) -> Iterator[Component]:
    """Depth-first, without recursion (nesting depth is the document's choice)."""
    stack = list(reversed(entries))
    while stack:
        entry = stack.pop()
        yield Component(entry["name"], entry.get("version") or None, entry.get("purl") or None, entry.get("type"), _json_licenses(entry))
        stack.extend(reversed(entry.get("components") or []))


def _cyclonedx_xml(data: bytes, what: str, max_bytes: int) -> Sbom:
    import defusedxml.ElementTree as SafeET
    from defusedxml import DefusedXmlException
    from lxml.etree import LxmlError

    if len(data) > max_bytes:
        raise LimitExceeded(f"{what} is {len(data)} bytes, above the {max_bytes}-byte cap")
    try:
        root = SafeET.fromstring(data)
    except (SafeET.ParseError, DefusedXmlException, ValueError) as exc:
        raise EvidenceError(f"{what} is not well-formed, safe XML: {exc}") from exc
    match = _CYCLONEDX_NS.match(root.tag)
    if match is None:
        raise EvidenceError(f"{what} is XML but not a CycloneDX <bom> (root element {root.tag!r})")
    version = _cyclonedx_version(match[1], what)
    try:
        error = _xml_validator(version).validate_str(data.decode("utf-8", errors="replace"))
    except LxmlError as exc:  # the validator re-parses with lxml, which has its own limits (depth)
        raise EvidenceError(f"{what} cannot be validated as CycloneDX {version} XML: {exc}") from exc
    if error is not None:
        raise EvidenceError(f"{what} is not valid CycloneDX {version} XML: {_first_line(error)}")
    namespace = root.tag[: -len("bom")]
    return Sbom("cyclonedx", version, "xml", tuple(_walk_xml_components(root.find(f"{namespace}components"), namespace)))


def _walk_xml_components(parent: Element | None, ns: str) -> Iterator[Component]:
    """Depth-first, without recursion (nesting depth is the document's choice)."""
    stack = list(reversed(parent.findall(f"{ns}component"))) if parent is not None else []
    while stack:
        element = stack.pop()
        yield Component(
            (element.findtext(f"{ns}name") or "").strip(),
            (element.findtext(f"{ns}version") or "").strip() or None,
            (element.findtext(f"{ns}purl") or "").strip() or None,
            element.get("type"),
            _xml_licenses(element, ns),
        )
        children = element.find(f"{ns}components")
        stack.extend(reversed(children.findall(f"{ns}component")) if children is not None else [])


def _spdx(document: dict[str, Any], what: str) -> Sbom:
    version = document.get("spdxVersion")
    if not isinstance(version, str) or version not in SPDX_VERSIONS:
        raise EvidenceError(f"{what}: unsupported spdxVersion {version!r}; expected one of {', '.join(SPDX_VERSIONS)}")
    for field in ("SPDXID", "name", "dataLicense"):
        _json.string(document, field, what)
    components = []
    for index, package in enumerate(_json.opt_list(document, "packages", what)):
        where = f"{what}.packages[{index}]"
        package = _json.obj(package, where)
        _json.string(package, "SPDXID", where)
        purpose = _json.opt_str(package, "primaryPackagePurpose", where)
        components.append(
            Component(
                _json.string(package, "name", where), _json.opt_str(package, "versionInfo", where), _spdx_purl(package, where),
                purpose.lower() if purpose else None, _spdx_licenses(package),
            )
        )
    return Sbom("spdx", version, "json", tuple(components))


def _json_licenses(entry: dict[str, Any]) -> tuple[str, ...]:
    """CycloneDX JSON ``licenses``: each ``license.id``, ``license.name`` or ``expression`` (schema-validated)."""
    found = []
    for choice in entry.get("licenses") or []:
        licence = choice.get("license") or {}
        text = choice.get("expression") or licence.get("id") or licence.get("name")
        if isinstance(text, str) and text:
            found.append(text)
    return tuple(found)


def _xml_licenses(element: Element, ns: str) -> tuple[str, ...]:
    """CycloneDX XML ``<licenses>``: each ``<license><id|name>`` or ``<expression>``."""
    licenses = element.find(f"{ns}licenses")
    if licenses is None:
        return ()
    found = [(child.findtext(f"{ns}id") or child.findtext(f"{ns}name") or "").strip() for child in licenses.findall(f"{ns}license")]
    found += [(child.text or "").strip() for child in licenses.findall(f"{ns}expression")]
    return tuple(text for text in found if text)


def _spdx_licenses(package: dict[str, Any]) -> tuple[str, ...]:
    """SPDX ``licenseConcluded`` then ``licenseDeclared``, without NOASSERTION/NONE."""
    found = [package.get(field) for field in ("licenseConcluded", "licenseDeclared")]
    return tuple(dict.fromkeys(text for text in found if isinstance(text, str) and text not in ("", "NOASSERTION", "NONE")))


def _spdx_purl(package: dict[str, Any], where: str) -> str | None:
    for index, ref in enumerate(_json.opt_list(package, "externalRefs", where)):
        ref = _json.obj(ref, f"{where}.externalRefs[{index}]")
        locator = ref.get("referenceLocator")
        if ref.get("referenceType") == "purl" and isinstance(locator, str):
            return locator
    return None


@functools.cache
def _json_validator(version: str) -> JsonValidator:
    """One validator per spec version: building one compiles the schema (milliseconds each time)."""
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonValidator

    return JsonValidator(SchemaVersion.from_version(version))


@functools.cache
def _xml_validator(version: str) -> XmlValidator:
    """One validator per spec version, as for JSON."""
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.xml import XmlValidator

    return XmlValidator(SchemaVersion.from_version(version))


def _cyclonedx_version(value: Any, what: str) -> str:
    if not isinstance(value, str) or value not in CYCLONEDX_VERSIONS:
        raise EvidenceError(f"{what}: unsupported CycloneDX specVersion {value!r}; expected one of {', '.join(CYCLONEDX_VERSIONS)}")
    return str(value)


def _first_line(error: object) -> str:
    return str(error).strip().splitlines()[0][:300]

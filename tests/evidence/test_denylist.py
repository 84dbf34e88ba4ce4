"""``sbom.denied-component``: purl + VERS range matching (packageurl-python + univers)."""

from __future__ import annotations

import pytest

from gate.config import from_mapping
from gate.errors import ConfigError
from gate.evidence import Component, DenyList

DENY = [
    {"purl": "pkg:npm/lodash", "range": "vers:npm/<4.17.21", "reason": "CVE-2021-23337"},
    {"purl": "pkg:pypi/PyYAML@5.3"},
    {"purl": "pkg:golang/github.com/dgrijalva/jwt-go", "reason": "unmaintained"},
    {"purl": "pkg:maven/org.apache.logging.log4j/log4j-core", "range": "vers:maven/>=2.0.0|<2.17.1", "reason": "Log4Shell"},
    {"purl": "pkg:deb/debian/openssl?arch=amd64", "range": "vers:deb/<3.0.11-1"},
    {"purl": "pkg:nuget/Newtonsoft.Json", "range": "vers:nuget/<13.0.1", "reason": "CVE-2024-21907"},
]


def lib(purl: str | None, version: str | None = None, name: str = "x") -> Component:
    return Component(name, version, purl, "library")


@pytest.mark.parametrize(
    ("component", "reason"),
    [
        (lib("pkg:npm/lodash@4.17.20"), "CVE-2021-23337"),
        (lib("pkg:npm/lodash@4.17.21"), None),
        (lib("pkg:npm/lodash@5.0.0"), None),
        (lib("pkg:npm/lodash", "4.0.0"), "CVE-2021-23337"),  # version from the component when the purl has none
        (lib("pkg:npm/lodash"), "CVE-2021-23337 (component has no version to compare)"),
        (lib("pkg:npm/lodash@not!a!version"), "CVE-2021-23337 (version 'not!a!version' not comparable in vers:npm/<4.17.21)"),
        (lib("pkg:npm/lodash-es@4.17.20"), None),
        (lib("pkg:pypi/pyyaml@5.3"), ""),  # purl names normalise (PyPI is case-insensitive)
        (lib("pkg:pypi/pyyaml@5.4"), None),
        (lib("pkg:golang/github.com/dgrijalva/jwt-go@v3.2.0"), "unmaintained"),
        (lib("pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1"), "Log4Shell"),
        (lib("pkg:maven/org.apache.logging.log4j/log4j-core@2.17.1"), None),
        (lib("pkg:maven/org.apache.logging.log4j/log4j-core@1.2.17"), None),
        (lib("pkg:deb/debian/openssl@3.0.9-1?arch=amd64"), ""),
        (lib("pkg:deb/debian/openssl@3.0.9-1?arch=arm64"), None),  # a qualifier in the entry must match
        (lib("pkg:nuget/Newtonsoft.Json@12.0.3"), "CVE-2024-21907"),
        (lib("pkg:nuget/Newtonsoft.Json@abc"), "CVE-2024-21907 (version 'abc' not comparable in vers:nuget/<13.0.1)"),
        # no usable purl: matched by name (any case, -/_/. alike), version compared in the entry's scheme
        (lib(None, "4.17.20", name="lodash"), "CVE-2021-23337 (matched by name: the SBOM gives no usable purl)"),
        (lib("not a purl", "2.14.1", name="log4j_core"), "Log4Shell (matched by name: the SBOM gives no usable purl)"),
        (lib(None, None, name="Lodash"), "CVE-2021-23337 (component has no version to compare) (matched by name: the SBOM gives no usable purl)"),
        (lib(None, "4.17.21", name="lodash"), None),
        (lib(None, "4.17.20", name="lodash-es"), None),
        (lib("not a purl"), None),
    ],
)
def test_matching(component: Component, reason: str | None) -> None:
    denied = DenyList.from_params({"deny": DENY}).check([component])
    assert [d.reason for d in denied] == ([] if reason is None else [reason])
    if denied:
        by_name = "matched by name" in denied[0].reason
        assert denied[0].purl == (f"{component.name} (no usable purl)" if by_name else component.purl)


def test_denied_fact_fields_and_deduplication() -> None:
    component = lib("pkg:npm/lodash@4.17.20", name="lodash")
    denied = DenyList.from_params({"deny": DENY}).check([component, component])
    assert [(d.purl, d.range, d.reason, d.name) for d in denied] == [("pkg:npm/lodash@4.17.20", "vers:npm/<4.17.21", "CVE-2021-23337", "lodash")]


def test_params_come_from_the_config_file() -> None:
    config = from_mapping({"rules": {"sbom.denied-component": {"action": "deny", "deny": DENY}}})
    assert len(DenyList.from_params(config.rule_params()["sbom.denied-component"]).entries) == len(DENY)
    assert DenyList.from_params(None).entries == ()


@pytest.mark.parametrize(
    ("deny", "message"),
    [
        ({"purl": "lodash"}, r"deny\[0\]\.purl"),
        ({"range": "vers:npm/<1"}, "needs a `purl`"),
        ({"purl": "pkg:npm/a", "range": "<1"}, r"deny\[0\]\.range"),
        ({"purl": "pkg:npm/a", "range": "vers:npm/<<1"}, "not a valid VERS range"),
        ({"purl": "pkg:npm/a", "range": "vers:pypi/<1"}, "does not compare npm versions"),
        ({"purl": "pkg:npm/a", "reason": 3}, "reason must be a string"),
        ({"purl": "pkg:npm/a", "version": "1"}, "unknown field"),
    ],
)
def test_bad_params_name_the_field(deny: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        DenyList.from_params({"deny": [deny]})


def test_deny_must_be_a_list() -> None:
    with pytest.raises(ConfigError, match="must be a list"):
        DenyList.from_params({"deny": {"purl": "pkg:npm/a"}})

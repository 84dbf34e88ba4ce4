"""``sbom.denied-component``: SBOM components against a configured deny list of purls + version ranges.

Configuration (``rules`` section, docs/configuration.md)::

    rules:
      sbom.denied-component:
        action: deny
        deny:
          - purl: pkg:npm/lodash            # type/namespace/name; qualifiers, when given, must match too
            range: "vers:npm/<4.17.21"      # optional VERS range; absent = every version
            reason: CVE-2021-23337          # optional, shown in the violation
          - purl: pkg:pypi/pyyaml@5.3       # a version in the purl means exactly that version

Matching uses ``packageurl-python`` (purl parsing and per-type name normalisation) and ``univers``
(VERS ranges and per-ecosystem version ordering). A component whose name matches but whose version
is missing or cannot be compared in the range's scheme is reported as denied (unknown means deny).

A component without a usable purl (none, or one that does not parse) is not skipped: it is matched
by name against every entry (case-insensitive, ``-``/``_``/``.`` alike, as package indexes compare
names), in the entry's ecosystem since the SBOM does not say which one, and its version compared
as above; the reason says it was matched by name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable

from packageurl import PackageURL

from gate.errors import ConfigError

if TYPE_CHECKING:  # univers is imported when an entry has a range: an empty deny list never loads it
    from gate.evidence._sbom import Component
    from univers.version_range import VersionRange

RULE_ID = "sbom.denied-component"


@dataclass(frozen=True)
class DenyEntry:
    """One deny-list entry, parsed and checked at start-up."""

    purl: PackageURL
    range: VersionRange | None
    text_purl: str
    text_range: str | None
    reason: str

    def matches(self, component: PackageURL) -> tuple[bool, str]:
        """Whether ``component`` is denied by this entry, and why (for the report)."""
        if (component.type, component.namespace, component.name) != (self.purl.type, self.purl.namespace, self.purl.name):
            return False, ""
        wanted = self.purl.qualifiers if isinstance(self.purl.qualifiers, dict) else {}
        have = component.qualifiers if isinstance(component.qualifiers, dict) else {}
        if any(have.get(key) != value for key, value in wanted.items()):
            return False, ""
        if self.purl.version is not None and component.version != self.purl.version:
            return False, ""
        if self.range is None:
            return True, self.reason
        if component.version is None:
            return True, f"{self.reason} (component has no version to compare)".strip()
        try:
            version_class = self.range.version_class
            if version_class is None:  # the base class's; every scheme's range class names its own
                raise TypeError(f"vers:{self.range.scheme} ranges name no version class")
            return version_class(component.version) in self.range, self.reason
        except Exception:  # noqa: BLE001 - univers' version classes each raise their own types (InvalidNuGetVersion, ...)
            return True, f"{self.reason} (version {component.version!r} not comparable in {self.text_range})".strip()


@dataclass(frozen=True)
class Denied:
    """A component the deny list matched: the ``sbom.denied`` fact."""

    purl: str
    range: str | None
    reason: str
    name: str


@dataclass(frozen=True)
class DenyList:
    """The parsed ``sbom.denied-component.deny`` parameter."""

    entries: tuple[DenyEntry, ...]

    @classmethod
    def from_params(cls, params: dict[str, Any] | None) -> DenyList:
        """Parse the rule's parameters (``config.rule_params().get("sbom.denied-component")``).

        Raises:
            ConfigError: a field is invalid; the message names its path.
        """
        raw = (params or {}).get("deny", [])
        if not isinstance(raw, list):
            raise ConfigError(f"rules.{RULE_ID}.deny must be a list of {{purl, range, reason}}")
        return cls(tuple(_entry(item, f"rules.{RULE_ID}.deny[{index}]") for index, item in enumerate(raw)))

    def check(self, components: Iterable[Component]) -> tuple[Denied, ...]:
        """Every component (with a purl) that an entry denies, once per component and entry."""
        denied: list[Denied] = []
        for component in components:
            purl = _component_purl(component)
            for entry in self.entries:
                if purl is not None:
                    hit, reason = entry.matches(purl)
                    shown = component.purl or ""
                else:
                    hit, reason = _by_name(entry, component)
                    shown = f"{component.name} (no usable purl)"
                if hit:
                    denied.append(Denied(shown, entry.text_range, reason, component.name))
        return tuple(dict.fromkeys(denied))


def _entry(item: Any, where: str) -> DenyEntry:
    if not isinstance(item, dict) or not isinstance(item.get("purl"), str):
        raise ConfigError(f"{where}: needs a `purl` string (e.g. pkg:npm/lodash)")
    unknown = set(item) - {"purl", "range", "reason"}
    if unknown:
        raise ConfigError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}; allowed: purl, range, reason")
    try:
        purl = PackageURL.from_string(item["purl"])
    except ValueError as exc:
        raise ConfigError(f"{where}.purl: {item['purl']!r} is not a package URL: {exc}") from exc
    text_range = item.get("range")
    version_range = None
    if text_range is not None:
        if not isinstance(text_range, str):
            raise ConfigError(f"{where}.range must be a VERS string such as vers:npm/<4.17.21")
        from univers.version_range import VersionRange
        from univers.versions import InvalidVersion

        try:
            version_range = VersionRange.from_string(text_range)
        except (ValueError, KeyError, InvalidVersion) as exc:
            raise ConfigError(f"{where}.range: {text_range!r} is not a valid VERS range: {exc}") from exc
        if version_range.scheme not in (purl.type, "generic"):
            raise ConfigError(f"{where}.range: scheme vers:{version_range.scheme} does not compare {purl.type} versions; write vers:{purl.type}/...")
    reason = item.get("reason", "")
    if not isinstance(reason, str):
        raise ConfigError(f"{where}.reason must be a string")
    return DenyEntry(purl, version_range, item["purl"], text_range, reason)


def _by_name(entry: DenyEntry, component: Component) -> tuple[bool, str]:
    """Match a component that has no usable purl by name, in the entry's ecosystem."""
    names = {_normal(entry.purl.name)}
    if entry.purl.namespace:
        names.add(_normal(f"{entry.purl.namespace}/{entry.purl.name}"))
    if _normal(component.name) not in names:
        return False, ""
    stand_in = PackageURL(type=entry.purl.type, namespace=entry.purl.namespace, name=entry.purl.name,
                          qualifiers=entry.purl.qualifiers, version=component.version or None)
    hit, reason = entry.matches(stand_in)
    return hit, f"{reason} (matched by name: the SBOM gives no usable purl)".strip()


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name.strip().lower())


def without_purl(components: Iterable[Component]) -> int:
    """How many components carry no usable purl (reported in the ``sbom`` facts)."""
    return sum(_component_purl(component) is None for component in components)


def _component_purl(component: Component) -> PackageURL | None:
    if not component.purl:
        return None
    try:
        purl = PackageURL.from_string(component.purl)
    except ValueError:
        return None  # a malformed purl names nothing we could deny
    if purl.version is None and component.version:
        purl = purl._replace(version=component.version)
    return purl

"""Platform names and matching as containerd's ``platforms`` package reads them.

``--platform`` must pick what a node of that platform would pull, so names are normalised and
compared as ``platforms.Only`` does (github.com/containerd/platforms, ``Normalize``,
``platformVector``): ``aarch64`` is ``arm64``, ``arm64/v8`` is ``arm64``, ``armhf`` is ``arm/v7``,
``x86_64`` is ``amd64``, and a node also runs the variants its platform is compatible with
(``linux/arm64`` runs ``linux/arm/v8`` .. ``v5``; ``linux/amd64`` runs ``linux/386``). OS version
and OS features are not compared: gate judges a superset of what any such node could pick.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gate.errors import ConfigError

Platform = tuple[str, str, str]  # (os, architecture, variant), normalised

# containerd platforms' arm64variantToVersion: the (major, highest minor) pairs a variant runs.
_ARM64_VERSIONS: dict[str, tuple[tuple[int, int], ...]] = {
    **{f"v8.{minor}": ((8, minor),) for minor in range(10)},
    "v8": ((8, 0),), "v9": ((9, 0), (8, 5)), "v9.0": ((9, 0), (8, 5)),
    **{f"v9.{minor}": ((9, minor), (8, min(minor + 5, 9))) for minor in range(1, 8)},
}


def normalise(os_name: str, architecture: str, variant: str) -> Platform:
    """containerd's ``Normalize``; an empty OS is the node's own, and every node gate guards runs Linux."""
    os_name = os_name.lower() or "linux"
    os_name = "darwin" if os_name == "macos" else os_name
    architecture, variant = architecture.lower(), variant.lower()
    if architecture == "i386":
        return os_name, "386", ""
    if architecture in ("x86_64", "x86-64", "amd64"):
        return os_name, "amd64", "" if variant == "v1" else variant
    if architecture in ("aarch64", "arm64"):
        variant = {"8": "", "v8": "", "v8.0": "", "9": "v9", "9.0": "v9", "v9.0": "v9"}.get(variant, variant)
        return os_name, "arm64", variant
    if architecture == "armhf":
        return os_name, "arm", "v7"
    if architecture == "armel":
        return os_name, "arm", "v6"
    if architecture == "arm":
        variant = {"": "v7", "7": "v7", "5": "v5", "6": "v6", "8": "v8"}.get(variant, variant)
    return os_name, architecture, variant


def parse(text: str) -> Platform:
    """``os/arch[/variant]`` as given to ``--platform``, normalised."""
    parts = text.split("/")
    parts += [""] * (3 - len(parts))
    return normalise(parts[0], parts[1], parts[2])


def of_descriptor(platform: Mapping[str, Any]) -> Platform:
    """The normalised platform of an index entry's ``platform`` object."""
    fields = [platform.get(key) for key in ("os", "architecture", "variant")]
    return normalise(*(value if isinstance(value, str) else "" for value in fields))


def compatible(wanted: Platform) -> frozenset[Platform]:
    """Everything a node of ``wanted`` runs (containerd's ``platformVector``), normalised."""
    os_name, architecture, variant = wanted
    found = [wanted]
    if architecture == "amd64":
        level = _version(variant)
        found += [(os_name, "amd64", f"v{n}") for n in range(level - 1, 0, -1)] if level > 1 else []
        found.append((os_name, "386", ""))
    elif architecture == "arm":
        level = _version(variant)
        found += [(os_name, "arm", f"v{n}") for n in range(level - 1, 4, -1)] if level > 5 else []
    elif architecture == "arm64":
        found = _arm64_vector(os_name, variant or "v8")
    return frozenset(normalise(*platform) for platform in found)


def _arm64_vector(os_name: str, variant: str) -> list[Platform]:
    versions = _ARM64_VERSIONS.get(variant)
    if versions is None:
        return []  # containerd: an unknown arm64 variant matches nothing
    found = [(os_name, "arm64", f"v{major}" if minor == 0 else f"v{major}.{minor}")
             for major, highest in versions for minor in range(highest, -1, -1)]
    arm_variant = "v8" if variant.startswith(("v8", "v9")) else variant
    return found + list(compatible((os_name, "arm", arm_variant)))


def _version(variant: str) -> int:
    digits = variant.removeprefix("v")
    return int(digits) if digits.isascii() and digits.isdigit() else 0


def matches(wanted: str, platform: Mapping[str, Any]) -> bool:
    """Whether a node of platform ``wanted`` could select an entry with this ``platform`` object."""
    return of_descriptor(platform) in compatible(parse(wanted))


def name(platform: Mapping[str, Any] | None) -> str:
    """``os/arch[/variant]`` as written in the index, for messages; ``(no platform)`` when absent."""
    if not platform:
        return "(no platform)"
    parts = [str(platform.get("os", "")), str(platform.get("architecture", ""))]
    if platform.get("variant"):
        parts.append(str(platform["variant"]))
    return "/".join(parts)


_KNOWN_OS = frozenset(
    "aix android darwin dragonfly freebsd hurd illumos ios js linux nacl netbsd openbsd plan9 solaris wasip1 windows zos".split()
)
_KNOWN_ARCH = frozenset(
    "386 amd64 amd64p32 arm armbe arm64 arm64be loong64 mips mipsle mips64 mips64le mips64p32 mips64p32le "
    "ppc ppc64 ppc64le riscv riscv64 s390 s390x sparc sparc64 wasm".split()
)


def parse_flag(text: str) -> str:
    """A ``--platform`` value as docker reads it (containerd ``Parse``), checked and normalised:
    ``arm64`` alone is ``linux/arm64``, ``linux`` alone is refused (gate has no node architecture).

    Raises:
        ConfigError: more than three parts, or an operating system or architecture docker does not know.
    """
    parts = text.strip().lower().split("/")
    if not 1 <= len(parts) <= 3 or not all(parts):
        raise ConfigError(f"--platform {text!r}: expected os/arch[/variant] (e.g. linux/arm64) or an architecture (arm64)")
    if len(parts) == 1:
        if parts[0] in _KNOWN_OS or parts[0] == "macos":
            raise ConfigError(f"--platform {text!r}: name the architecture too (e.g. {parts[0]}/amd64)")
        parts = ["linux", parts[0]]
    os_name, architecture, variant = normalise(parts[0], parts[1], parts[2] if len(parts) == 3 else "")
    if os_name not in _KNOWN_OS or architecture not in _KNOWN_ARCH:
        raise ConfigError(f"--platform {text!r}: unknown operating system or architecture (e.g. linux/amd64, linux/arm64, arm64)")
    return "/".join(part for part in (os_name, architecture, variant) if part)

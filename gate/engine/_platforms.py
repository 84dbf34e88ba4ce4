"""Platform names as docker and containerd read them (containerd/platforms ``Parse``/``Normalize``).

``arm64`` means ``linux/arm64``, ``aarch64`` is ``arm64``, ``arm64/v8`` is plain ``arm64``,
``linux/arm`` is ``linux/arm/v7``, ``x86_64`` is ``amd64``. Both the asked platform and every index
entry are normalised before they are compared, so each spelling finds the same image.
"""

from __future__ import annotations

from gate.errors import ConfigError

DEFAULT_OS = "linux"  # images gate judges run on Linux nodes, as docker's daemon assumes
_KNOWN_OS = frozenset(
    "aix android darwin dragonfly freebsd hurd illumos ios js linux nacl netbsd openbsd plan9 solaris wasip1 windows zos".split()
)
_KNOWN_ARCH = frozenset(
    "386 amd64 amd64p32 arm armbe arm64 arm64be loong64 mips mipsle mips64 mips64le mips64p32 mips64p32le "
    "ppc ppc64 ppc64le riscv riscv64 s390 s390x sparc sparc64 wasm".split()
)


def parse_platform(text: str) -> str:
    """The normalised ``os/arch[/variant]`` a ``--platform`` value names.

    Raises:
        ConfigError: more than three parts, or an operating system or architecture docker does not know.
    """
    parts = text.strip().lower().split("/")
    if not 1 <= len(parts) <= 3 or not all(parts):
        raise ConfigError(f"--platform {text!r}: expected os/arch[/variant] (e.g. linux/arm64) or an architecture (arm64)")
    if len(parts) == 1:
        parts = [parts[0], ""] if _os(parts[0]) in _KNOWN_OS else [DEFAULT_OS, parts[0]]
        if not parts[1]:
            raise ConfigError(f"--platform {text!r}: name the architecture too (e.g. {parts[0]}/amd64)")
    os_name, arch, variant = _os(parts[0]), *_arch(parts[1], parts[2] if len(parts) == 3 else "")
    if os_name not in _KNOWN_OS or arch not in _KNOWN_ARCH:
        raise ConfigError(f"--platform {text!r}: unknown operating system or architecture (e.g. linux/amd64, linux/arm64, arm64)")
    return "/".join(part for part in (os_name, arch, variant) if part)


def normalize_platform(name: str) -> str:
    """The normalised form of an index entry's ``os/arch[/variant]`` (unknown names kept as written)."""
    parts = name.lower().split("/")
    if len(parts) < 2:
        return name
    arch, variant = _arch(parts[1], parts[2] if len(parts) > 2 else "")
    return "/".join(part for part in (_os(parts[0]), arch, variant) if part)


def _os(name: str) -> str:
    return "darwin" if name == "macos" else name


def _arch(arch: str, variant: str) -> tuple[str, str]:
    """containerd's ``normalizeArch``."""
    if arch == "i386":
        return "386", ""
    if arch in ("x86_64", "x86-64", "amd64"):
        return "amd64", "" if variant == "v1" else variant
    if arch in ("aarch64", "arm64"):
        return "arm64", "" if variant in ("8", "v8", "v8.0") else variant
    if arch == "armhf":
        return "arm", "v7"
    if arch == "armel":
        return "arm", "v6"
    if arch == "arm":
        if variant in ("", "7"):
            return "arm", "v7"
        return "arm", f"v{variant}" if variant in ("5", "6", "8") else variant
    return arch, variant

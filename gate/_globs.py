"""Image-reference globs of ``images[].match`` and exemption ``images``: ``*`` one path segment, ``**`` any.

A pattern is matched against the normalised reference (``nginx:1.25`` is
``docker.io/library/nginx:1.25``) and against its repository alone, so ``docker.io/library/*``
fits ``nginx``, ``nginx:1.25`` and ``nginx@sha256:…`` alike. ``?`` is one character other than
``/``; every other character is literal. A pattern must start with a registry host (a first
segment with ``.`` or ``:``, ``localhost``, or a wildcard), and a Docker Hub pattern must name
both path segments (``docker.io/library/nginx``), because ``nginx`` or ``docker.io/nginx`` would
otherwise silently match nothing.
"""

from __future__ import annotations

import functools
import re

_HOST_HINT = re.compile(r"[.:*]|^localhost$")


@functools.lru_cache(maxsize=1024)
def compile_glob(pattern: str) -> re.Pattern[str]:
    """The regular expression a glob stands for (whole-string match)."""
    parts = []
    for token in re.split(r"(\*\*|\*|\?)", pattern):
        parts.append({"**": ".*", "*": "[^/]*", "?": "[^/]"}.get(token, re.escape(token)))
    return re.compile("".join(parts), re.DOTALL)


def glob_problem(pattern: str) -> str | None:
    """Why ``pattern`` cannot be an image glob, or None when it can."""
    if not pattern or pattern != pattern.strip():
        return "an image pattern must be a non-empty string without surrounding spaces"
    first = pattern.split("/", 1)[0]
    if not _HOST_HINT.search(first):
        suggestion = f"docker.io/library/{pattern}" if "/" not in pattern else f"docker.io/{pattern}"
        return f"{pattern!r} names no registry, so it would match no normalised reference; write {suggestion!r}"
    if first in ("index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"):
        return f"{first} is normalised to docker.io; write the pattern with docker.io"
    segments = pattern.split("/")
    if first == "docker.io" and len(segments) == 2 and "**" not in segments[1]:
        return f"Docker Hub repositories have two path segments ({pattern!r} is 'docker.io/library/{segments[1]}' once normalised); write 'docker.io/library/{segments[1]}'"
    return None


def matches_image(pattern: str, names: tuple[str, ...]) -> bool:
    """True when the glob fits one of ``names`` (see :func:`reference_names`)."""
    regex = compile_glob(pattern)
    return any(regex.fullmatch(name) for name in names)


def reference_names(registry: str, repository: str, tag: str | None, digest: str | None) -> tuple[str, ...]:
    """The normalised forms a pattern is matched against: the repository, then with tag and/or digest."""
    name = f"{registry}/{repository}"
    forms = [name]
    if tag:
        forms.append(f"{name}:{tag}")
    if digest:
        forms.append(f"{name}@{digest}")
        if tag:
            forms.append(f"{name}:{tag}@{digest}")
    return tuple(forms)

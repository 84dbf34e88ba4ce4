"""Build leftovers in the final filesystem: VCS metadata, source trees and caches (content.source),
compilers and language toolchains (content.toolchain).

What counts as a toolchain, and why (``docs/scan.md`` says the same):

* counted: C/C++ compilers (``gcc``, ``g++``, ``cc``, ``c++``, ``clang``, ``cc1``), the Go
  toolchain (``go/bin/go``), Rust (``rustc``, ``cargo``), the JDK compiler (``javac``), native
  addon builders (``node-gyp`` outside npm's own bundle) and build drivers (``make``, ``cmake``).
  None of these is needed to *run* a program, and each is what a multi-stage build is meant to
  leave behind in the builder stage.
* not counted: OS package managers (``apt``, ``dpkg``, ``apk``, ``rpm``/``dnf``) and language
  package managers shipped with official runtime images (``pip``, ``npm``, ``yarn``, ``corepack``).
  They are in nearly every Debian, Alpine, Python and Node base image; flagging them would warn on
  every image and teach people to ignore the rule. Their *caches* (``~/.cache/pip``, ``~/.npm``)
  are counted as content.source, because a cache is what a broad COPY or a missing
  ``--no-cache`` leaves behind.
"""

from __future__ import annotations

import re

from gate.scan._finding import CONTENT_SOURCE, CONTENT_TOOLCHAIN

# (detector, pattern): toolchains report the matching path; sources report the group "root"
# (the repository, cache directory or project manifest), so one tree gives one finding.
_TOOLCHAIN = (
    ("c-compiler", re.compile(
        r"(?:^|/)bin/(?:[\w.-]+-)?(?:gcc|g\+\+|cc|c\+\+|clang|clang\+\+|tcc)(?:-\d+(?:\.\d+)*)?$|"
        r"(?:^|/)(?:lib|libexec)/gcc/[^/]+/[^/]+/cc1(?:plus)?$")),
    ("go-toolchain", re.compile(r"(?:^|/)(?:go|go-[\d.]+)/bin/go$|^usr/(?:local/)?bin/go$")),
    ("rust-toolchain", re.compile(r"(?:^|/)bin/(?:rustc|cargo)$")),
    ("jdk", re.compile(r"(?:^|/)bin/javac$")),
    ("node-gyp", re.compile(r"^(?!.*node_modules/npm/).*(?:^|/)(?:bin/node-gyp|node_modules/node-gyp/package\.json)$")),
    ("build-tool", re.compile(r"(?:^|/)bin/(?:make|gmake|cmake|ninja)$")),
)
_SOURCE = (
    ("vcs-metadata", re.compile(r"^(?P<root>(?:.*/)?\.(?:git|svn|hg))(?:/|$)")),
    ("pip-cache", re.compile(r"^(?P<root>(?:.*/)?\.cache/pip)/")),
    ("npm-cache", re.compile(r"^(?P<root>(?:.*/)?\.npm/_cacache)/")),
    ("yarn-cache", re.compile(r"^(?P<root>(?:.*/)?\.cache/yarn|usr/local/share/\.cache/yarn)/")),
    ("cargo-registry", re.compile(r"^(?P<root>(?:.*/)?\.cargo/registry)/")),
    ("go-cache", re.compile(r"^(?P<root>(?:.*/)?(?:go/pkg/mod/cache|\.cache/go-build))/")),
    ("maven-cache", re.compile(r"^(?P<root>(?:.*/)?\.m2/repository)/")),
    ("gradle-cache", re.compile(r"^(?P<root>(?:.*/)?\.gradle/caches)/")),
    ("source-tree", re.compile(
        r"^(?!.*(?:node_modules/|/pkg/mod/|\.cargo/|(?:^|/)vendor/|site-packages/|dist-packages/))"
        r"(?!usr/(?:lib|share|local/go)/)(?P<root>(?:.*/)?(?:go\.mod|Cargo\.toml|pom\.xml|build\.gradle(?:\.kts)?))$")),
)
_KINDS = frozenset({"file", "symlink", "hardlink"})
_PREFILTER = re.compile(r"\.git|\.svn|\.hg|\.cache/|\.npm/|\.cargo/|pkg/mod/cache|\.m2/|\.gradle/|bin/|/gcc/|"
                        r"go\.mod|Cargo\.toml|pom\.xml|build\.gradle|node-gyp")


could_be_leftover = _PREFILTER.search  # False for a path ``leftover`` certainly finds nothing in (most paths)


def leftover(path: str, kind: str) -> tuple[str, str, str] | None:
    """``(rule, detector, reported path)`` when ``path`` is a build leftover, else None; a walk
    asks :func:`could_be_leftover` first, which rules out most paths in one search."""
    if kind in _KINDS:
        for detector, pattern in _TOOLCHAIN:
            if pattern.search(path):
                return CONTENT_TOOLCHAIN, detector, path
    for detector, pattern in _SOURCE:
        match = pattern.search(path)
        if match and (detector != "source-tree" or kind in _KINDS):
            return CONTENT_SOURCE, detector, match.group("root")
    return None

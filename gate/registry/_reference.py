"""Image references: parse, normalise and print them (the grammar of distribution/reference).

``alpine`` means ``docker.io/library/alpine:latest``; ``index.docker.io`` and
``registry-1.docker.io`` are spellings of ``docker.io``. A first path component is a registry
host only when it contains ``.`` or ``:`` or is ``localhost`` (the Docker rule), so
``shop/api`` is a Docker Hub repository and ``127.0.0.1:5000/shop/api`` is not. When both a tag
and a digest are given the digest decides what is fetched; the tag is kept for display.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from gate.errors import ReferenceError  # noqa: A004 - gate's error for a string that is not an image reference
from gate.registry._digest import digest_problem

DOCKER_HUB = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"
_HUB_ALIASES = {"docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"}

_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_HOST = re.compile(rf"^(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[0-9a-fA-F:.]+\])(?::[0-9]{{1,5}})?$")
_PATH_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$", re.ASCII)
_MAX_NAME = 255
_REMEDY = "write it as [registry[:port]/]repository[:tag][@sha256:<64 hex>], repository in lowercase"


@dataclass(frozen=True)
class Reference:
    """A normalised image reference. Build it with :meth:`parse`.

    ``registry`` is the normalised host (``docker.io`` for Docker Hub), ``repository`` the path
    (``library/alpine``), ``tag`` is ``latest`` when neither a tag nor a digest was written.
    """

    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @classmethod
    def parse(cls, text: str) -> "Reference":
        """Parse and normalise an image reference.

        Raises:
            ReferenceError: the text is not a valid reference; the message says which part is wrong.
        """
        if not isinstance(text, str) or not text.strip():
            raise ReferenceError("empty image reference", remedy=_REMEDY, details={"reference": str(text)})
        if text != text.strip() or any(c.isspace() for c in text):
            raise _bad(text, "it contains whitespace")
        rest, digest = _split_digest(text)
        name, tag = _split_tag(text, rest)
        registry, repository = _split_registry(text, name)
        if tag is None and digest is None:
            tag = "latest"
        return cls(registry, repository, tag, digest)

    @property
    def api_host(self) -> str:
        """The host[:port] that serves the registry API (Docker Hub's is registry-1.docker.io)."""
        return DOCKER_HUB_API if self.registry == DOCKER_HUB else self.registry

    @property
    def identifier(self) -> str:
        """What goes after ``/manifests/``: the digest when known, else the tag."""
        return self.digest or self.tag or "latest"

    def with_digest(self, digest: str) -> "Reference":
        """The same image pinned to ``digest`` (the tag stays for display).

        Raises:
            ReferenceError: ``digest`` is not a sha256/sha512 digest.
        """
        problem = digest_problem(digest)
        if problem:
            raise ReferenceError(f"invalid digest for {self}: {problem}", details={"reference": str(self)})
        return replace(self, digest=digest)

    def with_tag(self, tag: str) -> "Reference":
        """Another tag in the same repository, without a digest (e.g. cosign's ``sha256-<hex>.sig``).

        Raises:
            ReferenceError: ``tag`` is not a valid tag.
        """
        if not _TAG.match(tag):
            raise ReferenceError(f"invalid tag {tag!r} for {self.registry}/{self.repository}", remedy=_REMEDY)
        return replace(self, tag=tag, digest=None)

    def __str__(self) -> str:
        text = f"{self.registry}/{self.repository}"
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def _bad(text: str, why: str) -> ReferenceError:
    return ReferenceError(f"invalid image reference {text!r}: {why}", remedy=_REMEDY, details={"reference": text})


def _split_digest(text: str) -> tuple[str, str | None]:
    name, at, digest = text.partition("@")
    if not at:
        return text, None
    problem = digest_problem(digest)
    if problem:
        raise _bad(text, problem)
    return name, digest


def _split_tag(text: str, rest: str) -> tuple[str, str | None]:
    slash = rest.rfind("/")
    colon = rest.rfind(":")
    if colon <= slash:  # a colon before the last slash belongs to host:port
        return rest, None
    tag = rest[colon + 1 :]
    if not _TAG.match(tag):
        raise _bad(text, f"tag {tag!r} must be 1-128 of [A-Za-z0-9_.-], not starting with . or -")
    return rest[:colon], tag


def _split_registry(text: str, name: str) -> tuple[str, str]:
    first, slash, remainder = name.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        registry, path = _normalise_host(text, first), remainder
    else:
        registry, path = DOCKER_HUB, name
    if not path:
        raise _bad(text, "the repository name is missing")
    if registry == DOCKER_HUB and "/" not in path:
        path = f"library/{path}"
    _check_path(text, path, registry)
    return registry, path


def _normalise_host(text: str, host: str) -> str:
    if not _HOST.match(host):
        raise _bad(text, f"registry host {host!r} is not a valid host[:port]")
    host = host.lower()
    return DOCKER_HUB if host in _HUB_ALIASES else host


def _check_path(text: str, path: str, registry: str) -> None:
    for component in path.split("/"):
        if not _PATH_COMPONENT.match(component):
            why = "must be lowercase" if component.lower() != component else "has an invalid character or separator"
            raise _bad(text, f"repository component {component!r} {why} ([a-z0-9] joined by '.', '_', '__' or '-')")
    if len(registry) + 1 + len(path) > _MAX_NAME:
        raise _bad(text, f"the name is longer than {_MAX_NAME} characters")

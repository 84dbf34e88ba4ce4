"""A small synchronous OCI distribution push client for tests (httpx).

Why not reuse ``gate.registry``: that client is read-only and under test itself; fixtures that
build the world the tests look at must not depend on the code being tested. Why not oras-py: it
cannot set ``artifactType``, computes subject digests wrongly and does not ask for push-scoped
tokens.

Blob uploads follow the distribution spec's POST-then-PUT monolithic flow: the PUT goes to the
``Location`` the registry returned, keeping that URL's own query string (registry 2.8 puts its
``_state`` there) with ``digest=`` merged in as a parameter. Existing blobs are skipped after a HEAD.
Auth: basic credentials, and the bearer-token challenge flow (tokens cached per scope).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MANIFEST_ACCEPT = ", ".join([OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST])


class PushTarget(Protocol):
    """Anything that names a registry: the fixture servers, or a proxy double in front of one."""

    @property
    def url(self) -> str: ...

    @property
    def host(self) -> str: ...

    @property
    def credentials(self) -> tuple[str, str] | None: ...


@dataclass(frozen=True)
class Target:
    """A plain PushTarget, e.g. a proxy double in front of a fixture registry or wrong credentials."""

    url: str
    credentials: tuple[str, str] | None = None

    @property
    def host(self) -> str:
        return self.url.split("://", 1)[-1].rstrip("/")


class PushError(RuntimeError):
    """The registry refused a push; the message has the method, URL, status and body."""


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def canonical_json(document: Any) -> bytes:
    """Compact JSON bytes, the form manifests and configs are pushed in (key order kept)."""
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def parse_www_authenticate(header: str) -> tuple[str, dict[str, str]]:
    """Split ``Bearer realm="...",service="...",scope="..."`` into ``("bearer", {...})``."""
    scheme, _, rest = header.strip().partition(" ")
    params: dict[str, str] = {}
    for item in _split_params(rest):
        key, _, value = item.partition("=")
        params[key.strip().lower()] = value.strip().strip('"')
    return scheme.lower(), params


def _split_params(text: str) -> list[str]:
    """Split on commas outside double quotes (scopes contain commas: ``pull,push``)."""
    items, current, quoted = [], [], False
    for char in text:
        if char == '"':
            quoted = not quoted
        if char == "," and not quoted:
            items.append("".join(current))
            current = []
        else:
            current.append(char)
    if current:
        items.append("".join(current))
    return [item for item in items if item.strip()]


class BearerChallengeAuth(httpx.Auth):
    """Docker token auth: on a ``401 Bearer`` challenge, get a token from the realm and retry.

    Tokens are cached per (realm, service, scope). Basic credentials, when given, are sent to the
    token realm; a ``401 Basic`` challenge is answered with them directly.
    """

    requires_response_body = True

    def __init__(self, credentials: tuple[str, str] | None) -> None:
        self.credentials = credentials
        self.tokens: dict[tuple[str, str, str], str] = {}
        self._scopes: dict[str, tuple[str, str, str]] = {}
        self._basic = httpx.BasicAuth(*credentials) if credentials else None
        self._basic_challenged = False

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        repository = _repository_of(request.url.path)
        self._authorize(request, repository)
        response = yield request
        if response.status_code != 401 or "www-authenticate" not in response.headers:
            return
        scheme, params = parse_www_authenticate(response.headers["www-authenticate"])
        if scheme == "basic" and self._basic is not None:
            self._basic_challenged = True
            yield next(self._basic.auth_flow(request))
        elif scheme == "bearer":
            key = (params.get("realm", ""), params.get("service", ""), params.get("scope", ""))
            token_response = yield self._token_request(key)
            if token_response.status_code != 200:
                return
            body = token_response.json()
            self.tokens[key] = body.get("token") or body["access_token"]
            self._scopes[repository] = key
            request.headers["Authorization"] = f"Bearer {self.tokens[key]}"
            yield request

    def _authorize(self, request: httpx.Request, repository: str) -> None:
        """Send what worked before up front, so most requests need no challenge round trip."""
        key = self._scopes.get(repository)
        if key in self.tokens:
            request.headers["Authorization"] = f"Bearer {self.tokens[key]}"
        elif self._basic_challenged and self._basic is not None:
            next(self._basic.auth_flow(request))

    def _token_request(self, key: tuple[str, str, str]) -> httpx.Request:
        realm, service, scope = key
        params = {name: value for name, value in (("service", service), ("scope", scope)) if value}
        request = httpx.Request("GET", httpx.URL(realm, params=params))
        return next(self._basic.auth_flow(request)) if self._basic is not None else request


def _repository_of(path: str) -> str:
    """``/v2/a/b/blobs/uploads/`` -> ``a/b`` (the token scope's key); ``/v2/`` -> ``""``."""
    parts = path.removeprefix("/v2/").split("/")
    for marker in ("blobs", "manifests", "tags", "referrers"):
        if marker in parts:
            return "/".join(parts[: parts.index(marker)])
    return ""


@dataclass(frozen=True)
class PushedManifest:
    """Where a manifest landed: ``digest``, ``raw`` bytes, ``media_type``, and its repository."""

    host: str
    repository: str
    digest: str
    media_type: str
    raw: bytes
    tag: str | None = None

    @property
    def ref(self) -> str:
        """``HOST/REPO:TAG`` if tagged, else ``HOST/REPO@DIGEST``."""
        return f"{self.host}/{self.repository}:{self.tag}" if self.tag else self.by_digest

    @property
    def by_digest(self) -> str:
        return f"{self.host}/{self.repository}@{self.digest}"

    @property
    def json(self) -> dict[str, Any]:
        return json.loads(self.raw)

    @property
    def size(self) -> int:
        return len(self.raw)

    def descriptor(self, **extra: Any) -> dict[str, Any]:
        """An OCI descriptor pointing at this manifest (``extra`` adds platform, annotations...)."""
        return {"mediaType": self.media_type, "digest": self.digest, "size": self.size, **extra}


class PushClient:
    """Push blobs and manifests to one registry. Keep one per registry (see :func:`client_for`)."""

    def __init__(self, target: PushTarget, timeout: float = 30.0) -> None:
        self.target = target
        self.http = httpx.Client(base_url=target.url, auth=BearerChallengeAuth(target.credentials), timeout=timeout)
        self._known_blobs: set[tuple[str, str]] = set()

    def close(self) -> None:
        self.http.close()

    def push_blob(self, repository: str, data: bytes) -> str:
        """Upload ``data`` unless the repository has it; return its digest.

        Raises:
            PushError: the registry refused the upload.
        """
        digest = sha256_digest(data)
        if (repository, digest) in self._known_blobs or self.blob_exists(repository, digest):
            self._known_blobs.add((repository, digest))
            return digest
        started = self._checked("POST", f"/v2/{repository}/blobs/uploads/", expect=(202,))
        location = self.http.base_url.join(started.headers["location"])
        self._checked(
            "PUT",
            location.copy_merge_params({"digest": digest}),
            expect=(201,),
            content=data,
            headers={"Content-Type": "application/octet-stream"},
        )
        self._known_blobs.add((repository, digest))
        return digest

    def blob_exists(self, repository: str, digest: str) -> bool:
        return self.http.head(f"/v2/{repository}/blobs/{digest}").status_code == 200

    def push_manifest(self, repository: str, reference: str, raw: bytes, media_type: str) -> str:
        """PUT manifest bytes under a tag or digest with ``Content-Type: media_type``; return its digest.

        Raises:
            PushError: the registry refused it (the message holds the registry's error body).
        """
        response = self._checked(
            "PUT",
            f"/v2/{repository}/manifests/{reference}",
            expect=(201,),
            content=raw,
            headers={"Content-Type": media_type},
        )
        digest = sha256_digest(raw)
        returned = response.headers.get("docker-content-digest")
        if returned and returned != digest:
            raise PushError(f"registry stored {repository}:{reference} as {returned}, expected {digest}")
        return digest

    def get_manifest(self, repository: str, reference: str) -> tuple[bytes, str] | None:
        """The manifest bytes and Content-Type under a tag or digest, or None if it does not exist."""
        response = self.http.get(f"/v2/{repository}/manifests/{reference}", headers={"Accept": MANIFEST_ACCEPT})
        if response.status_code == 404:
            return None
        _raise_for(response, expect=(200,))
        return response.content, response.headers.get("content-type", "")

    def delete_manifest(self, repository: str, digest: str) -> None:
        """Delete a manifest by digest (the fixture registries have delete enabled)."""
        self._checked("DELETE", f"/v2/{repository}/manifests/{digest}", expect=(202,))

    def _checked(self, method: str, url: str | httpx.URL, expect: tuple[int, ...], **kwargs: Any) -> httpx.Response:
        response = self.http.request(method, url, **kwargs)
        _raise_for(response, expect)
        return response


def _raise_for(response: httpx.Response, expect: tuple[int, ...]) -> None:
    if response.status_code not in expect:
        request = response.request
        raise PushError(f"{request.method} {request.url} -> HTTP {response.status_code}: {response.text[:2000]}")


_CLIENTS: dict[tuple[str, tuple[str, str] | None], PushClient] = {}


def client_for(target: PushTarget) -> PushClient:
    """The shared client for a registry (connections and tokens are reused across pushes)."""
    key = (target.url, target.credentials)
    if key not in _CLIENTS:
        _CLIENTS[key] = PushClient(target)
    return _CLIENTS[key]


def close_clients() -> None:
    """Close every shared client (the session fixture calls this at the end)."""
    while _CLIENTS:
        _CLIENTS.popitem()[1].close()

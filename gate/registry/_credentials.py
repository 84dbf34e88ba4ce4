"""Registry credentials from docker ``config.json`` documents (and Kubernetes pull secrets).

Keys in ``auths`` are written many ways (``https://index.docker.io/v1/``, ``host``,
``host:port``, ``http://host:port/v2/``); they are normalised to the host[:port] a
:class:`~gate.registry.Reference` carries, with every Docker Hub spelling mapped to
``docker.io``. Credential helpers (``credsStore``/``credHelpers``) run programs, so they are used
only when the caller asks (the CLI, never the webhook); as in docker, a helper named for a registry
wins over its ``auths`` entry.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gate.errors import ConfigError
from gate.registry._helpers import helper_get
from gate.registry._reference import _HUB_ALIASES, DOCKER_HUB


@dataclass(frozen=True)
class Credential:
    """Username and password, or an identity (OAuth2 refresh) token, for one registry."""

    username: str = ""
    password: str = ""
    identity_token: str = ""

    def __repr__(self) -> str:  # never print secrets
        return f"Credential(username={self.username!r}, password=***, identity_token={'***' if self.identity_token else ''!r})"


def registry_key(key: str) -> str:
    """Normalise an ``auths`` key (URL or host) to the registry host[:port] it names."""
    host = key.strip()
    if "://" in host:
        host = host.split("://", 1)[1]
    host = host.split("/", 1)[0].lower()
    return DOCKER_HUB if host in _HUB_ALIASES else host


class CredentialStore:
    """Credentials by registry, built from one or more docker config JSON documents.

    The first document that names a registry wins, so pass the most specific source first
    (a workload's imagePullSecrets before the gate's own ``registries.docker_config``).
    """

    def __init__(self) -> None:
        self._by_registry: dict[str, Credential] = {}
        self._helpers: dict[str, str] = {}  # registry -> helper name (credHelpers)
        self._default_helper: str | None = None  # credsStore
        self._asked: dict[str, Credential | None] = {}  # what each helper answered, per registry

    @classmethod
    def from_docker_config(cls, *documents: bytes, source: str = "docker config") -> "CredentialStore":
        """Build a store from docker config JSON bytes (``.dockerconfigjson`` or legacy ``.dockercfg``).

        Raises:
            ConfigError: a document is not JSON or an entry is malformed (``source`` names it).
        """
        store = cls()
        for document in documents:
            store.add_docker_config(document, source=source)
        return store

    @classmethod
    def from_file(cls, path: Path, *, helpers: bool = False) -> "CredentialStore":
        """Read a docker ``config.json``; with ``helpers``, also its ``credsStore``/``credHelpers``.

        Raises:
            ConfigError: the file cannot be read or is malformed.
        """
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise ConfigError(f"registries.docker_config: cannot read {path}: {exc.strerror or exc}") from exc
        store = cls.from_docker_config(data, source=f"registries.docker_config ({path})")
        if helpers:
            store._add_helpers(data, f"registries.docker_config ({path})")
        return store

    def _add_helpers(self, document: bytes, source: str) -> None:
        parsed = json.loads(document)  # already checked to be a JSON object
        store, by_registry = parsed.get("credsStore"), parsed.get("credHelpers", {})
        if store not in (None, "") and not (isinstance(store, str) and _helper_name(store)):
            raise ConfigError(f"{source}: `credsStore` must name a helper (docker-credential-<name>)")
        if not isinstance(by_registry, dict) or not all(isinstance(v, str) and _helper_name(v) for v in by_registry.values()):
            raise ConfigError(f"{source}: `credHelpers` must map registries to helper names")
        self._default_helper = store or None
        self._helpers = {registry_key(key): name for key, name in by_registry.items()}

    def add_docker_config(self, document: bytes, *, source: str = "docker config") -> None:
        """Add the ``auths`` of one docker config document; registries already known keep theirs.

        Raises:
            ConfigError: the document is not JSON or an entry is malformed.
        """
        try:
            parsed = json.loads(document)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ConfigError(f"{source}: not valid JSON: {exc}") from exc
        if not isinstance(parsed, dict):
            raise ConfigError(f"{source}: must be a JSON object with an `auths` mapping")
        auths = parsed.get("auths", parsed if "auths" not in parsed and _looks_like_dockercfg(parsed) else {})
        if not isinstance(auths, dict):
            raise ConfigError(f"{source}: `auths` must be a mapping of registry to credentials")
        for key, entry in auths.items():
            credential = _credential(entry, f"{source}: auths[{key!r}]")
            if credential is not None:
                self._by_registry.setdefault(registry_key(key), credential)

    def lookup(self, registry: str) -> Credential | None:
        """The credential for a registry host[:port] (``docker.io`` for Docker Hub), if any.

        Raises:
            RegistryError: a credential helper named for the registry failed.
        """
        key = registry_key(registry)
        helper = self._helpers.get(key, self._default_helper)
        if helper is None:
            return self._by_registry.get(key)
        if key not in self._asked:
            answer = helper_get(helper, key)
            self._asked[key] = Credential(*answer) if answer else None
        return self._asked[key]

    def __len__(self) -> int:
        return len(self._by_registry)

    def chain(self, other: "CredentialStore") -> "CredentialStore":
        """A new store holding this store's entries, then ``other``'s for registries not named here."""
        merged = CredentialStore()
        merged._by_registry = {**other._by_registry, **self._by_registry}
        merged._helpers = {**other._helpers, **self._helpers}
        merged._default_helper = self._default_helper or other._default_helper
        merged._asked = other._asked  # one helper run per registry per process
        return merged


def _helper_name(name: str) -> bool:
    """A helper suffix docker would run: no path separators (it becomes a program name on PATH)."""
    return bool(name) and "/" not in name and "\\" not in name and not name.startswith(".")


def _looks_like_dockercfg(parsed: dict[str, Any]) -> bool:
    return bool(parsed) and all(isinstance(v, dict) and ("auth" in v or "username" in v) for v in parsed.values())


def _credential(entry: Any, where: str) -> Credential | None:
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: must be an object")
    username, password = _str(entry, "username", where), _str(entry, "password", where)
    encoded = _str(entry, "auth", where)
    if encoded:
        username, password = _decode_auth(encoded, where)
    token = _str(entry, "identitytoken", where)
    if not (username or password or token):
        return None
    return Credential(username, password, token)


def _decode_auth(encoded: str, where: str) -> tuple[str, str]:
    try:
        decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise ConfigError(f"{where}.auth: not base64 of `username:password`") from exc
    username, colon, password = decoded.partition(":")
    if not colon:
        raise ConfigError(f"{where}.auth: decodes to no `username:password` pair")
    return username, password


def _str(entry: dict[str, Any], name: str, where: str) -> str:
    value = entry.get(name, "")
    if not isinstance(value, str):
        raise ConfigError(f"{where}.{name}: must be a string")
    return value

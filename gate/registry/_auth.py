"""Registry authentication: anonymous, Basic, and the Bearer token challenge flow.

The first request to a registry goes out anonymously; its 401 challenge tells us the scheme,
which is remembered per registry (and shared by the authenticators of every credential set, since
it is the registry's, not the credentials') so later requests carry credentials up front. Bearer tokens
(Docker token spec; OAuth2 refresh-token grant when the docker config holds an
``identitytoken``) are cached per (registry, scope) until shortly before they expire.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from typing import TYPE_CHECKING

import httpx

from gate.errors import RegistryError
from gate.registry._credentials import Credential, CredentialStore
from gate.registry._errors import CREDENTIALS_HINT, details, status_error
from gate.registry._reference import Reference
from gate.registry._transport import Transport

if TYPE_CHECKING:
    from gate.registry._challenge import Challenge

_DEFAULT_TOKEN_SECONDS = 60  # Docker token spec: assume 60 s when expires_in is absent


class Authenticator:
    """Chooses the ``Authorization`` header for each request to a registry."""

    def __init__(self, transport: Transport, credentials: CredentialStore, schemes: dict[str, Challenge] | None = None):
        self._transport = transport
        self._credentials = credentials
        self.schemes: dict[str, Challenge] = {} if schemes is None else schemes  # api host -> its challenge
        self._tokens: dict[tuple[str, str], tuple[str, float]] = {}
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}

    async def headers(self, ref: Reference, scope: str) -> dict[str, str]:
        """The header to send up front, from what this registry asked for before (none at first)."""
        challenge = self.schemes.get(ref.api_host)
        if challenge is None:
            return {}
        if challenge.scheme == "basic":
            return self._basic(ref)
        return {"Authorization": f"Bearer {await self._token(ref, challenge, scope, scope)}"}

    async def answer(self, ref: Reference, www_authenticate: str, scope: str, sent: dict[str, str]) -> dict[str, str] | None:
        """Headers to retry with after a 401, or None when there is nothing new to try.

        Raises:
            RegistryError: the token server refused us or answered nonsense.
        """
        from gate.registry._challenge import parse_challenges  # only a registry that answers 401 needs the parser

        challenges = parse_challenges(www_authenticate)
        chosen = next((c for c in challenges if c.scheme == "bearer"), None) or next((c for c in challenges if c.scheme == "basic"), None)
        if chosen is None:
            return None
        self.schemes[ref.api_host] = chosen
        if chosen.scheme == "basic":
            retry = self._basic(ref)
        else:
            self._forget_refused(ref, scope, sent)
            asked = chosen.params.get("scope") or scope
            retry = {"Authorization": f"Bearer {await self._token(ref, chosen, scope, asked)}"}
        return retry if retry and retry != sent else None

    def _forget_refused(self, ref: Reference, scope: str, sent: dict[str, str]) -> None:
        """Drop the cached token when it is the one just refused; a request sent before it was
        fetched (anonymously, at first contact) says nothing about it."""
        cached = self._tokens.get((ref.api_host, scope))
        if cached is not None and sent.get("Authorization") == f"Bearer {cached[0]}":
            del self._tokens[(ref.api_host, scope)]

    def _basic(self, ref: Reference) -> dict[str, str]:
        credential = self._credentials.lookup(ref.registry)
        if credential is None or not credential.username:
            return {}
        pair = f"{credential.username}:{credential.password}".encode()
        return {"Authorization": f"Basic {base64.b64encode(pair).decode()}"}

    async def _token(self, ref: Reference, challenge: Challenge, scope: str, asked: str) -> str:
        """A token for ``asked`` (the challenge's scope, else ours), cached under our ``scope``."""
        key = (ref.api_host, scope)
        async with self._locks.setdefault(key, asyncio.Lock()):
            cached = self._tokens.get(key)
            if cached and cached[1] > time.monotonic():
                return cached[0]
            token, lifetime = await self._fetch_token(ref, challenge, asked)
            self._tokens[key] = (token, time.monotonic() + lifetime * 0.9)
            return token

    async def _fetch_token(self, ref: Reference, challenge: Challenge, scope: str) -> tuple[str, float]:
        realm = self._realm(ref, challenge)
        credential = self._credentials.lookup(ref.registry)
        service = challenge.params.get("service", "")
        if credential and credential.identity_token:
            form = {"grant_type": "refresh_token", "service": service, "scope": scope, "client_id": "gate", "refresh_token": credential.identity_token}
            response = await self._transport.send(ref, "POST", str(realm), {}, data=form)
        else:
            params = {"service": service, "scope": scope} | ({"account": credential.username} if credential and credential.username else {})
            headers = self._basic(ref) if credential else {}
            response = await self._transport.send(ref, "GET", str(realm.copy_merge_params(params)), headers)
        try:
            body = await self._transport.read_capped(ref, response, self._transport.limits.manifest_bytes, "token response")
        finally:
            await response.aclose()
        if response.status_code != 200:
            raise _token_refused(ref, realm, response.status_code, body, credential, self._transport.limits.retries)
        return _parse_token(ref, realm, body)

    def _realm(self, ref: Reference, challenge: Challenge) -> httpx.URL:
        try:
            realm = httpx.URL(challenge.params.get("realm", ""))
        except httpx.InvalidURL as exc:
            raise _bad_challenge(ref, f"its token realm is not a URL: {exc}") from exc
        if realm.scheme not in ("http", "https") or not realm.host:
            raise _bad_challenge(ref, f"its token realm {challenge.params.get('realm')!r} is not an absolute http(s) URL")
        plain_ok = {ref.api_host.lower(), realm.netloc.decode().lower()} & self._transport.insecure
        if realm.scheme == "http" and not plain_ok:
            raise _bad_challenge(ref, f"it sends us to a plain-HTTP token realm {realm}; credentials would travel in clear text")
        return realm


def _token_refused(ref: Reference, realm: httpx.URL, status: int, body: bytes, credential: Credential | None, retries: int) -> RegistryError:
    if status in (401, 403):
        who = f"as {credential.username!r}" if credential and credential.username else "anonymously"
        return RegistryError(
            f"authentication failed for registry {ref.registry}: token server {realm.copy_with(query=None)} refused {who} (HTTP {status}) for {ref}",
            remedy=f"{CREDENTIALS_HINT} for {ref.registry}",
            details=details(ref, status, realm=str(realm.copy_with(query=None))),
        )
    return status_error(ref, status, "a token", body, retries)


def _parse_token(ref: Reference, realm: httpx.URL, body: bytes) -> tuple[str, float]:
    try:
        document = json.loads(body)
        token = document.get("token") or document.get("access_token")
        lifetime = float(document.get("expires_in") or _DEFAULT_TOKEN_SECONDS)
    except (ValueError, AttributeError, TypeError) as exc:
        raise RegistryError(f"token server {realm.copy_with(query=None)} for {ref.registry} sent an unreadable answer", details=details(ref)) from exc
    if not isinstance(token, str) or not token:
        raise RegistryError(f"token server {realm.copy_with(query=None)} for {ref.registry} sent no token", details=details(ref))
    return token, max(lifetime, 1.0)


def _bad_challenge(ref: Reference, why: str) -> RegistryError:
    return RegistryError(
        f"registry {ref.registry} asked for Bearer authentication but {why}",
        remedy="check the registry's auth configuration",
        details=details(ref),
    )

"""The one seam to the network: an ``httpx.AsyncClient`` with timeouts, retries, redirects and caps.

Every response is opened as a stream so nothing is read before a cap applies. Retries cover
429/502/503/504 and connection-level failures with exponential backoff, honouring
``Retry-After`` (seconds or an HTTP date, capped at the request timeout). Redirects are followed
here rather than by httpx so that a hop to plain HTTP is refused unless that host is listed in
``registries.insecure``, and ``Authorization`` never goes to another host.
"""

from __future__ import annotations

import asyncio
import email.utils
import os
import random
import ssl
import sys
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

import httpcore
import httpx

from gate.config import Config
from gate.errors import LimitExceeded, RegistryError
from gate.registry._errors import details, transport_error
from gate.registry._reference import Reference
from gate.registry._slots import HostSlots, ReleasingBlockingStream, ReleasingStream

RETRY_STATUSES = frozenset({429, 502, 503, 504})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_MAX_REDIRECTS = 5
_BACKOFF_SECONDS = 0.1
_CHUNK = 1024 * 1024
_KEEPALIVE = 64
# httpcore reads an HTTP/1.1 body 64 KiB per call, and each call costs a cancel scope, an h11 event
# and a copy splitting the up-to-256 KiB pieces asyncio reads from the socket. Taking a whole piece
# per call streams a layer blob with ~20% less CPU and a third less wall time on loopback
# (bench/check_bench.py); headers and message sizes are bounded by h11, not by this.
httpcore.AsyncHTTP11Connection.READ_NUM_BYTES = 256 * 1024
# Layer blobs are read by blocking calls in the thread that scans them (see ``send_blocking``): one
# recv of up to 1 MiB per read, and 1 MiB chunks handed to the scanner, cut the CPU of fetching.
httpcore.HTTP11Connection.READ_NUM_BYTES = 1024 * 1024
# Exceptions httpx raises that are not HTTPError subclasses.
HTTPX_ERRORS = (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError, httpx.CookieConflict)


class Transport:
    """Sends requests for one :class:`RegistryClient`; counts them in ``request_count``."""

    def __init__(self, config: Config, ca_file: Path | None = None):
        self.limits = config.limits
        self.insecure = frozenset(host.lower() for host in config.registries.insecure)
        self.registries = config.registries
        self.request_count = 0
        self.status_counts: Counter[int | str] = Counter()
        self.slots = HostSlots(config.limits.connections_per_host, config.limits.timeout_seconds)
        self._counting = threading.Lock()  # blocking reads count from worker threads
        self._settings: dict[str, Any] = {
            "timeout": httpx.Timeout(config.limits.timeout_seconds),
            # No pool-wide cap: each host's share is bounded by ``slots`` instead, so a host that
            # never answers cannot hold every connection (see gate/registry/_slots.py).
            "limits": httpx.Limits(max_connections=None, max_keepalive_connections=_KEEPALIVE),
            "verify": _ssl_context(ca_file),
            "follow_redirects": False,
            "headers": {"User-Agent": "gate/0.1"},
        }
        self._client = httpx.AsyncClient(**self._settings, event_hooks={"request": [self._count], "response": [self._count_status]})
        self._blocking_client: httpx.Client | None = None
        self._opening = threading.Lock()

    async def _count(self, request: httpx.Request) -> None:
        self._tally(request)

    async def _count_status(self, response: httpx.Response) -> None:
        self._tally_status(response)

    def _tally(self, request: httpx.Request) -> None:
        with self._counting:
            self.request_count += 1

    def _tally_status(self, response: httpx.Response) -> None:
        with self._counting:
            self.status_counts[response.status_code] += 1

    def expected_absence(self, status: int) -> None:
        """Count a response already counted under ``status`` as ``"absent"`` instead: evidence
        discovery asks for tags and APIs that usually do not exist, and those 404s are no error."""
        with self._counting:
            self.status_counts[status] -= 1
            self.status_counts["absent"] += 1

    async def aclose(self) -> None:
        await self._client.aclose()
        if self._blocking_client is not None:
            self._blocking_client.close()

    @property
    def _blocking(self) -> httpx.Client:
        """The blocking twin of the async client (same settings and counters), opened on first use."""
        with self._opening:
            if self._blocking_client is None:
                self._blocking_client = httpx.Client(**self._settings, event_hooks={"request": [self._tally], "response": [self._tally_status]})
            return self._blocking_client

    def base_url(self, host: str) -> str:
        """``http://host`` for hosts in ``registries.insecure``, ``https://host`` otherwise."""
        return f"{'http' if host.lower() in self.insecure else 'https'}://{host}"

    async def send(
        self,
        ref: Reference,
        method: str,
        url: str,
        headers: Mapping[str, str],
        *,
        data: Mapping[str, str] | None = None,
        content: bytes | None = None,
        follow_redirects: bool = False,
    ) -> httpx.Response:
        """Send with retries; return the (unread, streaming) response. The caller closes it.

        ``data`` is a form body (token requests), ``content`` raw bytes (uploads).

        Raises:
            RegistryError: the connection failed, timed out, or a redirect was unsafe.
        """
        response = await self._send_retrying(ref, method, url, headers, data, content)
        hops = 0
        while follow_redirects and response.status_code in REDIRECT_STATUSES and "location" in response.headers:
            hops += 1
            await response.aclose()
            target, headers = self._next_hop(ref, url, response, hops, headers)
            response = await self._send_retrying(ref, "GET", target, headers, None, None)
        return response

    def send_blocking(self, ref: Reference, url: str, headers: Mapping[str, str], loop: asyncio.AbstractEventLoop) -> httpx.Response:
        """:meth:`send` of a GET, redirects followed, by blocking calls from a worker thread, so that
        a large body is read by the thread that consumes it. Host slots are taken on ``loop``,
        which runs the async requests; retries, redirect checks and counting are the same.

        Raises:
            RegistryError: the connection failed, timed out, or a redirect was unsafe.
        """
        response = self._blocking_retrying(ref, url, headers, loop)
        hops = 0
        while response.status_code in REDIRECT_STATUSES and "location" in response.headers:
            hops += 1
            response.close()
            target, headers = self._next_hop(ref, url, response, hops, headers)
            response = self._blocking_retrying(ref, target, headers, loop)
        return response

    def _next_hop(self, ref: Reference, url: str, response: httpx.Response, hops: int, headers: Mapping[str, str]) -> tuple[str, dict[str, str]]:
        """The redirect's target and the headers to send there; refuses an unsafe redirect."""
        with self.mapped(ref, response.request.url.netloc.decode()):
            target = response.request.url.join(response.headers["location"])
        self._check_redirect(ref, url, target, hops)
        return str(target), _strip_auth(headers, response.request.url, target)

    async def _send_retrying(
        self, ref: Reference, method: str, url: str, headers: Mapping[str, str], data: Mapping[str, str] | None, content: bytes | None
    ) -> httpx.Response:
        host = self._allowed_host(ref, url)
        for attempt in range(self.limits.retries + 1):
            try:
                with self.mapped(ref, host):
                    request = self._client.build_request(method, url, headers=headers, data=data, content=content)
                    response = await self._send_in_slot(host, request)
            except RegistryError as error:
                await asyncio.sleep(self._failed(error, attempt))
                continue
            delay = self._retry_delay(response, attempt)
            if delay is None:
                return response
            await response.aclose()
            await asyncio.sleep(delay)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _blocking_retrying(self, ref: Reference, url: str, headers: Mapping[str, str], loop: asyncio.AbstractEventLoop) -> httpx.Response:
        """:meth:`_send_retrying` of a GET by blocking calls (see :meth:`send_blocking`)."""
        host = self._allowed_host(ref, url)
        for attempt in range(self.limits.retries + 1):
            try:
                with self.mapped(ref, host):
                    response = self._blocking_in_slot(host, self._blocking.build_request("GET", url, headers=headers), loop)
            except RegistryError as error:
                time.sleep(self._failed(error, attempt))
                continue
            delay = self._retry_delay(response, attempt)
            if delay is None:
                return response
            response.close()
            time.sleep(delay)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _allowed_host(self, ref: Reference, url: str) -> str:
        """The host of ``url``; refuses one outside ``registries.allow``."""
        host = url.split("://", 1)[-1].split("/", 1)[0]
        if not self.registries.allows(host):
            raise RegistryError(
                f"host {host} is not in registries.allow; gate does not contact it (for {ref})",
                remedy="use an image from an allowed registry, or add the host to registries.allow",
                details=details(ref, host=host),
            )
        return host

    def _failed(self, error: RegistryError, attempt: int) -> float:
        """Count a request that got no response; re-raise unless another try may help, else the wait."""
        with self._counting:
            self.status_counts["error"] += 1
        if attempt == self.limits.retries or not _retryable(error.__cause__):
            raise error
        return self._backoff(attempt)

    def _retry_delay(self, response: httpx.Response, attempt: int) -> float | None:
        """Seconds to wait before trying again after ``response``, or None to return it."""
        if response.status_code not in RETRY_STATUSES or attempt == self.limits.retries:
            return None
        delay = _retry_after(response.headers.get("retry-after"), self.limits.timeout_seconds)
        return self._backoff(attempt) if delay is None else delay

    async def _send_in_slot(self, host: str, request: httpx.Request) -> httpx.Response:
        """Send holding one of ``host``'s connection slots until the response is closed."""
        try:
            release = await self.slots.acquire(host.lower())
        except TimeoutError as exc:
            raise httpx.PoolTimeout(f"all {self.slots.per_host} connection slots for the host are busy", request=request) from exc
        try:
            response = await self._client.send(request, stream=True)
        except BaseException:
            release()
            raise
        response.stream = ReleasingStream(response.stream, release)  # type: ignore[arg-type]
        return response

    def _blocking_in_slot(self, host: str, request: httpx.Request, loop: asyncio.AbstractEventLoop) -> httpx.Response:
        """:meth:`_send_in_slot` from a worker thread: the slot is taken and given back on ``loop``."""
        try:
            release = asyncio.run_coroutine_threadsafe(self.slots.acquire(host.lower()), loop).result()
        except TimeoutError as exc:
            raise httpx.PoolTimeout(f"all {self.slots.per_host} connection slots for the host are busy", request=request) from exc

        def give_back() -> None:
            loop.call_soon_threadsafe(release)

        try:
            response = self._blocking.send(request, stream=True)
        except BaseException:
            give_back()
            raise
        response.stream = ReleasingBlockingStream(response.stream, give_back)  # type: ignore[arg-type]
        return response

    def _backoff(self, attempt: int) -> float:
        return min(_BACKOFF_SECONDS * 2.0**attempt, self.limits.timeout_seconds) * random.uniform(0.5, 1.0)  # noqa: S311 - retry jitter, not a secret

    def _check_redirect(self, ref: Reference, url: str, target: httpx.URL, hops: int) -> None:
        if hops > _MAX_REDIRECTS:
            raise RegistryError(f"too many redirects fetching {url} for {ref}", remedy="check the registry's storage configuration", details=details(ref))
        if target.scheme != "https" and target.netloc.decode().lower() not in self.insecure:
            raise RegistryError(
                f"registry {ref.registry} redirected {ref} to plain-HTTP {target.copy_with(query=None)}; refusing",
                remedy="serve blobs over HTTPS, or list that host in registries.insecure",
                details=details(ref, location=str(target.copy_with(query=None))),
            )

    def mapped(self, ref: Reference, host: str) -> "_Mapped":
        """A context manager turning httpx exceptions into ``RegistryError`` for ``host``."""
        return _Mapped(ref, host, self.limits.timeout_seconds)

    async def read_capped(self, ref: Reference, response: httpx.Response, cap: int, what: str) -> bytes:
        """Read a whole (small) body, refusing it past ``cap`` bytes without reading further.

        Raises:
            LimitExceeded: the body is larger than ``cap``.
            RegistryError: the connection failed while reading.
        """
        return b"".join([chunk async for chunk in self.iter_capped(ref, response, cap, what)])

    async def iter_capped(self, ref: Reference, response: httpx.Response, cap: int, what: str) -> AsyncIterator[bytes]:
        """Yield body chunks, stopping with ``LimitExceeded`` as soon as more than ``cap`` bytes arrive."""
        _refuse_declared_over(ref, response, cap, what)
        size = 0
        with self.mapped(ref, response.request.url.netloc.decode()):
            async for chunk in response.aiter_bytes(_CHUNK):
                size += len(chunk)
                if size > cap:
                    raise too_large(ref, what, cap, size)
                yield chunk

    def iter_capped_blocking(self, ref: Reference, response: httpx.Response, cap: int, what: str) -> Iterator[bytes]:
        """:meth:`iter_capped` of a response from :meth:`send_blocking`."""
        _refuse_declared_over(ref, response, cap, what)
        size = 0
        with self.mapped(ref, response.request.url.netloc.decode()):
            for chunk in response.iter_bytes(_CHUNK):
                size += len(chunk)
                if size > cap:
                    raise too_large(ref, what, cap, size)
                yield chunk


class _Mapped:
    def __init__(self, ref: Reference, host: str, timeout: float):
        self.ref, self.host, self.timeout = ref, host, timeout

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type | None, exc: BaseException | None, tb: object) -> Literal[False]:
        if isinstance(exc, HTTPX_ERRORS):
            raise transport_error(self.ref, self.host, exc, self.timeout) from exc
        return False


def too_large(ref: Reference, what: str, cap: int, size: int) -> LimitExceeded:
    """The error for a body past its cap."""
    return LimitExceeded(
        f"{what} of {ref} is larger than the {cap}-byte limit (at least {size} bytes); refusing to read it",
        remedy="raise the matching limits.* setting if this size is expected",
        details=details(ref, limit=cap, size=size),
    )


def _refuse_declared_over(ref: Reference, response: httpx.Response, cap: int, what: str) -> None:
    """Refuse a body whose ``Content-Length`` is past ``cap`` before reading it."""
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > cap:
        raise too_large(ref, what, cap, int(declared))


def _retryable(cause: BaseException | None) -> bool:
    return isinstance(cause, httpx.TransportError) and not isinstance(cause, httpx.UnsupportedProtocol)


def _retry_after(value: str | None, cap: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date), capped."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), cap)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return min(max(when.timestamp() - time.time(), 0.0), cap)


def _strip_auth(headers: Mapping[str, str], source: httpx.URL, target: httpx.URL) -> dict[str, str]:
    if (source.scheme, source.netloc) == (target.scheme, target.netloc):
        return dict(headers)
    return {k: v for k, v in headers.items() if k.lower() != "authorization"}


class _SystemTrustOnFirstUse(ssl.SSLContext):
    """A client TLS context that reads the system trust store when its first connection starts.

    Reading the store parses every system CA certificate (tens of milliseconds with OpenSSL 3), which a
    run that only reaches plain-HTTP registries (``registries.insecure``) never needs. Verification is
    unchanged: nothing is wrapped, so no handshake happens, before the store is loaded.
    """

    _loaded = False
    _loading = threading.Lock()

    def wrap_bio(self, *args: Any, **kwargs: Any) -> ssl.SSLObject:
        self._load_system_trust()
        return super().wrap_bio(*args, **kwargs)

    def wrap_socket(self, *args: Any, **kwargs: Any) -> ssl.SSLSocket:
        self._load_system_trust()
        return super().wrap_socket(*args, **kwargs)

    def _load_system_trust(self) -> None:
        with self._loading:
            if not self._loaded:
                self.load_default_certs(ssl.Purpose.SERVER_AUTH)
                self._loaded = True


def _ssl_context(ca_file: Path | None) -> ssl.SSLContext:
    """The system trust store (read at the first TLS connection), plus ``ca_file`` when given (a
    private registry's CA, read now so that a bad file is refused at start-up).

    The settings are ``ssl.create_default_context()``'s: TLS client, hostname check, certificates required.
    """
    context = _SystemTrustOnFirstUse(ssl.PROTOCOL_TLS_CLIENT)
    context.verify_mode, context.check_hostname = ssl.CERT_REQUIRED, True
    if os.environ.get("SSLKEYLOGFILE") and not sys.flags.ignore_environment:
        context.keylog_filename = os.environ["SSLKEYLOGFILE"]
    if ca_file is not None:
        try:
            context.load_verify_locations(cafile=str(ca_file))
        except (OSError, ssl.SSLError) as exc:
            raise RegistryError(f"cannot load CA file {ca_file}: {exc}", remedy="point ca_file at a PEM bundle") from exc
    return context


"""LyingRegistryProxyDouble: a test double of a misbehaving registry, in front of the real one.

Debian's registry never lies, rate-limits, stalls or redirects to storage, so the client's
defences against those cannot be exercised against it alone. This threaded HTTP proxy on
127.0.0.1 forwards every request to the real registry and, when a test asks, answers in its
place (429/503 N times, a crafted body), tampers with what came back (corrupt a body, swap
``Docker-Content-Digest``), stalls, streams blobs slowly (a registry far away), or redirects blob downloads to another host name for itself
(``localhost`` instead of ``127.0.0.1``) so tests can see which headers crossed the hop. It can
also serve the OCI referrers API the real one lacks, and count the connections clients open.
"""

from __future__ import annotations

import json
import re
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import httpx

_HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-length", "host", "content-encoding"}
STORAGE_PREFIX = "/storage-double"
_PACED_WRITE = 64 * 1024
_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
_REFERRERS = re.compile(r"^/v2/(?P<repository>.+)/referrers/(?P<digest>[a-z0-9]+:[a-f0-9]+)(?:\?(?P<query>.*))?$")


@dataclass(frozen=True)
class Seen:
    """One request the double received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes = b""


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


Answer = Callable[[Seen], Reply | None]
Tamper = Callable[[Seen, Reply], Reply]


class LyingRegistryProxyDouble:
    """Forwards to ``upstream_url``; ``answers`` (first match replaces forwarding) and ``tampers``
    (applied in order to every reply) change the story.

    With ``tls`` (a server context, e.g. from trustme) it serves HTTPS.

    With ``keep_alive`` it speaks HTTP/1.1 and keeps connections open between requests, as a
    registry does (not combinable with ``omit_content_length``).

    Attributes:
        seen: every request received, in order.
        connections: TCP connections accepted so far.
        stall_seconds: wait this long before answering anything.
        omit_content_length: send bodies without ``Content-Length`` (the end is the connection close),
            so a size cap must be enforced while reading rather than from the header.
        storage_authorization: the ``Authorization`` the "storage" host uses upstream itself (as a
            presigned URL would), since the client must not send its own there.
        blob_bytes_per_second: when set, blob bodies are sent at this pace (in 64 KiB writes).
    """

    def __init__(self, upstream_url: str, tls: ssl.SSLContext | None = None, *, keep_alive: bool = False) -> None:
        self.seen: list[Seen] = []
        self.keep_alive = keep_alive
        self.connections = 0
        self._connections_lock = threading.Lock()
        self.answers: list[Answer] = []
        self.tampers: list[Tamper] = []
        self.stall_seconds = 0.0
        self.omit_content_length = False
        self.storage_authorization: str | None = None
        self.blob_bytes_per_second: float | None = None
        self._upstream = httpx.Client(base_url=upstream_url, timeout=30.0)
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        if tls is not None:
            self._httpd.socket = tls.wrap_socket(self._httpd.socket, server_side=True)
        self.scheme = "https" if tls is not None else "http"
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), name="lying-registry-proxy-double", daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def alias_host(self) -> str:
        """The same server under another host name (a "storage" host for redirect tests)."""
        return f"localhost:{self.port}"

    def stop(self) -> None:
        """Stop serving and close the socket; safe to call twice."""
        if self._thread.is_alive():
            self._httpd.shutdown()
            self._thread.join(timeout=5)
        self._httpd.server_close()
        self._upstream.close()

    # --- scripted misbehaviour ------------------------------------------------------------

    def fail(self, times: int, status: int, headers: dict[str, str] | None = None, path_contains: str = "/v2/") -> None:
        """Answer ``status`` to the next ``times`` requests whose path contains ``path_contains``."""
        left = [times]

        def answer(seen: Seen) -> Reply | None:
            if path_contains in seen.path and left[0] > 0:
                left[0] -= 1
                return Reply(status, dict(headers or {}), b'{"errors":[{"code":"TOOMANYREQUESTS"}]}' if status == 429 else b"")
            return None

        self.answers.append(answer)

    def serve(self, path_contains: str, reply: Reply, method: str | None = None) -> None:
        """Answer ``reply`` to every request whose path contains ``path_contains``."""
        self.answers.append(lambda seen: reply if path_contains in seen.path and method in (None, seen.method) else None)

    def corrupt_body(self, path_contains: str) -> None:
        """Flip the last byte of bodies from matching paths (headers, digest header included, kept)."""

        def tamper(seen: Seen, reply: Reply) -> Reply:
            if path_contains not in seen.path or not reply.body:
                return reply
            return replace(reply, body=reply.body[:-1] + bytes([reply.body[-1] ^ 0x01]))

        self.tampers.append(tamper)

    def set_header(self, path_contains: str, name: str, value: str | None) -> None:
        """Set (or with None remove) a response header on matching paths."""

        def tamper(seen: Seen, reply: Reply) -> Reply:
            if path_contains not in seen.path:
                return reply
            headers = {k: v for k, v in reply.headers.items() if k.lower() != name.lower()}
            if value is not None:
                headers[name] = value
            return replace(reply, headers=headers)

        self.tampers.append(tamper)

    def redirect_blobs(self) -> None:
        """Answer blob GETs with a 307 to ``alias_host``, which then serves the real blob."""

        def answer(seen: Seen) -> Reply | None:
            if seen.method == "GET" and "/blobs/" in seen.path and not seen.path.startswith(STORAGE_PREFIX):
                return Reply(307, {"Location": f"http://{self.alias_host}{STORAGE_PREFIX}{seen.path}?signature=double"})
            return None

        self.answers.append(answer)

    def serve_referrers_api(self) -> None:
        """Answer the OCI 1.1 referrers API as a distribution-spec 1.1 registry would, which
        Debian's registry 2.8 cannot: ``GET /v2/<name>/referrers/<digest>`` lists what the
        subject's ``<alg>-<hex>`` tag-schema index upstream lists (an empty index when there is
        none), filtered by ``artifactType`` when asked."""

        def answer(seen: Seen) -> Reply | None:
            match = _REFERRERS.match(seen.path)
            if seen.method != "GET" or match is None:
                return None
            repository, digest, query = match["repository"], match["digest"], match["query"] or ""
            tagged = self._upstream.get(f"/v2/{repository}/manifests/{digest.replace(':', '-')}", headers={"Accept": _OCI_INDEX})
            listed = tagged.json().get("manifests", []) if tagged.status_code == 200 else []
            wanted = parse_qs(query).get("artifactType")
            if wanted:
                listed = [entry for entry in listed if entry.get("artifactType") in wanted]
            body = json.dumps({"schemaVersion": 2, "mediaType": _OCI_INDEX, "manifests": listed}).encode()
            return Reply(200, {"Content-Type": _OCI_INDEX}, body)

        self.answers.append(answer)

    # --- plumbing ------------------------------------------------------------------------

    def handle(self, seen: Seen, body: bytes) -> Reply:
        self.seen.append(seen)
        if self.stall_seconds:
            time.sleep(self.stall_seconds)
        reply = next((r for r in (answer(seen) for answer in self.answers) if r is not None), None)
        if reply is None:
            reply = self._forward(seen, body)
        for tamper in self.tampers:
            reply = tamper(seen, reply)
        return reply

    def _forward(self, seen: Seen, body: bytes) -> Reply:
        path = seen.path.removeprefix(STORAGE_PREFIX).split("?signature=")[0]
        headers = {k: v for k, v in seen.headers.items() if k.lower() not in _HOP_HEADERS}
        headers["Accept-Encoding"] = "identity"
        if seen.path.startswith(STORAGE_PREFIX) and self.storage_authorization:
            headers["Authorization"] = self.storage_authorization
        response = self._upstream.request(seen.method, path, headers=headers, content=body or None)
        kept = {k: v for k, v in response.headers.items() if k.lower() not in _HOP_HEADERS}
        if seen.method == "HEAD" and "content-length" in response.headers:
            kept["Content-Length"] = response.headers["content-length"]  # HEAD: the length GET would have
        return Reply(response.status_code, kept, response.content)


def _handler_for(proxy: LyingRegistryProxyDouble) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1" if proxy.keep_alive else "HTTP/1.0"

        def setup(self) -> None:
            with proxy._connections_lock:
                proxy.connections += 1
            super().setup()

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            seen = Seen(self.command, self.path, dict(self.headers.items()), body)
            reply = proxy.handle(seen, body)
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                if name.lower() != "content-length":
                    self.send_header(name, value)
            length = reply.headers.get("Content-Length", str(len(reply.body))) if self.command == "HEAD" else str(len(reply.body))
            if not proxy.omit_content_length:
                self.send_header("Content-Length", length)
            self.end_headers()
            if self.command != "HEAD":
                self._write(reply.body, proxy.blob_bytes_per_second if "/blobs/" in self.path else None)

        def _write(self, body: bytes, pace: float | None) -> None:
            if pace is None:
                self.wfile.write(body)
                return
            for start in range(0, len(body), _PACED_WRITE):
                self.wfile.write(body[start : start + _PACED_WRITE])
                self.wfile.flush()
                time.sleep(_PACED_WRITE / pace)

        do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _serve  # noqa: N815 (http.server's naming)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (signature is http.server's)
            return

    return Handler

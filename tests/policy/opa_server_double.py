"""OpaServerDouble: a test double of an OPA server, because no OPA binary can be installed here.

It speaks the slice of OPA's REST API that gate uses — ``PUT/GET/DELETE /v1/policies/{id}``,
``PUT /v1/data/{path}``, ``POST /v1/data/{path}`` with ``{"input": …}`` answering
``{"result": …}`` (no ``result`` key when undefined), ``GET /health`` — and evaluates with regopy
behind it. It is not OPA: Rego that only real OPA accepts or rejects is not caught here.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from gate.errors import PolicyError
from gate.policy._embedded import EmbeddedBackend
from gate.policy._sources import Module


class OpaServerDouble:
    """Serve on 127.0.0.1 (free port) in a thread; use as a context manager so it always stops."""

    def __init__(self) -> None:
        self.policies: dict[str, str] = {}
        self.data: dict[str, Any] = {}
        self.requests: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._engines: dict[str, EmbeddedBackend] = {}
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> "OpaServerDouble":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def put_policy(self, policy_id: str, source: str) -> None:
        """Compile with the candidate module set first, like OPA (raises PolicyError)."""
        with self._lock:
            candidate = {**self.policies, policy_id: source}
            EmbeddedBackend(_modules(candidate), {}, query="x := true")
            self.policies = candidate
            self._engines.clear()

    def delete_policy(self, policy_id: str) -> bool:
        with self._lock:
            self._engines.clear()
            return self.policies.pop(policy_id, None) is not None

    def put_data(self, path: list[str], value: Any) -> None:
        with self._lock:
            node = self.data
            for key in path[:-1]:
                node = node.setdefault(key, {})
            node[path[-1]] = value
            self._engines.clear()

    def decide(self, path: list[str], input_doc: Any) -> Any:
        """Evaluate ``data.<path>``; one compiled engine per path, rebuilt after any change."""
        query = "x := data." + ".".join(path)
        with self._lock:
            if query not in self._engines:
                self._engines[query] = EmbeddedBackend(_modules(self.policies), self.data, query=query)
            engine = self._engines[query]
        return engine.evaluate(input_doc)


def _modules(policies: dict[str, str]) -> tuple[Module, ...]:
    return tuple(Module(policy_id, source) for policy_id, source in sorted(policies.items()))


def _handler(double: OpaServerDouble) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as OPA does
        disable_nagle_algorithm = True  # headers and body are separate writes

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
            """Quiet: tests read ``double.requests`` instead."""

        def _reply(self, status: int, body: Any = None) -> None:
            payload = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length", "0")))

        def _route(self) -> tuple[str, list[str]]:
            double.requests.append((self.command, self.path))
            parts = [p for p in self.path.split("?", 1)[0].split("/") if p]
            return ("/".join(parts[:2]), parts[2:])

        def do_GET(self) -> None:  # noqa: N802 - stdlib naming
            api, rest = self._route()
            if api == "health":
                self._reply(200, {})
            elif api == "v1/policies" and not rest:
                self._reply(200, {"result": [{"id": pid, "raw": src} for pid, src in double.policies.items()]})
            else:
                self._reply(404, {"code": "resource_not_found", "message": "not found"})

        def do_PUT(self) -> None:  # noqa: N802
            api, rest = self._route()
            body = self._body()
            try:
                if api == "v1/policies" and rest:
                    double.put_policy("/".join(rest), body.decode())
                    self._reply(200, {})
                elif api == "v1/data" and rest:
                    double.put_data(rest, json.loads(body))
                    self._reply(204)
                else:
                    self._reply(404, {"code": "resource_not_found", "message": "not found"})
            except PolicyError as exc:
                self._reply(400, {"code": "invalid_parameter", "message": exc.message, "errors": [{"message": exc.message}]})

        def do_DELETE(self) -> None:  # noqa: N802
            api, rest = self._route()
            if api == "v1/policies" and double.delete_policy("/".join(rest)):
                self._reply(200, {})
            else:
                self._reply(404, {"code": "resource_not_found", "message": "policy not found"})

        def do_POST(self) -> None:  # noqa: N802
            api, rest = self._route()
            if api != "v1/data" or not rest:
                self._reply(404, {"code": "resource_not_found", "message": "not found"})
                return
            try:
                result = double.decide(rest, json.loads(self._body() or b"{}").get("input"))
            except PolicyError as exc:
                self._reply(500, {"code": "internal_error", "message": exc.message})
                return
            self._reply(200, {} if result is None else {"result": result})

    return Handler

"""What the test doubles of the Kubernetes API share: JSON replies and Kubernetes ``Status`` bodies."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler
from typing import Any


class JsonHandler(BaseHTTPRequestHandler):
    """A quiet request handler that answers with JSON documents."""

    def send_json(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (http.server's signature)
        pass


def kubernetes_status(code: int, reason: str) -> dict[str, Any]:
    """The ``Status`` object the Kubernetes API answers failures with."""
    return {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": reason, "code": code}

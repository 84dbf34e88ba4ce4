"""Run the real webhook (uvicorn, uvloop, httptools, TLS) in a thread on 127.0.0.1 for tests."""

from __future__ import annotations

import ssl
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import trustme
import uvicorn
from fastapi import FastAPI

from gate.admission._app import GateState
from gate.admission._server import build_server
from gate.admission._tls import ReloadingTLS
from gate.config import Config


@dataclass
class WebhookServer:
    """A running webhook; ``client`` trusts the test CA and keeps connections alive."""

    app: FastAPI
    server: uvicorn.Server
    thread: threading.Thread
    url: str
    client: httpx.Client
    tls: ReloadingTLS | None

    @property
    def state(self) -> GateState:
        return self.app.state.gate

    def review(self, review: object) -> httpx.Response:
        return self.client.post("/validate", json=review)

    def stop(self) -> None:
        self.client.close()
        self.server.should_exit = True
        self.thread.join(timeout=30)


def write_cert(ca: trustme.CA, directory: Path) -> tuple[Path, Path]:
    """A fresh leaf for 127.0.0.1/localhost; returns (cert chain path, key path)."""
    leaf = ca.issue_cert("127.0.0.1", "localhost")
    cert, key = directory / "tls.crt", directory / "tls.key"
    leaf.private_key_pem.write_to_path(str(key))
    for index, blob in enumerate(leaf.cert_chain_pems):
        blob.write_to_path(str(cert), append=index > 0)
    return cert, key


def client_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


def start_webhook(app: FastAPI, config: Config, ca: trustme.CA | None, cert_dir: Path | None, *, port: int = 0) -> WebhookServer:
    """Serve ``app`` on ``port`` (default: a free one; TLS when ``ca`` is given) and wait until it answers."""
    tls = ReloadingTLS(*write_cert(ca, cert_dir), check_seconds=0.0) if ca is not None and cert_dir else None
    server = build_server(app, config, "127.0.0.1", port, tls)
    thread = threading.Thread(target=server.run, name="gate-webhook", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the webhook did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    scheme = "https" if tls else "http"
    client = httpx.Client(base_url=f"{scheme}://127.0.0.1:{port}", verify=client_context(ca) if tls and ca else False, timeout=30)
    return WebhookServer(app, server, thread, f"{scheme}://127.0.0.1:{port}", client, tls)

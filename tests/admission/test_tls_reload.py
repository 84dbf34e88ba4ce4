"""Certificate rotation (as cert-manager does it) under load: new handshakes get the new
certificate, open keep-alive connections carry on, and no request fails."""

from __future__ import annotations

import os
import socket
import ssl
import threading
from pathlib import Path

import httpx
import pytest
import trustme

from gate.admission import create_app
from gate.admission._tls import ReloadingTLS
from gate.errors import ConfigError
from tests.admission.webhook_server import client_context, start_webhook, write_cert
from tests.support.gate_config import config_for


def served_certificate(port: int, ca: trustme.CA) -> bytes:
    with socket.create_connection(("127.0.0.1", port)) as raw:
        with client_context(ca).wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            return tls.getpeercert(binary_form=True) or b""


def leaf_der(cert_path: Path) -> bytes:
    return ssl.PEM_cert_to_DER_cert(cert_path.read_text().split("-----END CERTIFICATE-----")[0] + "-----END CERTIFICATE-----\n")


def rotate(ca: trustme.CA, directory: Path) -> None:
    """Write a new pair next to the old one and move it in (key first: a mismatched moment on purpose)."""
    staging = directory / "staging"
    staging.mkdir(exist_ok=True)
    cert, key = write_cert(ca, staging)
    os.replace(key, directory / "tls.key")
    os.replace(cert, directory / "tls.crt")


def test_rotation_under_load_drops_nothing(ca: trustme.CA, tmp_path: Path) -> None:
    config = config_for()
    server = start_webhook(create_app(config), config, ca, tmp_path)
    port = int(server.url.rsplit(":", 1)[1])
    failures: list[str] = []
    done = threading.Event()
    counts = {"keepalive": 0, "fresh": 0}

    def keepalive() -> None:
        with httpx.Client(base_url=server.url, verify=client_context(ca)) as client:
            while not done.is_set():
                response = client.get("/healthz")
                if response.status_code != 200:
                    failures.append(f"keep-alive: {response.status_code}")
                counts["keepalive"] += 1

    def fresh() -> None:
        while not done.is_set():
            try:
                served_certificate(port, ca)
                counts["fresh"] += 1
            except (OSError, ssl.SSLError) as exc:
                failures.append(f"handshake: {exc!r}")

    workers = [threading.Thread(target=keepalive), threading.Thread(target=fresh)]
    try:
        for worker in workers:
            worker.start()
        for _ in range(3):
            before = served_certificate(port, ca)
            rotate(ca, tmp_path)
            after = served_certificate(port, ca)
            assert after != before and after == leaf_der(tmp_path / "tls.crt")
    finally:
        done.set()
        for worker in workers:
            worker.join()
        server.stop()
    assert failures == []
    assert counts["keepalive"] > 0 and counts["fresh"] > 0
    assert server.tls is not None and server.tls.reloads >= 3


def test_a_broken_pair_keeps_the_previous_certificate(ca: trustme.CA, tmp_path: Path) -> None:
    cert, key = write_cert(ca, tmp_path)
    tls = ReloadingTLS(cert, key, check_seconds=0.0)
    key.write_text("not a key")
    assert tls.maybe_reload() is False and tls.reloads == 0


def test_unreadable_files_fail_at_start(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot"):
        ReloadingTLS(tmp_path / "missing.crt", tmp_path / "missing.key")

"""A server TLS context whose certificate and key follow the files on disk (cert-manager rotation).

Every new connection runs the SNI callback (OpenSSL calls it with or without SNI); at most once
per ``check_seconds`` it compares the files' (mtime, size, inode) and, when they changed, builds a
fresh context from them. The handshake in progress and every later one use the newest context
that loaded; open connections keep theirs, so nothing is dropped. A half-written pair (new
certificate, old key) fails to load and the previous context stays in use until the next check.
"""

from __future__ import annotations

import logging
import os
import ssl
import time
from pathlib import Path

from gate.errors import ConfigError

log = logging.getLogger("gate.admission")


class ReloadingTLS:
    """Owns the listening ``context`` and swaps in a new certificate when the files change.

    Raises:
        ConfigError: the initial certificate or key cannot be loaded (at construction).
    """

    def __init__(self, cert: str | Path, key: str | Path, *, check_seconds: float = 1.0) -> None:
        self.cert, self.key = Path(cert), Path(key)
        self.check_seconds = check_seconds
        self.reloads = 0
        self._stamp = self._files_stamp()
        self._current = self._load()
        self._checked = time.monotonic()
        self.context = self._load()
        self.context.sni_callback = self._on_hello

    def _on_hello(self, connection: ssl.SSLObject, server_name: str | None, context: ssl.SSLContext) -> None:
        self.maybe_reload()
        connection.context = self._current

    def maybe_reload(self, *, force: bool = False) -> bool:
        """Load the files again if they changed since the last load; True when a new context is in use."""
        now = time.monotonic()
        if not force and now - self._checked < self.check_seconds:
            return False
        self._checked = now
        try:
            stamp = self._files_stamp()
            if stamp == self._stamp and not force:
                return False
            context = self._load()
        except ConfigError as exc:
            log.warning("keeping the previous TLS certificate: %s", exc)
            return False
        self._stamp, self._current = stamp, context
        self.reloads += 1
        log.info("loaded a new TLS certificate", extra={"cert": str(self.cert)})
        return True

    def _files_stamp(self) -> tuple[tuple[int, int, int], ...]:
        try:
            return tuple((s.st_mtime_ns, s.st_size, s.st_ino) for s in (os.stat(self.cert), os.stat(self.key)))
        except OSError as exc:
            raise ConfigError(f"cannot stat TLS certificate or key: {exc}") from exc

    def _load(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        try:
            context.load_cert_chain(self.cert, self.key)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(
                f"cannot load TLS certificate {self.cert} with key {self.key}: {exc}",
                remedy="point --tls-cert/--tls-key at a PEM certificate chain and its private key",
            ) from exc
        return context

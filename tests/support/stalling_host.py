"""A registry host that accepts connections and never answers, or drips bytes forever.

A real TCP server on 127.0.0.1 (not a registry): every connection is accepted, its request is
read and then nothing comes back (``drip_seconds=None``), or one byte of an endless HTTP
response is sent every ``drip_seconds`` so no read ever times out. It stands for a hostile or
broken registry in admission-starvation and deadline tests; ``accepted`` counts connections.
"""

from __future__ import annotations

import socket
import threading


class StallingHostDouble:
    """Serve on a free loopback port until :meth:`stop`; ``host`` is ``127.0.0.1:<port>``."""

    def __init__(self, drip_seconds: float | None = None) -> None:
        self.drip_seconds = drip_seconds
        self.accepted = 0
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=1024)
        self._listener.settimeout(0.2)
        self._held: list[socket.socket] = []
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="stalling-host", daemon=True)
        self._thread.start()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self._listener.getsockname()[1]}"

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                connection, _ = self._listener.accept()
            except (TimeoutError, OSError):
                continue
            self.accepted += 1
            self._held.append(connection)
            if self.drip_seconds is not None:
                threading.Thread(target=self._drip, args=(connection,), daemon=True).start()

    def _drip(self, connection: socket.socket) -> None:
        """Send a valid chunked response head, then a one-byte chunk per ``drip_seconds``, for ever."""
        try:
            connection.recv(65536)
            connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
            while not self._stopping.wait(self.drip_seconds or 0.0):
                connection.sendall(b"1\r\n \r\n")
        except OSError:
            return

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)
        self._listener.close()
        for connection in self._held:
            connection.close()

    def __enter__(self) -> "StallingHostDouble":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

"""Run Debian's ``redis-server`` on a free 127.0.0.1 port for tests, with nothing persisted.

Like the registry fixture, the server is a real child process that dies with pytest
(``PR_SET_PDEATHSIG``). ``--save "" --appendonly no`` keeps it in memory, so a restart starts
empty, as a cache may. ``kill()`` and ``start()`` stop and restart it on the same port, for tests of
a cache that disappears and comes back mid-run.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis

from tests.support.registry_server import ServerStartError, die_with_parent, free_port, stop_process

REDIS_BINARY = "/usr/bin/redis-server"
START_TIMEOUT_SECONDS = 20.0


@dataclass
class RedisServer:
    """A redis-server on ``127.0.0.1:port``; ``url`` for ``cache.url``, ``client()`` to look inside."""

    port: int
    workdir: Path
    password: str | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, password=self.password, socket_timeout=5)

    def start(self) -> None:
        """Start (or restart) the server on its port and wait until it answers PING.

        Raises:
            ServerStartError: it exited or did not answer in time (the message holds its log).
        """
        if shutil.which(REDIS_BINARY) is None:
            raise ServerStartError(f"{REDIS_BINARY} is missing; run `make system-deps`")
        log_path = self.workdir / "redis.log"
        command = [REDIS_BINARY, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no",
                   "--dir", str(self.workdir), "--logfile", str(log_path)]
        if self.password:
            command += ["--requirepass", self.password]
        self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                                        preexec_fn=die_with_parent)
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                with self.client() as probe:
                    if probe.ping():
                        return
            except redis.RedisError:
                time.sleep(0.05)
        log = log_path.read_text(errors="replace") if log_path.exists() else ""
        self.kill()
        raise ServerStartError(f"redis-server on port {self.port} did not start; log:\n{log}")

    def kill(self) -> None:
        """Stop the server at once (SIGKILL: no goodbye to connected clients); safe to call twice."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)


def start_redis(workdir: Path, password: str | None = None) -> RedisServer:
    """A started redis-server on a free loopback port, storing nothing on disk."""
    workdir.mkdir(parents=True, exist_ok=True)
    server = RedisServer(free_port(), workdir, password)
    server.start()
    return server

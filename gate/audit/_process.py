"""Run the background audit in a child process at a lower CPU priority, so admission keeps the CPU.

Inside one Python process the audit would share the webhook's event loop and GIL: its ~50
registry round trips, layer scans and Rego runs per image queue in front of admission reviews
(bench/audit_bench.py measured p50 x1.8-3 at 2-20 images/s that way). The child runs under
Linux's ``SCHED_IDLE`` policy (``nice`` +19 where that is refused): the kernel gives it a core
only when nothing else of the container wants one and preempts it as soon as the webhook wakes,
so the audit takes what admission leaves (with nice +10 alone the p99 still rose ~1.6x). The child has its own engine and caches (with ``cache.url`` they share
Redis) and its own Kubernetes client; it sends each completed audit's counts back over a pipe,
and the parent exports them as metrics. A child that dies is restarted after a pause.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import logging.config
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from gate.audit._background import Auditor, Counts, Record
from gate.config import Config

log = logging.getLogger("gate.audit")
NICENESS = 19
RESTART_SECONDS = 10.0
STOP_SECONDS = 15.0
_PR_SET_PDEATHSIG = 1


class AuditProcess:
    """Starts, supervises and stops the audit child; ``start(record)`` forwards its results."""

    def __init__(self, config: Config, kubeconfig: Path | None = None) -> None:
        self.config = config
        self.kubeconfig = kubeconfig
        self._context = multiprocessing.get_context("spawn")  # never fork a process running threads
        self._process: Any = None
        self._stopping = threading.Event()
        self._supervisor: threading.Thread | None = None

    def start(self, record: Record) -> None:
        self._stopping.clear()
        self._supervisor = threading.Thread(target=self._supervise, args=(record,), name="gate-audit-supervisor", daemon=True)
        self._supervisor.start()

    def stop(self) -> None:
        """SIGTERM the child (it releases its Lease) and wait; blocking."""
        self._stopping.set()
        process = self._process
        if process is not None and process.is_alive():
            process.terminate()
            process.join(STOP_SECONDS)
            if process.is_alive():
                process.kill()
        if self._supervisor is not None:
            self._supervisor.join(STOP_SECONDS)

    def _supervise(self, record: Record) -> None:
        while not self._stopping.is_set():
            receiver, sender = self._context.Pipe(duplex=False)
            self._process = self._context.Process(
                target=child_main, args=(self.config, sender, self.kubeconfig), name="gate-audit", daemon=True
            )
            self._process.start()
            sender.close()
            _forward(receiver, record)
            self._process.join()
            if self._stopping.is_set():
                return
            log.error("the audit process exited with code %s; restarting it in %.0f s", self._process.exitcode, RESTART_SECONDS)
            self._stopping.wait(RESTART_SECONDS)


def _forward(receiver: Connection, record: Record) -> None:
    """Pass each audit's counts to ``record`` until the child closes the pipe."""
    while True:
        try:
            counts, finished = receiver.recv()
        except (EOFError, OSError):
            return
        record(counts, finished)


def child_main(config: Config, sender: Connection, kubeconfig: Path | None) -> None:
    """The child: lower priority, JSON logs like the server's, audit until SIGTERM."""
    from gate.admission._logging import log_config

    _die_with_parent()
    _lowest_priority()
    logging.config.dictConfig(log_config())
    asyncio.run(_audit_until_terminated(config, lambda counts, finished: sender.send((counts, finished)), kubeconfig))


def _die_with_parent() -> None:
    """Ask Linux to SIGTERM this child if the webhook process dies without stopping it (SIGKILL)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        log.info("audit process: cannot ask to be stopped with its parent (not Linux glibc)")


def _lowest_priority() -> None:
    """SCHED_IDLE (needs no privilege to lower one's own priority), else the highest niceness."""
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError) as exc:
        log.info("audit process: SCHED_IDLE refused (%s); using nice %d", exc, NICENESS)
        os.nice(NICENESS)


async def _audit_until_terminated(config: Config, record: Callable[[Counts, float], None], kubeconfig: Path | None) -> None:
    from gate.admission._metrics import Metrics
    from gate.admission._pull_secrets import PullSecretReader
    from gate.admission._reviewer import Reviewer
    from gate.audit._cluster import Cluster, api_client
    from gate.engine import Engine

    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):  # Ctrl-C reaches the whole process group
        asyncio.get_running_loop().add_signal_handler(signum, stop.set)
    client = api_client(kubeconfig)
    async with Engine(config) as engine:
        auditor = Auditor(Reviewer(config, engine, Metrics(dict), PullSecretReader(client)), Cluster(client), record)
        auditor.start()
        await stop.wait()
        await auditor.stop()
    client.close()

"""Scan an image's large layers in worker processes (``gate.scan._worker``), one per core.

In threads, every layer's per-tar-member Python work takes turns at the one GIL, so an image's
layers never fill two cores. A worker process scans with its own interpreter; this process only
fetches, hashes and pipes the compressed bytes (system calls that release the GIL), and counts the
worker's answer only once the caller has checked the blob's digest and size, as for a thread.

Used only where it pays (``process_layers``): more than one core and at least two layers of
``PROCESS_MIN_BYTES`` compressed; to start workers, those layers must add up to
``START_MIN_BYTES``, which takes longer to scan than a worker takes to start, so a small image
never starts a process. Workers start on first use, at most one per core, stay for the next image
and end with this process (their stdin closes). When every worker is busy, or one cannot start,
the layer is scanned in a thread as before.
"""

from __future__ import annotations

import atexit
import json
import os
import select
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from gate.config import Limits
from gate.errors import EvidenceError, GateError, LimitExceeded
from gate.scan._cores import usable_cores
from gate.scan._layer_scan import ImageBudget, LayerScan
from gate.scan._frames import CHUNK, END, ERROR, JOB, RESULT, read_frame, write_frame

MiB = 1024 * 1024
PROCESS_MIN_BYTES = 8 * MiB  # compressed: a layer worth its pipe and job to a running worker
START_MIN_BYTES = 96 * MiB  # compressed, over such layers: enough scanning to repay starting workers (~0.4 s each)
_PIPE_BYTES = 1024 * 1024  # a larger pipe: fewer wake-ups of the worker per MiB sent
_ERRORS: dict[str, type[GateError]] = {"EvidenceError": EvidenceError, "LimitExceeded": LimitExceeded}


def worker_limit(configured: int | None, cores: int) -> int:
    """How many worker processes may run on ``cores`` usable cores: ``scan.worker_processes`` (0: none), by default one per core."""
    return cores if configured is None else min(configured, cores)


def process_layers(sizes: Sequence[int], most: int) -> frozenset[int]:
    """Indexes of the layers (by compressed size) worth a worker process: two or more of at least
    ``PROCESS_MIN_BYTES``, adding up to ``START_MIN_BYTES`` unless workers are already running.
    Empty for a small image, and when fewer than two workers (``most``) may run."""
    large = frozenset(index for index, size in enumerate(sizes) if size >= PROCESS_MIN_BYTES)
    if len(large) < 2 or most < 2:
        return frozenset()
    return large if _POOL.running() or sum(sizes[index] for index in large) >= START_MIN_BYTES else frozenset()


class _Worker:
    """One ``gate.scan._worker`` process and its two pipes."""

    def __init__(self) -> None:
        env = dict(os.environ)
        root = Path(__file__).resolve().parents[2]  # the directory holding the ``gate`` package
        env["PYTHONPATH"] = os.pathsep.join(filter(None, (str(root), env.get("PYTHONPATH"))))
        # -P: the working directory is not put on sys.path, so a ``gate`` directory there is never
        # imported in place of this one. A session of its own: the terminal's Ctrl-C goes to this
        # process, which then closes the pipe.
        self.process = subprocess.Popen(
            [sys.executable, "-P", "-m", "gate.scan._worker"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, start_new_session=True
        )
        self._stdin, self._stdout = self.process.stdin, self.process.stdout
        assert self._stdin is not None and self._stdout is not None  # noqa: S101 - both asked for above
        self._fd = self._stdin.fileno()
        try:
            import fcntl

            fcntl.fcntl(self._fd, fcntl.F_SETPIPE_SZ, _PIPE_BYTES)
        except (ImportError, AttributeError, OSError):
            pass  # not Linux, or above the system's pipe-max-size: the default pipe works too

    def run(self, chunks: Iterable[bytes], job: dict[str, Any], progress: Callable[[int], None] | None) -> tuple[bytes, bytes] | None:
        """Send one job and its chunks; the worker's answer frame (kind, payload), or None when
        the worker exited or closed its pipe. Stops sending once the worker has answered (it
        refused the layer early).

        Raises:
            whatever iterating ``chunks`` raises.
        """
        assert self._stdout is not None  # noqa: S101 - set in __init__
        try:
            write_frame(self._fd, JOB, json.dumps(job).encode())
            sent = 0
            for chunk in chunks:
                sent += len(chunk)
                if progress is not None:
                    progress(sent)
                write_frame(self._fd, CHUNK, chunk)
                if select.select([self._stdout], [], [], 0)[0]:
                    break
            write_frame(self._fd, END)
            frame = read_frame(self._stdout)
        except (BrokenPipeError, EOFError):
            return None
        return frame

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()
        for pipe in (self._stdin, self._stdout):
            if pipe is not None:
                pipe.close()


class _Pool:
    """The worker processes of this process: idle ones kept for reuse, at most one per core."""

    def __init__(self) -> None:
        self._idle: list[_Worker] = []
        self._started = 0
        self._lock = threading.Lock()
        self._registered = False

    def running(self) -> bool:
        """Whether any worker has been started (and not ended since)."""
        return self._started > 0

    def take(self, most: int) -> _Worker | None:
        """An idle worker, else a new one while fewer than ``most`` run, else None."""
        worker, dead, start = None, [], False
        with self._lock:
            while self._idle and worker is None:
                candidate = self._idle.pop()
                if candidate.alive():
                    worker = candidate
                else:
                    dead.append(candidate)
                    self._started -= 1
            if worker is None and self._started < most:
                self._started += 1
                start = True
                if not self._registered:
                    atexit.register(self.close)
                    self._registered = True
        for gone in dead:
            gone.stop()  # reaps it and closes its pipes
        if start:
            worker = self._start()
        return worker

    def _start(self) -> _Worker | None:
        try:
            return _Worker()
        except OSError:
            with self._lock:
                self._started -= 1
            return None

    def give_back(self, worker: _Worker, *, reusable: bool) -> None:
        """Keep a worker that finished its job cleanly; end one interrupted mid-job."""
        with self._lock:
            if reusable:
                self._idle.append(worker)
                return
            self._started -= 1
        worker.stop()

    def close(self) -> None:
        """End the idle workers (busy ones end when this process exits and their pipe closes)."""
        with self._lock:
            idle, self._idle = self._idle, []
            self._started -= len(idle)
        for worker in idle:
            worker.stop()

    def forget(self) -> None:
        """In a forked child: the workers belong to the parent, whose jobs their pipes carry."""
        self._idle, self._started, self._lock = [], 0, threading.Lock()


_POOL = _Pool()
os.register_at_fork(after_in_child=_POOL.forget)


class LayerWorkers:
    """``LayerScanner.scan`` in a worker process, with one configuration's limits and hyperscan cache."""

    def __init__(self, limits: Limits, cache_dir: Path | None = None) -> None:
        self.limits = limits
        self.cache_dir = cache_dir

    def scan(
        self, chunks: Iterable[bytes], media_type: str, index: int, digest: str, *,
        progress: Callable[[int], None] | None = None, budget: ImageBudget | None = None, most: int | None = None,
    ) -> LayerScan | None:
        """As ``LayerScanner.scan``, or None (``chunks`` untouched) when no worker is free: ``most``
        may run (``worker_limit``; by default one per usable core).

        Raises:
            EvidenceError: as ``LayerScanner.scan``, or the worker process died.
            LimitExceeded: as ``LayerScanner.scan`` (the image budget is charged here once more
                with the layer's total, so layers scanned at once still share one cap).
        """
        worker = _POOL.take(usable_cores() if most is None else most)
        if worker is None:
            return None
        label = f"layer {index} ({digest})"
        limit = budget.limit if budget is not None else self.limits.scan_bytes_per_image
        job = {
            "limits": self.limits.model_dump(mode="json"), "cache_dir": None if self.cache_dir is None else str(self.cache_dir),
            "media_type": media_type, "index": index, "digest": digest,
            "image_limit": limit, "image_used": budget.used if budget is not None else 0,
        }
        frame = None
        try:
            frame = worker.run(chunks, job, progress)
        finally:
            _POOL.give_back(worker, reusable=frame is not None and frame[0] in (RESULT, ERROR))
        if frame is None or frame[0] not in (RESULT, ERROR):
            raise EvidenceError(
                f"{label}: the layer scan worker process ended unexpectedly (exit status {worker.process.poll()})",
                details={"layer": label},
            )
        kind, payload = frame
        answer = json.loads(payload)
        if kind == ERROR:
            raise _rebuilt(answer, label)
        scan = LayerScan.from_json(answer)
        if budget is not None:
            budget.charge(scan.bytes_out, label)
        return scan


def _rebuilt(answer: dict[str, Any], label: str) -> GateError:
    """The worker's error as this process's exception; anything unexpected is an EvidenceError (deny)."""
    kind = _ERRORS.get(answer.get("type", ""))
    if kind is None:
        return EvidenceError(f"{label}: the layer scan failed: {answer.get('message')}", details={"layer": label})
    return kind(answer["message"], remedy=answer.get("remedy", ""), details=answer.get("details") or {})

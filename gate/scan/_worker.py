"""A layer-scan worker process: ``python -m gate.scan._worker``, driven by ``gate.scan._workers``.

Scanning is mostly Python per tar member, which holds the GIL; a process of its own lets an
image's large layers be scanned on several cores at once. The parent fetches, hashes and sends
the compressed bytes over stdin; the worker inflates and scans them exactly as ``LayerScanner``
does in a thread (same code, same caps) and answers on stdout. The parent counts the answer only
once the blob's digest and size have checked out, as for a scan in a thread.

Protocol (``gate.scan._frames``), one job after another: ``S`` job (JSON) -> ``C`` compressed
chunk ... -> ``E`` end of blob; the answer is ``R`` (the ``LayerScan`` as JSON) or ``X`` (the error
as JSON). On an error the worker answers at once and then discards chunks until ``E``, so the
parent can stop sending early and the worker stays usable.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from gate.scan._frames import CHUNK, END, ERROR, JOB, RESULT, read_frame, write_frame


def _chunks(stream: IO[bytes]) -> Iterator[bytes]:
    """The job's compressed chunks, until its ``E`` frame."""
    while True:
        frame = read_frame(stream)
        if frame is None:
            raise EOFError("pipe closed inside a job")
        kind, payload = frame
        if kind == END:
            return
        if kind != CHUNK:
            raise EOFError(f"unexpected frame {kind!r} inside a job")
        yield payload


def _error(exc: Exception) -> dict[str, Any]:
    from gate.errors import GateError

    if isinstance(exc, GateError):
        return {"type": type(exc).__name__, "message": exc.message, "remedy": exc.remedy, "details": exc.details}
    return {"type": "", "message": f"{type(exc).__name__}: {exc}", "remedy": "", "details": {}}


def main() -> None:
    """Serve jobs until the parent closes stdin (or dies: a pipe closed mid-job ends the worker too)."""
    try:
        _serve()
    except (EOFError, BrokenPipeError):
        pass


def _serve() -> None:
    from gate.config import Limits
    from gate.scan._layer import LayerScanner
    from gate.scan._layer_scan import ImageBudget, LayerScan
    from gate.scan._matcher import ContentMatcher

    # Replies go to a private copy of stdout; anything a library prints lands on stderr instead.
    replies = os.dup(1)
    os.dup2(2, 1)
    stream = sys.stdin.buffer
    matchers: dict[str | None, ContentMatcher] = {}
    while (frame := read_frame(stream)) is not None:
        kind, payload = frame
        if kind != JOB:
            raise SystemExit(f"scan worker: expected a job, got frame {kind!r}")
        job = json.loads(payload)
        cache_dir = job["cache_dir"]
        matcher = matchers.get(cache_dir)
        if matcher is None:
            matcher = matchers[cache_dir] = ContentMatcher(cache_dir=None if cache_dir is None else Path(cache_dir))
        scanner = LayerScanner(Limits(**job["limits"]), matcher)
        chunks = _chunks(stream)
        scan: LayerScan | None = None
        try:
            budget = ImageBudget(job["image_limit"], used=job["image_used"])
            scan = scanner.scan(chunks, job["media_type"], job["index"], job["digest"], budget=budget)
        except EOFError:
            raise
        except Exception as exc:  # noqa: BLE001 - every failure goes back to the parent, which decides
            write_frame(replies, ERROR, json.dumps(_error(exc)).encode())  # at once: the parent may stop sending
        for _ in chunks:  # what the scan left unread, up to the job's end
            pass
        if scan is not None:
            write_frame(replies, RESULT, json.dumps(scan.to_json()).encode())


if __name__ == "__main__":
    main()

"""JSON log lines (one object per line) so cluster log pipelines can index the review uid and decision."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from typing import Any, TextIO

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "color_message"}
_ENCODER = json.JSONEncoder(default=str, separators=(",", ":"))  # built once, not per line as json.dumps does


class JsonFormatter(logging.Formatter):
    """``{"time", "level", "logger", "message", ...extra fields}``; exceptions as ``"exception"``.

    ``time`` is UTC with milliseconds (``2026-12-03T14:00:01.123Z``): nodes and log pipelines in
    other time zones must order lines the same way, and reviews take milliseconds.
    """

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": utc_time(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({key: value for key, value in vars(record).items() if key not in _STANDARD})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return _ENCODER.encode(entry)


class LoopBatchingHandler(logging.StreamHandler):
    """A stream handler that writes what the event loop's thread logs in one loop iteration with
    one write.

    Under load a warm review costs tens of microseconds, and a line written (a system call) per
    review was a fifth of it. Lines logged while a loop runs wait for the end of the iteration
    (the loop's next callbacks); lines logged from another thread or another loop, with no loop
    running, or at shutdown write everything pending at once, so the order stays the order
    logged.
    """

    def __init__(self, stream: TextIO | None = None) -> None:
        super().__init__(stream)
        self._pending: list[str] = []
        self._flush_on: asyncio.AbstractEventLoop | None = None

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._pending.append(self.format(record) + self.terminator)
        except Exception:  # noqa: BLE001 - logging must never raise into the caller
            self.handleError(record)
            return
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is not None and self._flush_on is None:
            self._flush_on = loop
            loop.call_soon(self.flush)
        elif loop is None or loop is not self._flush_on:
            self._write_pending()

    def flush(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            self._write_pending()

    def _write_pending(self) -> None:
        self._flush_on = None
        if self._pending:
            text, self._pending = "".join(self._pending), []
            try:
                self.stream.write(text)
            except Exception:  # noqa: BLE001 - as StreamHandler: a broken stream must not crash the webhook
                self.handleError(logging.makeLogRecord({"msg": "writing log lines failed"}))
        if self.stream is not None and hasattr(self.stream, "flush"):
            self.stream.flush()


def utc_time(created: float) -> str:
    """A ``time.time()`` value as ISO 8601 UTC with milliseconds and a ``Z``."""
    return dt.datetime.fromtimestamp(created, dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def log_config(level: str = "INFO") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for gate and uvicorn alike (access lines off: reviews log themselves)."""
    handler = {"()": LoopBatchingHandler, "formatter": "json", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {"default": handler},
        "loggers": {
            "gate": {"handlers": ["default"], "level": level, "propagate": False},
            "uvicorn": {"handlers": ["default"], "level": level, "propagate": False},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
        },
    }

"""JSON log lines (one object per line) so cluster log pipelines can index the review uid and decision."""

from __future__ import annotations

import datetime as dt
import json
import logging
from types import CodeType
from typing import Any

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "color_message"}
# Built once, not per line as json.dumps does; records hold no reference cycles to look for.
_ENCODER = json.JSONEncoder(default=str, separators=(",", ":"), check_circular=False)


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


def log_line(logger: logging.Logger, level: int, message: str, fields: dict[str, Any], where: CodeType) -> None:
    """``logger.log(level, message, extra=fields)`` for the lines written once per review.

    ``Logger.log`` looks up its caller by walking the stack (``findCaller``): half the cost of a
    review's log line. Here the caller names itself (``where``: its code object, for the record's
    ``pathname``, ``lineno`` and ``funcName``); handlers and filters see the same record otherwise.
    """
    if logger.isEnabledFor(level):
        logger.handle(logger.makeRecord(logger.name, level, where.co_filename, where.co_firstlineno, message, None, None, where.co_name, fields))


def utc_time(created: float) -> str:
    """A ``time.time()`` value as ISO 8601 UTC with milliseconds and a ``Z``."""
    return dt.datetime.fromtimestamp(created, dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def log_config(level: str = "INFO") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for gate and uvicorn alike (access lines off: reviews log themselves)."""
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
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

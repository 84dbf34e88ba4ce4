"""JSON log lines (one object per line) so cluster log pipelines can index the review uid and decision."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from types import CodeType
from typing import Any

import orjson

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


@dataclass(frozen=True)
class Members:
    """Fields of log lines that repeat them (one answer's, for every review it answers), encoded
    once: ``json`` is their JSON object's members without the braces."""

    fields: dict[str, Any]

    @cached_property
    def json(self) -> str:
        return _ENCODER.encode(self.fields)[1:-1]


Fields = dict[str, Any] | Members


def log_line(logger: logging.Logger, level: int, message: str, parts: Sequence[Fields], where: CodeType) -> None:
    """``logger.log(level, message, extra=fields)``, fields given in ``parts``, for the lines
    written once per review; no field may name a ``LogRecord`` attribute or a head key
    (``time``, ``level``, ``logger``, ``message``).

    ``Logger.log`` looks up its caller by walking the stack (``findCaller``), then makes a record
    that :class:`JsonFormatter` takes apart again: most of a review's CPU after the judging.
    Here the caller names itself (``where``: its code object, for the record's ``pathname``,
    ``lineno`` and ``funcName``), and when every handler the line reaches is a plain
    ``StreamHandler`` writing :class:`JsonFormatter` lines with no filter on the way, the line is
    written as that formatter would write it without a record, its :class:`Members` encoded once.
    Any other handler or filter gets the record as ``Logger.log`` would make it.
    """
    if not logger.isEnabledFor(level):
        return
    handlers = _json_stream_handlers(logger, level)
    if handlers is None:
        fields = {key: value for part in parts for key, value in (part.fields if isinstance(part, Members) else part).items()}
        logger.handle(logger.makeRecord(logger.name, level, where.co_filename, where.co_firstlineno, message, (), None, where.co_name, fields))
        return
    line = _line(utc_time(time.time()), _head(level, logger.name, message), parts)
    for handler in handlers:
        with handler.lock or contextlib.nullcontext():
            try:
                handler.stream.write(line + handler.terminator)
                handler.flush()
            except Exception:  # noqa: BLE001 - as StreamHandler.emit: logging never fails the caller
                handler.handleError(logging.makeLogRecord({"name": logger.name, "levelno": level, "msg": line}))


@functools.lru_cache(maxsize=64)
def _head(level: int, logger: str, message: str) -> str:
    """The members after ``time`` that begin a line, as :class:`JsonFormatter` writes them: the
    same few for every review, encoded once."""
    return _ENCODER.encode({"level": logging.getLevelName(level).lower(), "logger": logger, "message": message})[1:-1]


def _line(time_text: str, head: str, parts: Sequence[Fields]) -> str:
    """The JSON object of the ``time``, the ``head`` members (:func:`_head`) and ``parts`` in
    order: consecutive plain fields encoded in one go, :class:`Members` spliced in as encoded."""
    members = [f'"time":"{time_text}"', head]  # the time is digits and separators: nothing to escape
    pending: dict[str, Any] = {}
    for part in parts:
        if isinstance(part, Members):
            if pending:
                members.append(_members(pending))
                pending = {}
            members.append(part.json)
        else:
            pending.update(part)
    if pending:
        members.append(_members(pending))
    return "{" + ",".join(filter(None, members)) + "}"


def _members(fields: dict[str, Any]) -> str:
    """``fields`` as a JSON object's members, byte for byte as ``_ENCODER`` writes them.

    orjson writes them ten times faster, and alike when every value is a string, bool, None, an
    integer or a float Python writes without an exponent below zero (orjson writes 1e-05 as
    0.00001, and NaN as null) and what it wrote is printable ASCII (``_ENCODER`` escapes the rest
    as ``\\uXXXX``); otherwise ``_ENCODER`` writes them.
    """
    values = fields.values()
    if _PLAIN.issuperset(map(type, values)) or all(map(_written_alike, values)):
        try:
            written = orjson.dumps(fields)
        except TypeError:  # a key that is not a str, an integer past 64 bits
            pass
        else:
            if written.isascii() and b"\x7f" not in written:
                return written[1:-1].decode()
    return _ENCODER.encode(fields)[1:-1]


_PLAIN = frozenset({str, bool, int, type(None)})


def _written_alike(value: Any) -> bool:
    """Whether orjson writes ``value`` as ``_ENCODER`` does (containers are left to ``_ENCODER``)."""
    if type(value) is float:
        return value == 0 or 1e-4 <= abs(value) < math.inf
    return type(value) in _PLAIN


def _json_stream_handlers(logger: logging.Logger, level: int) -> list[logging.StreamHandler[Any]] | None:
    """The handlers a record of ``level`` from ``logger`` reaches, when each is a plain
    ``StreamHandler`` with a :class:`JsonFormatter` and nothing (record factory, filters) could
    change or drop the record; None otherwise, or when none is reached (logging's last resort)."""
    if type(logger) is not logging.Logger or logger.filters or logger.disabled or logging.getLogRecordFactory() is not logging.LogRecord:
        return None
    found: list[logging.StreamHandler[Any]] = []
    node: logging.Logger | None = logger
    while node is not None:
        for handler in node.handlers:
            if level < handler.level:
                continue
            if type(handler) is not logging.StreamHandler or handler.filters or type(handler.formatter) is not JsonFormatter:
                return None
            found.append(handler)
        node = node.parent if node.propagate else None
    return found or None


def utc_time(created: float) -> str:
    """A ``time.time()`` value as ISO 8601 UTC with milliseconds and a ``Z``, as
    ``datetime.fromtimestamp(created, timezone.utc).isoformat(timespec="milliseconds")`` writes it.

    Every review's line has one: the date and time to the second are formatted once a second, and
    the microseconds rounded as ``fromtimestamp`` rounds them (half to even) before the
    milliseconds are cut from them.
    """
    global _second  # noqa: PLW0603 - one cached (second, text) pair, replaced whole
    fraction, whole = math.modf(created)
    micro = round(fraction * 1e6)
    if micro >= 1_000_000:
        micro, whole = micro - 1_000_000, whole + 1
    elif micro < 0:
        micro, whole = micro + 1_000_000, whole - 1
    second, text = _second
    if second != whole:
        text = dt.datetime.fromtimestamp(whole, dt.timezone.utc).isoformat(timespec="seconds").removesuffix("+00:00")
        _second = (whole, text)
    return f"{text}.{micro // 1000:03d}Z"


_second: tuple[float, str] = (float("nan"), "")


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

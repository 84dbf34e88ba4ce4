"""JSON log lines carry the review's fields so log pipelines can index them."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import random
from typing import Any

import pytest

from gate.admission._logging import JsonFormatter, Members, _members, log_config, log_line, utc_time
from tests.admission.test_mutate import RecordedLines


def test_records_become_one_json_object_with_extras() -> None:
    record = logging.makeLogRecord({"name": "gate.admission", "levelname": "INFO", "msg": "answered %s", "args": ("x",)})
    record.uid = "705ab4f5-6393-11e8-b7cc-42010a800002"
    record.decision = "deny"
    line = JsonFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["message"] == "answered x" and entry["uid"] == record.uid and entry["decision"] == "deny"
    assert entry["level"] == "info" and entry["logger"] == "gate.admission"


def test_exceptions_are_kept_in_the_line() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("gate.admission", logging.ERROR, __file__, 1, "failed", None, exc_info=__import__("sys").exc_info())
    assert "ValueError: boom" in json.loads(JsonFormatter().format(record))["exception"]


def test_uvicorn_access_lines_are_off_and_gate_logs_json() -> None:
    config = log_config()
    assert config["loggers"]["uvicorn.access"]["handlers"] == []
    assert config["formatters"]["json"]["()"] is JsonFormatter


def test_times_are_utc_with_milliseconds() -> None:
    record = logging.makeLogRecord({"name": "gate", "msg": "x", "created": 1796306401.1234})
    assert json.loads(JsonFormatter().format(record))["time"] == "2026-12-03T14:00:01.123Z"


def test_the_level_is_configurable() -> None:
    assert log_config("WARNING")["loggers"]["gate"]["level"] == "WARNING"


def test_gate_serve_takes_a_log_level() -> None:
    from gate.cli import _parser

    assert _parser().parse_args(["serve", "--log-level", "WARNING"]).log_level == "warning"
    assert _parser().parse_args(["serve"]).log_level == "info"
    with pytest.raises(SystemExit):
        _parser().parse_args(["serve", "--log-level", "loud"])


REQUEST = {"uid": 'odd "uid" é', "namespace": None, "workload": "Deployment/w", "operation": "CREATE", "dry_run": False}
IMAGES = [{"image": "reg/a:1", "digest": "sha256:" + "b" * 64, "decision": "deny", "rules": ["signature.missing:deny"]}]


def _lines(*handlers: logging.Handler, name: str = "gate.test-lines") -> logging.Logger:
    logger = logging.getLogger(name)
    logger.handlers[:] = list(handlers)
    logger.propagate, logger.level = False, logging.INFO
    return logger


def _json_stream() -> tuple[logging.StreamHandler[io.StringIO], io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    return handler, stream


def _write(logger: logging.Logger, level: int = logging.WARNING) -> None:
    answer = Members({"decision": "deny", "reason": None, "images": IMAGES})
    log_line(logger, level, "admission review answered", (REQUEST, answer, {"duration_ms": 1.25}), _write.__code__)


def test_a_review_line_is_written_as_the_formatter_writes_its_record() -> None:
    handler, written = _json_stream()
    kept = RecordedLines()
    _write(_lines(handler))
    _write(_lines(kept, name="gate.test-records"))
    [record] = kept.records
    assert (record.funcName, record.levelno) == ("_write", logging.WARNING), "the record says where it was written"
    [line] = written.getvalue().splitlines()
    expected = JsonFormatter().format(record)
    # The two lines were written a moment apart: the same but for their time and logger name.
    assert line.split(",", 1)[1].replace("gate.test-lines", "gate.test-records") == expected.split(",", 1)[1]
    assert json.loads(line)["time"].endswith("Z") and json.loads(line) | {"time": "t"} == json.loads(expected) | {"time": "t", "logger": "gate.test-lines"}


def test_a_filter_sees_the_record_and_can_drop_the_line() -> None:
    handler, written = _json_stream()
    dropped: list[str] = []
    handler.addFilter(lambda record: dropped.append(record.uid) and False)  # type: ignore[attr-defined, func-returns-value]
    _write(_lines(handler))
    assert dropped == [REQUEST["uid"]] and written.getvalue() == ""


def test_a_line_below_a_handlers_level_is_not_written() -> None:
    handler, written = _json_stream()
    handler.setLevel(logging.WARNING)
    _write(_lines(handler), logging.INFO)
    assert written.getvalue() == ""
    _write(_lines(handler), logging.WARNING)
    assert json.loads(written.getvalue())["level"] == "warning"



def _datetime_time(created: float) -> str:
    return dt.datetime.fromtimestamp(created, dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def test_utc_time_writes_what_datetime_writes() -> None:
    chance = random.Random(11)
    edges = [0.0, 1.0000005, 1796306401.1234, 1796306401.9995, 1796306401.9999995, 1796306459.9999999, 4102444799.9999996]
    seconds = [float(chance.randrange(0, 4_102_444_800)) for _ in range(2000)]
    fractions = [0.0, 0.0005, 0.0004995, 0.4995, 0.9994995, 0.9995, 0.9999994, 0.9999995]
    for created in edges + [s + chance.random() for s in seconds] + [s + f for s in seconds[:200] for f in fractions]:
        assert utc_time(created) == _datetime_time(created), created


ODD_FIELDS: list[dict[Any, Any]] = [
    {"uid": "plain", "n": 3, "ok": True, "none": None, "ms": 0.13},
    {"uid": 'odd "uid" é', "ms": 12.5},
    {"s": "del \x7f and \x01 control \n\t"},
    {"s": "\u2028 line separator"},
    {"ms": 1e-05, "also": 0.0001},
    {"ms": -0.0, "zero": 0.0, "big": 1e22},
    {"nan": float("nan"), "inf": float("inf")},
    {"big": 2**64, "small": -(2**63) - 1},
    {"nested": {"a": [1, "b"]}, "when": dt.date(2026, 12, 3)},
    {"surrogate": "\ud800"},
    {1: "int key", "b": 2},
]


@pytest.mark.parametrize("fields", ODD_FIELDS)
def test_plain_fields_are_written_as_the_formatters_encoder_writes_them(fields: dict[Any, Any]) -> None:
    expected = json.JSONEncoder(default=str, separators=(",", ":"), check_circular=False).encode(fields)
    assert "{" + _members(fields) + "}" == expected

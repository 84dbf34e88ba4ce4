"""JSON log lines carry the review's fields so log pipelines can index them."""

from __future__ import annotations

import json
import logging

import pytest

from gate.admission._logging import JsonFormatter, log_config


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

"""Every exception gate defines belongs to the one tree under ``GateError`` (gate/errors.py), so
callers catch one class and the edges (CLI exit 2, webhook 400, ``evaluation.error``) translate it."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import gate
from gate.errors import GateError


def _exception_classes() -> list[type[BaseException]]:
    found = []
    for module_info in pkgutil.walk_packages(gate.__path__, prefix="gate."):
        module = importlib.import_module(module_info.name)
        for _, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, BaseException) and value.__module__ == module.__name__:
                found.append(value)
    return found


def test_the_package_defines_exceptions_at_all() -> None:
    names = {cls.__name__ for cls in _exception_classes()}
    assert {"GateError", "BadReview", "WorkloadError", "BadEnvelope"} <= names


def test_every_exception_gate_defines_is_a_gate_error() -> None:
    outside = sorted(f"{cls.__module__}.{cls.__qualname__}" for cls in _exception_classes() if not issubclass(cls, GateError))
    assert outside == []

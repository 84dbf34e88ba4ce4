"""The embedded engine: rego-cpp through regopy, compiled once into a bundle.

Measured (regopy 1.5.2): ``Interpreter.query`` recompiles on every call (~0.8 ms for two small
modules, ~12 ms for the full library), while ``query_bundle`` on a bundle built once runs the plan
only. An ``Interpreter`` is not thread-safe, but separate interpreters run concurrently (regopy
calls C through ctypes, which releases the GIL; 4 threads x 150 evaluations on 4 interpreters gave
identical results), so the backend keeps a small pool: one interpreter per concurrent evaluation,
built on demand up to ``workers`` (default: the CPU count, at most 4), each with its own bundle.

Traps respected here: a query that evaluates to false comes back undefined, so the query always
binds a variable (``x := data.gate.violations``); ``with input as`` crashes the process, so inputs
only ever go through ``set_input_term``. Measured here too: ``set_input(regopy.Input(value))`` stores
strings unescaped, so a value holding ``"`` compares wrong and breaks the output JSON; the input
therefore goes in as JSON text. ``sprintf("%s", [concat(…, input.array)])`` shows the same defect
(concat over a comprehension or ``sort()`` result is fine), which the shipped policies avoid.
"""

from __future__ import annotations

import json
import os
import queue
import re
import threading
from pathlib import Path
from typing import Any

import regopy

from gate.errors import PolicyError
from gate.policy._bundle_cache import bundle_file, load_bundle, store_bundle
from gate.policy._sources import Module, package_of, rule_heads

QUERY = "x := data.gate.violations"
_ERROR_MESSAGE = re.compile(r"errormsg \d+:([^)]*)")
_ERROR_AT = re.compile(r"\(error \d+:([^|\s]+)\|(\d+)\|\d+\s*\(errormsg \d+:([^)]*)\)")


class EmbeddedBackend:
    """Evaluates ``query`` (default ``data.gate.violations``, bound to ``x``) with modules and
    data loaded once per interpreter.

    Raises:
        PolicyError: a module does not compile (at construction) or evaluation fails.
    """

    def __init__(
        self, modules: tuple[Module, ...], data: dict[str, Any], *, query: str = QUERY, workers: int | None = None, cache_dir: Path | None = None
    ):
        data_json = json.dumps(data)
        self._sources = (modules, data_json, query, bundle_file(cache_dir, modules, data_json, query) if cache_dir is not None else None)
        self._workers = max(1, workers or min(os.cpu_count() or 1, 4))
        self._idle: queue.LifoQueue[_Compiled] = queue.LifoQueue()
        self._created = 1
        self._grow = threading.Lock()
        self._idle.put(_Compiled(*self._sources))

    def evaluate(self, input_doc: dict[str, Any]) -> Any:
        """Return the value bound to ``x`` (``None`` when the query is undefined); thread-safe.

        Raises:
            PolicyError: the input cannot be encoded or the query fails at runtime.
        """
        try:
            text = json.dumps(input_doc, ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise PolicyError(f"the policy input is not JSON: {exc}") from exc
        compiled = self._take()
        try:
            return compiled.run(text)
        finally:
            self._idle.put(compiled)

    def _take(self) -> "_Compiled":
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        with self._grow:
            if self._created < self._workers:
                self._created += 1
                return _Compiled(*self._sources)
        return self._idle.get()

    def close(self) -> None:
        """Nothing to release beyond what garbage collection frees; present for symmetry with OPA."""


class _Compiled:
    """One interpreter with its bundle (loaded from ``cache_file`` when it holds one, else built
    and stored there); used by one thread at a time."""

    def __init__(self, modules: tuple[Module, ...], data_json: str, query: str, cache_file: Path | None = None):
        self._rego = regopy.Interpreter()
        self._rego.log_level = regopy.LogLevel.NONE  # rego-cpp would print errors to stdout itself
        self._modules, self._data_json = modules, data_json
        loaded = load_bundle(self._rego, cache_file) if cache_file is not None else None
        if loaded is not None:
            self._bundle = loaded
            return
        try:
            self._rego.add_data_json(data_json)
            for module in modules:
                self._rego.add_module(module.name, module.source)
            self._bundle = self._rego.build(query)
        except regopy.RegoError as exc:
            problems = "\n  ".join(compile_errors(str(exc), modules))
            raise PolicyError(f"policies do not compile:\n  {problems}", remedy="fix the Rego at the places named above") from exc
        if not self._bundle.ok():
            raise PolicyError("policies do not compile into a bundle", remedy="run `gate policy test` to see the failing module")
        if cache_file is not None:
            store_bundle(self._rego, self._bundle, cache_file)

    def run(self, input_json: str) -> Any:
        try:
            self._input_json = input_json  # kept for the error path's diagnosis
            self._rego.set_input_term(input_json)
            output = self._rego.query_bundle(self._bundle)
            if not output.ok():
                raise PolicyError(f"policy evaluation failed: {self._diagnose(_error_text(output))}")
            results = output.results
        except (regopy.RegoError, ValueError) as exc:  # ValueError: rego-cpp printed a value that is not JSON
            raise PolicyError(f"policy evaluation failed: {self._diagnose(_error_text(exc))}") from exc
        return results[0].bindings.get("x") if results else None

    def _diagnose(self, problem: str) -> str:
        """Name the module and rule that fail. rego-cpp's runtime errors carry no location, so on
        this error path each rule (last-loaded modules first: site policies) is queried on its own;
        a rule that only fails through another (``violations`` reading a broken helper) is named
        only when nothing else in its module fails."""
        rego = regopy.Interpreter()  # the sources, also when the bundle came from the cache
        rego.log_level = regopy.LogLevel.NONE
        rego.add_data_json(self._data_json)
        for module in self._modules:
            rego.add_module(module.name, module.source)
        rego.set_input_term(self._input_json)
        for module in reversed(self._modules):
            package = package_of(module.source)
            if package is None:
                continue
            failing = [(rule, line) for rule, line in rule_heads(module.source) if _fails(rego, f"data.{package}.{rule}")]
            if failing:
                rule, line = next(((r, n) for r, n in failing if r != "violations"), failing[0])
                return f"{module.name}:{line}: rule `{rule}` (package {package}): {problem}"
        return problem


def _fails(rego: regopy.Interpreter, ref: str) -> bool:
    try:
        output = rego.query(f"x := {ref}")
        if not output.ok():
            return True
        _ = output.results  # parsing fails when a value is not JSON
    except (regopy.RegoError, ValueError):
        return True
    return False


def _error_text(source: object) -> str:
    """The first message of a rego-cpp error, without its AST dump."""
    text = str(source.node().at(0).json()) if isinstance(source, regopy.Output) else str(source)
    message = _ERROR_MESSAGE.search(text)
    return message.group(1).strip() if message else text.strip()[:500]


def compile_errors(text: str, modules: tuple[Module, ...]) -> list[str]:
    """Every error of a rego-cpp error sequence as ``module:line:column: message``, each once."""
    sources = {module.name: module.source for module in modules}
    found: dict[str, None] = {}
    for name, offset, message in _ERROR_AT.findall(text):
        source = sources.get(name, "")
        before = source[: int(offset)]
        line, column = before.count("\n") + 1, int(offset) - (before.rfind("\n") + 1) + 1
        found[f"{name}:{line}:{column}: {message.strip()}"] = None
    if not found:
        message = _ERROR_MESSAGE.search(text)
        found[message.group(1).strip() if message else text.strip()[:500]] = None
    return list(found)

"""Policy test cases: input facts plus expected violations, runnable on either engine.

``opa test`` style tests (``with input as …``) crash regopy, so gate's policy tests are data: YAML
files under ``<policy dir>/tests/``, each a list of cases. A case's ``input`` is deep-merged over
the default document ``policies/tests/default-input.json`` (an image that passes every shipped
rule): objects merge key by key, anything else (lists, scalars, null) replaces. Format::

    cases:
      - name: root user without a workload override is denied
        input: {user: {is_root: true, uid: 0}, config: {user: ""}}
        params: {image.stale: {max_age_days: 30}}    # optional: rules.<id>.<param> as in config
        expect: [user.root]                           # exactly these rule IDs (order ignored)
        messages: ["USER 10001"]                      # optional: each must occur in some message
      - name: a document of another version fails closed
        input: {version: 2}
        invalid_input: true         # optional: the document deliberately breaks docs/input.schema.json
        expect: [evaluation.error]
      - name: numeric non-root user is allowed
        input: {user: {is_root: false}}
        expect_none: true                             # no violation at all
      - name: a namespace override and an exemption decide the final action
        input: {user: {is_root: true, uid: 0}, config: {user: ""}}
        expect: [user.root]
        config: {namespaces: {kube-system: {rules: {user.root: {action: warn}}}}}   # optional: as gate.yaml
        namespace: kube-system                                                      # optional
        actions: {user.root: warn}      # optional: the final action of each rule after config and exemptions

Every case document (unless ``invalid_input``) must match docs/input.schema.json; a case that
does not, or that is malformed, is that case's failure and the file goes on.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import yaml

from gate import config as config_module
from gate.config import Config, RuleSettings
from gate.errors import ConfigError, GateError, PolicyError
from gate.policy._decide import decide
from gate.policy._eval import input_problems
from gate.policy._evaluator import PolicyEvaluator
from gate.policy._raw import RawViolation
from gate.policy._sources import SHIPPED_POLICY_DIR

DEFAULT_INPUT = SHIPPED_POLICY_DIR / "tests" / "default-input.json"


@dataclass(frozen=True)
class Case:
    """One policy test case, already checked for shape."""

    file: str
    name: str
    input: dict[str, Any]
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    expect: tuple[str, ...] = ()
    messages: tuple[str, ...] = ()
    invalid_input: bool = False
    config: dict[str, Any] = field(default_factory=dict)
    namespace: str | None = None
    actions: dict[str, str] = field(default_factory=dict)

    def document(self, default: dict[str, Any]) -> dict[str, Any]:
        """The full input document: this case's facts merged over ``default``."""
        return deep_merge(default, self.input)


def deep_merge(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    """Objects merge key by key; lists, scalars and null from ``overlay`` replace."""
    merged = copy.deepcopy(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def default_document() -> dict[str, Any]:
    """The default input document cases are merged over.

    Raises:
        PolicyError: the shipped file is missing, not JSON, or not a JSON object.
    """
    try:
        document = json.loads(DEFAULT_INPUT.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PolicyError(f"cannot read the default test document {DEFAULT_INPUT}: {exc}") from exc
    if not isinstance(document, dict):
        raise PolicyError(f"the default test document {DEFAULT_INPUT} is not a JSON object")
    return document


def case_files(directory: Path) -> list[Path]:
    """``<directory>/tests/*.yaml`` (and ``*.yml``), sorted."""
    tests = directory / "tests"
    return sorted([*tests.glob("*.yaml"), *tests.glob("*.yml")])


def load_cases(path: Path) -> list[Case | PolicyError]:
    """Read one case file: each case checked for shape, or the error that names what is wrong with it.

    Raises:
        PolicyError: the file is unreadable, not YAML, or holds no `cases` list.
    """
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise PolicyError(f"cannot read policy test file {path}: {exc}") from exc
    cases = document.get("cases") if isinstance(document, dict) else None
    if not isinstance(cases, list) or not cases:
        raise PolicyError(f"{path}: expected a mapping with a non-empty `cases` list")
    loaded: list[Case | PolicyError] = []
    for index, raw in enumerate(cases):
        try:
            loaded.append(_case(path.name, index, raw))
        except PolicyError as exc:
            loaded.append(exc)
    return loaded


def _case(file: str, index: int, raw: Any) -> Case:
    where = f"{file}: cases[{index}]"
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
        raise PolicyError(f"{where}: a case is a mapping with a string `name`")
    unknown = set(raw) - {"name", "input", "params", "expect", "expect_none", "messages", "invalid_input", "config", "namespace", "actions"}
    if unknown:
        raise PolicyError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    if ("expect" in raw) == bool(raw.get("expect_none")):
        raise PolicyError(f"{where} ({raw['name']}): give exactly one of `expect: [rule IDs]` or `expect_none: true`")
    expect, messages = raw.get("expect", []), raw.get("messages", [])
    if not _strings(expect) or ("expect" in raw and not expect) or not _strings(messages):
        raise PolicyError(f"{where} ({raw['name']}): `expect` must be a non-empty list of rule IDs, `messages` a list of strings")
    facts, params = raw.get("input", {}), raw.get("params", {})
    if not isinstance(facts, dict) or not isinstance(params, dict) or not all(isinstance(p, dict) for p in params.values()):
        raise PolicyError(f"{where} ({raw['name']}): `input` and `params` must be mappings (params: rule ID to mapping)")
    if any("action" in values for values in params.values()):
        raise PolicyError(f"{where} ({raw['name']}): `params` holds rule parameters; actions are applied after the policies and are not tested here")
    config, namespace, actions = raw.get("config", {}), raw.get("namespace"), raw.get("actions", {})
    if not isinstance(config, dict) or not (namespace is None or isinstance(namespace, str)):
        raise PolicyError(f"{where} ({raw['name']}): `config` must be a mapping (as gate.yaml) and `namespace` a string")
    if not isinstance(actions, dict) or not all(value in ("deny", "warn") for value in actions.values()):
        raise PolicyError(f"{where} ({raw['name']}): `actions` maps rule IDs to deny or warn")
    return Case(
        file, raw["name"], facts, params, tuple(expect), tuple(messages), raw.get("invalid_input") is True, config, namespace, actions
    )


def document_time(document: dict[str, Any]) -> float:
    """The document's ``now_ns`` as POSIX seconds (exemption expiry is judged at that moment)."""
    now_ns = document.get("now_ns")
    return now_ns / 1e9 if isinstance(now_ns, int) else dt.datetime.now(dt.timezone.utc).timestamp()


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def run_policy_tests(directory: Path | None, config: Config, out: TextIO) -> int:
    """Run every case under ``<directory>/tests`` and print one line per case and a summary.

    The policies are the shipped ones, ``config.policy.dirs`` and ``directory`` itself (when it is
    not the shipped directory); the engine is the one ``config.policy`` selects.

    Returns:
        0 when every case passed, 1 when any failed or no case was found (nothing tested is not
        a pass). Policies that do not load raise ``PolicyError`` (the CLI exits 2).
    """
    directory = (directory or SHIPPED_POLICY_DIR).resolve()
    extra = () if directory == SHIPPED_POLICY_DIR else (directory,)
    runner = _Runner(config, extra)
    passed = failed = 0
    try:
        runner.evaluator({})  # policies that do not load are an error (PolicyError), not failed cases
        for path in case_files(directory):
            for ok, line in runner.run_file(path):
                out.write(line + "\n")
                passed, failed = passed + ok, failed + (not ok)
    finally:
        runner.close()
    if passed + failed == 0:
        out.write(f"FAIL  no policy test cases under {directory / 'tests'}\n")
        return 1
    out.write(f"{passed} passed, {failed} failed\n")
    return 1 if failed else 0


class _Runner:
    """Holds one evaluator and rebuilds it only when a case's parameters differ from the last
    case's: an OPA server has one ``data.gate.params`` at a time, so evaluators for different
    parameters must not be interleaved."""

    def __init__(self, config: Config, extra_dirs: tuple[Path, ...]):
        self._config = config
        self._extra = extra_dirs
        self._current: tuple[str, PolicyEvaluator] | None = None
        self._default = default_document()

    def run_file(self, path: Path) -> list[tuple[bool, str]]:
        try:
            cases = load_cases(path)
        except PolicyError as exc:
            return [(False, f"FAIL  {path.name}: {exc.diagnostics()}")]
        return [self.run_case(case) if isinstance(case, Case) else (False, f"FAIL  {case.diagnostics()}") for case in cases]

    def run_case(self, case: Case) -> tuple[bool, str]:
        label = f"{case.file}: {case.name}"
        document = case.document(self._default)
        problems = [] if case.invalid_input else input_problems(document)
        if problems:
            return False, f"FAIL  {label}: the case's input does not match docs/input.schema.json: " + "; ".join(problems[:5])
        try:
            evaluator = self.evaluator(case.params)
        except ConfigError as exc:  # the case's parameters; policies that do not load abort the run (exit 2)
            return False, f"FAIL  {label}: {exc.diagnostics()}"
        try:
            raws = evaluator.evaluate(document)
            problem = check(case, [(raw.rule, raw.message) for raw in raws]) or self._check_actions(case, raws)
        except GateError as exc:
            return False, f"FAIL  {label}: {exc.diagnostics()}"
        return (False, f"FAIL  {label}: {problem}") if problem else (True, f"PASS  {label}")

    def _check_actions(self, case: Case, raws: list[RawViolation]) -> str:
        """Empty when the final actions (after config and exemptions) are the ones the case expects."""
        if not case.actions:
            return ""
        base = self._config.model_dump(mode="json", exclude_none=True, exclude={"events_token"})
        config = config_module.from_mapping(
            deep_merge(base, case.config), source=f"{case.file}: {case.name}: config", policy_dirs=self._extra
        )
        document = case.document(self._default)
        now = dt.datetime.fromtimestamp(document_time(document), dt.timezone.utc)
        image = document.get("image", {}).get("reference") or ""
        got = {violation.rule: violation.action for violation in decide(raws, config, namespace=case.namespace, image=image, now=now)}
        if all(got.get(rule) == action for rule, action in case.actions.items()):
            return ""
        return f"expected final actions {case.actions}, got {got or 'no violation'}"

    def evaluator(self, params: dict[str, dict[str, Any]]) -> PolicyEvaluator:
        key = json.dumps(params, sort_keys=True)
        if self._current is None or self._current[0] != key:
            self.close()
            rules = {**self._config.rules, **{rule: RuleSettings(**values) for rule, values in params.items()}}
            config = self._config.model_copy(update={"rules": rules})
            self._current = (key, PolicyEvaluator.from_config(config, extra_dirs=self._extra))
        return self._current[1]

    def close(self) -> None:
        if self._current is not None:
            self._current[1].close()
            self._current = None


def check(case: Case, got: list[tuple[str, str]]) -> str:
    """Empty when the violations match the case, else what differs."""
    rules = Counter(rule for rule, _ in got)
    if rules != Counter(case.expect):
        return f"expected {sorted(case.expect) or 'no violation'}, got {sorted(rules.elements()) or 'no violation'}" + _messages(got)
    missing = [text for text in case.messages if not any(text in message for _, message in got)]
    if missing:
        return f"no message contains {missing}" + _messages(got)
    return ""


def _messages(got: list[tuple[str, str]]) -> str:
    return "".join(f"\n        {rule}: {message}" for rule, message in got)

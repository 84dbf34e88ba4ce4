"""Writing site Rego with the real CLI: each mistake is reported at its file:line, runtime errors name
the module and rule, `gate policy test` reports bad cases as failures, and `policy input` / `policy
eval` reproduce what `check image` evaluated on a real image."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from gate.cli import main
from tests.support.images import ImageBuilder
from tests.support.registry_server import RegistryServer

ROOT = Path(__file__).resolve().parents[2]
INPUT_SCHEMA = json.loads((ROOT / "docs" / "input.schema.json").read_text())
HEAD = "package gate.rules.site\nimport rego.v1\nimport data.gate.lib\n\n"
GOOD = 'violations contains v if {\n  input.config.user == "nobody"\n  v := {"rule": "site.nobody", "message": "no nobody"}\n}\n'


def _policy(tmp_path: Path, source: str, name: str = "site.rego") -> Path:
    directory = tmp_path / "site"
    directory.mkdir(exist_ok=True)
    (directory / name).write_text(source)
    return directory


@pytest.fixture(scope="module")
def image(registry: RegistryServer) -> str:
    builder = ImageBuilder().layer({"app/server": "x"}, created_by="COPY app /app # buildkit")
    return builder.config(user="nobody").push(registry, "t/authoring/app:1").ref


@pytest.fixture(scope="module")
def config(registry: RegistryServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("authoring") / "gate.yaml"
    path.write_text(yaml.safe_dump({"registries": {"insecure": [registry.host]}}))
    return path


@pytest.mark.parametrize(
    ("source", "line", "said"),
    [
        (HEAD + 'violations contains v if {\n  count(input.findings) > limit\n  v := {"rule": "site.a", "message": "m"}\n}\n', 6, "unsafe variable `limit`"),
        (HEAD + 'violations contains v if {\n  is_nobody(input.config.user)\n  v := {"rule": "site.a", "message": "m"}\n}\n', 6,
         "`is_nobody(…)` is not a built-in"),
        (HEAD + 'violations contains v if {\n  lib.texts(input.config.user) == ""\n  v := {"rule": "site.a", "message": "m"}\n}\n', 6, "`lib.texts(…)`"),
        ("package main\nimport rego.v1\n\ndeny contains msg if {\n  input.user.is_root\n  msg := \"root\"\n}\n", 4, "`deny` is conftest/Gatekeeper style"),
        ("package acme.checks\nimport rego.v1\n\n" + GOOD, 1, "can never fire"),
        (HEAD + 'violations contains v if {\n  v := {"rule": "site.a", "message": \n}\n', 5, "site/site.rego:5:26: this is unclosed"),
    ],
    ids=["unsafe-variable", "undefined-function", "undefined-library-function", "conftest-deny", "package-never-fires", "syntax"],
)
def test_each_mistake_is_reported_at_its_line(source: str, line: int, said: str, tmp_path: Path, image: str, config: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    directory = _policy(tmp_path, source)
    code = main(["check", "image", image, "--config", str(config), "--policy", str(directory), "--output", "json"])
    out, err = capsys.readouterr()
    assert code == 2 and out == "", "nothing on stdout: a JSON consumer never reads compiler chatter"
    assert f"site/site.rego:{line}" in err and said in err, err
    assert err.count(f"site/site.rego:{line}") == 1, "each error printed once"


def test_a_runtime_error_names_module_and_rule(tmp_path: Path, image: str, config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = HEAD + GOOD + '\nlevel := 1\n\nlevel := 2 if input.config.user == "nobody"\n\n'
    source += 'violations contains v if {\n  level > 0\n  v := {"rule": "site.level", "message": "m"}\n}\n'
    directory = _policy(tmp_path, source)
    for run in ("compiled", "from the bundle cache"):
        code = main(["check", "image", image, "--config", str(config), "--policy", str(directory), "--output", "json"])
        (violation,) = json.loads(capsys.readouterr().out)["results"][0]["violations"]
        assert code == 2 and violation["rule"] == "evaluation.error", run
        assert "site/site.rego:10: rule `level` (package gate.rules.site)" in violation["message"], run
        assert "Expecting value" not in violation["message"]


def test_a_good_site_rule_loads_and_fires(tmp_path: Path, image: str, config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    directory = _policy(tmp_path, HEAD + GOOD)
    main(["check", "image", image, "--config", str(config), "--policy", str(directory), "--output", "json"])
    rules = [v["rule"] for v in json.loads(capsys.readouterr().out)["results"][0]["violations"]]
    assert "site.nobody" in rules


def test_policy_input_and_eval_reproduce_check_image(tmp_path: Path, image: str, config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "input", image, "--config", str(config)]) == 0
    document = json.loads(capsys.readouterr().out)
    jsonschema.Draft202012Validator(INPUT_SCHEMA).validate(document)
    assert document["config"]["user"] == "nobody" and document["image"]["reference"] == image
    saved = tmp_path / "input.json"
    saved.write_text(json.dumps(document))
    main(["policy", "eval", "--input", str(saved), "--config", str(config)])
    evaluated = sorted((v["rule"], v["action"]) for v in json.loads(capsys.readouterr().out))
    main(["check", "image", image, "--config", str(config), "--output", "json"])
    checked = sorted((v["rule"], v["action"]) for v in json.loads(capsys.readouterr().out)["results"][0]["violations"])
    assert evaluated == checked and evaluated


def test_policy_eval_refuses_a_document_off_the_schema(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    saved = tmp_path / "input.json"
    saved.write_text(json.dumps({"version": 1, "image": {}}))
    assert main(["policy", "eval", "--input", str(saved)]) == 2
    assert "docs/input.schema.json" in capsys.readouterr().err


CASES = """
cases:
  - name: fires for nobody
    input: {config: {user: nobody}}
    expect: [site.nobody]
  - this case is not a mapping
  - name: a typo in a fact name
    input: {config: {usr: nobody}}
    expect_none: true
  - name: warned in the sandbox namespace
    input: {config: {user: nobody}}
    expect: [site.nobody]
    config: {namespaces: {sandbox: {rules: {user.root: {action: warn}}}}, exemptions: [{reason: demo, rules: [site.nobody], namespaces: [sandbox]}]}
    namespace: sandbox
    actions: {site.nobody: warn}
  - name: a wrong final action fails
    input: {config: {user: nobody}}
    expect: [site.nobody]
    actions: {site.nobody: warn}
  - name: quiet for others
    expect_none: true
"""


def test_policy_test_reports_bad_cases_and_final_actions(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    directory = _policy(tmp_path, HEAD + GOOD)
    (directory / "tests").mkdir()
    (directory / "tests" / "site.yaml").write_text(CASES)
    code = main(["policy", "test", str(directory)])
    lines = capsys.readouterr().out.splitlines()
    assert code == 1
    assert "PASS  site.yaml: fires for nobody" in lines
    assert any(line.startswith("FAIL  site.yaml: cases[1]") for line in lines), "a malformed case fails alone"
    assert any(line.startswith("FAIL  site.yaml: a typo in a fact name: the case's input does not match") for line in lines)
    assert "PASS  site.yaml: warned in the sandbox namespace" in lines
    assert any(line.startswith("FAIL  site.yaml: a wrong final action fails: expected final actions") for line in lines)
    assert "PASS  site.yaml: quiet for others" in lines, "the file goes on after a failure"
    assert lines[-1] == "3 passed, 3 failed"


def test_policy_test_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "test"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].endswith("passed, 0 failed")
    broken = _policy(tmp_path, HEAD + 'violations contains v if {\n  v := {"rule": "site.a", "message": x}\n}\n')
    assert main(["policy", "test", str(broken)]) == 2, "policies that do not load are an error, not failed cases"
    assert "site/site.rego:6: unsafe variable `x`" in capsys.readouterr().err


@pytest.mark.parametrize(
    "body",
    [
        'some c in input.sbom.component_list\n  c.name in {l | some l in data.gate.params["site.a"].names}',
        'count(object.get(input, ["config", "env"], [])) > 0\n  input.config.labels["a.b"].length > 0',
    ],
    ids=["field-after-index", "field-of-a-call-result"],
)
def test_fields_after_an_index_or_a_call_are_no_variables(body: str, tmp_path: Path) -> None:
    """The load-time checks must not refuse valid Rego: `x["k"].field` reads a field, it binds nothing."""
    from gate.policy._lint import lint_modules
    from gate.policy._sources import SHIPPED_POLICY_DIR, load_modules

    directory = _policy(tmp_path, HEAD + 'violations contains v if {\n  ' + body + '\n  v := {"rule": "site.a", "message": "m"}\n}\n')
    site = load_modules((directory,))
    assert lint_modules(site, load_modules((SHIPPED_POLICY_DIR,)) + site) == []

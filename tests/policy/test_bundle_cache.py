"""Compiled Rego bundles on disk: loaded by the next process, rebuilt when anything they are built from changes."""

from __future__ import annotations

from pathlib import Path

import pytest
import regopy

from gate.config import from_mapping
from gate.policy import PolicyEvaluator
from gate.policy._bundle_cache import bundle_file
from gate.policy._embedded import EmbeddedBackend
from gate.policy._sources import Module

QUERY = "x := data.demo.answer"


def modules(answer: str) -> tuple[Module, ...]:
    return (Module("demo/a.rego", f'package demo\nanswer := "{answer}"\n'),)


def test_stored_bundle_is_loaded_instead_of_compiling(tmp_path: Path) -> None:
    assert EmbeddedBackend(modules("built"), {}, query=QUERY, cache_dir=tmp_path).evaluate({}) == "built"
    path = bundle_file(tmp_path, modules("built"), "{}", QUERY)
    assert path.is_file()
    # Plant another policy's bundle under the same name: only loading it can answer "planted".
    planter = regopy.Interpreter()
    for module in modules("planted"):
        planter.add_module(module.name, module.source)
    planter.save_bundle(str(path), planter.build(QUERY), regopy.BundleFormat.Binary)
    assert EmbeddedBackend(modules("built"), {}, query=QUERY, cache_dir=tmp_path).evaluate({}) == "planted"


def test_changed_module_or_data_builds_a_new_bundle(tmp_path: Path) -> None:
    assert EmbeddedBackend(modules("one"), {}, query=QUERY, cache_dir=tmp_path).evaluate({}) == "one"
    assert EmbeddedBackend(modules("two"), {}, query=QUERY, cache_dir=tmp_path).evaluate({}) == "two"
    with_data = EmbeddedBackend(modules("two"), {"other": 1}, query=QUERY, cache_dir=tmp_path)
    assert with_data.evaluate({}) == "two"
    assert len(list(tmp_path.glob("rego-*.rbb"))) == 3


def test_unusable_file_is_rebuilt(tmp_path: Path) -> None:
    path = bundle_file(tmp_path, modules("good"), "{}", QUERY)
    path.write_bytes(b"not a bundle")
    assert EmbeddedBackend(modules("good"), {}, query=QUERY, cache_dir=tmp_path).evaluate({}) == "good"
    assert EmbeddedBackend(modules("good"), {}, query=QUERY, cache_dir=tmp_path).evaluate({}) == "good"


def test_shipped_policies_judge_the_same_from_the_cache(tmp_path: Path) -> None:
    config = from_mapping({"scan": {"cache_dir": str(tmp_path)}})
    document = {"version": 1}
    built = PolicyEvaluator.from_config(config).evaluate(document)
    assert len(list(tmp_path.glob("rego-*.rbb"))) == 1
    loaded = PolicyEvaluator.from_config(config).evaluate(document)
    assert loaded == built and built


def test_no_cache_directory_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert EmbeddedBackend(modules("plain"), {}, query=QUERY).evaluate({}) == "plain"
    assert list(tmp_path.iterdir()) == []

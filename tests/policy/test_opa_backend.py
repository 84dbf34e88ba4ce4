"""The OPA server engine against OpaServerDouble (no OPA binary can run here): what is pushed,
what is asked, and how failures become PolicyError naming the server."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from gate.config import from_mapping
from gate.errors import PolicyError
from gate.policy import PolicyEvaluator
from gate.policy._cases import default_document
from gate.policy._opa import OpaBackend
from gate.policy._sources import Module
from tests.policy.opa_server_double import OpaServerDouble


@pytest.fixture
def double() -> Iterator[OpaServerDouble]:
    with OpaServerDouble() as server:
        yield server


@pytest.fixture
def unreachable_url() -> str:
    """A loopback URL nothing listens on (the port was bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def opa_config(url: str, **policy: object):
    return from_mapping({"policy": {"engine": "opa", "opa_url": url, **policy}, "rules": {"image.stale": {"max_age_days": 7}}})


def test_modules_and_params_are_pushed_and_decisions_asked(double: OpaServerDouble) -> None:
    evaluator = PolicyEvaluator.from_config(opa_config(double.url))
    try:
        assert set(double.policies) == {f"gate/{m.name}" for m in evaluator.modules}
        assert double.data == {"gate": {"params": {"image.stale": {"max_age_days": 7}}}}
        assert evaluator.evaluate(default_document()) == []
        assert double.requests[-1] == ("POST", "/v1/data/gate/violations")
    finally:
        evaluator.close()


def test_modules_no_longer_loaded_are_deleted_but_foreign_ones_kept(double: OpaServerDouble, tmp_path: Path) -> None:
    (tmp_path / "extra.rego").write_text("package gate.rules.extra\nimport rego.v1\nviolations := []\n")
    PolicyEvaluator.from_config(opa_config(double.url, dirs=[str(tmp_path)])).close()
    double.put_policy("team/other.rego", "package team.other\nx := 1\n")
    assert f"gate/{tmp_path.name}/extra.rego" in double.policies
    PolicyEvaluator.from_config(opa_config(double.url)).close()
    assert f"gate/{tmp_path.name}/extra.rego" not in double.policies
    assert "team/other.rego" in double.policies


def test_a_module_the_server_refuses_is_a_policy_error(double: OpaServerDouble) -> None:
    with pytest.raises(PolicyError, match=f"OPA server {double.url}: cannot push the policies"):
        OpaBackend(double.url, (Module("x/broken.rego", "package gate.rules.broken\n p := \n"),), {"gate": {"params": {}}}, timeout=5)


def test_an_undefined_decision_is_refused(double: OpaServerDouble) -> None:
    backend = OpaBackend(double.url, (Module("x/other.rego", "package other\nx := 1\n"),), {"gate": {"params": {}}}, timeout=5)
    evaluator = PolicyEvaluator((), {}, backend)
    with pytest.raises(PolicyError, match="did not produce `data.gate.violations`"):
        evaluator.evaluate(default_document())


def test_an_unreachable_server_is_a_policy_error_naming_it(unreachable_url: str) -> None:
    with pytest.raises(PolicyError, match=f"OPA server {unreachable_url}: cannot push the policies") as raised:
        PolicyEvaluator.from_config(opa_config(unreachable_url))
    assert "policy.opa_url" in raised.value.remedy


@pytest.mark.parametrize("url", ["ftp://opa:8181", "http://opa:8181/v1/data", "http://:8181", "http://opa:99999"])
def test_unusable_urls_are_refused(url: str) -> None:
    with pytest.raises(PolicyError, match="policy.opa_url"):
        OpaBackend(url, (), {"gate": {"params": {}}}, timeout=1)


def test_preloaded_mode_pushes_nothing_and_uses_what_the_server_has(double: OpaServerDouble) -> None:
    PolicyEvaluator.from_config(opa_config(double.url)).close()  # stands in for a bundle the server loaded
    double.requests.clear()
    evaluator = PolicyEvaluator.from_config(opa_config(double.url, opa_push=False))
    try:
        root = {**default_document(), "user": {"name": "root", "uid": 0, "is_root": True, "resolved_by": "default"}}
        assert [raw.rule for raw in evaluator.evaluate(root)] == ["user.root"]
        assert {method for method, _ in double.requests} == {"GET", "POST"}
    finally:
        evaluator.close()


def test_preloaded_mode_checks_the_server_at_start_up(unreachable_url: str) -> None:
    with pytest.raises(PolicyError, match="cannot list the pre-loaded policies"):
        PolicyEvaluator.from_config(opa_config(unreachable_url, opa_push=False))

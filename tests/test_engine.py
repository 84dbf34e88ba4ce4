"""Engine behaviour beyond the CLI: caching, coalescing and the last-resort fail-closed path."""

from __future__ import annotations

import asyncio
from typing import Any

from gate.config import Config
from gate.engine import Engine, WorkloadContext
from gate.policy import PolicyEvaluator
from tests.support.images import ImageBuilder
from tests.support.registry_server import RegistryServer

PASSWD = "app:x:10001:10001::/home/app:/sbin/nologin\n"


def _push(registry: RegistryServer, repo: str, content: str = "v1") -> str:
    image = ImageBuilder().layer({"etc/passwd": PASSWD, "app/version": content}).config(user="10001")
    return image.push(registry, f"{repo}:1").ref


class DefectivePolicyDouble:
    """Test double standing in for a defect inside gate: a policy evaluator that raises a
    non-gate exception. No real input makes the shipped code fail this way on purpose."""

    def __init__(self, real: PolicyEvaluator) -> None:
        self.digest, self.reads_context, self.reads_large = real.digest, real.reads_context, real.reads_large

    def evaluate(self, document: dict[str, Any]) -> list[Any]:
        raise KeyError("boom")


def test_a_defect_fails_closed_instead_of_crashing(registry: RegistryServer, gate_config: Config, repo: str) -> None:
    ref = _push(registry, repo)
    policy = DefectivePolicyDouble(PolicyEvaluator.from_config(gate_config))

    async def run() -> Any:
        async with Engine(gate_config, policy=policy) as engine:  # type: ignore[arg-type]
            return await engine.check(ref)

    result = asyncio.run(run())
    (violation,) = result.violations
    assert (result.decision, violation.rule, violation.action) == ("deny", "evaluation.error", "deny")
    assert "internal error (KeyError)" in violation.message


def test_warm_checks_make_no_registry_requests_and_coalesce(registry: RegistryServer, gate_config: Config, repo: str) -> None:
    ref = _push(registry, repo)

    async def run() -> tuple[int, int, int]:
        async with Engine(gate_config) as engine:
            first = await asyncio.gather(*(engine.check(ref) for _ in range(8)))
            cold = engine.client.request_count
            await engine.check(ref)
            await engine.check(ref, WorkloadContext(namespace="other"))
            assert {r.decision for r in first} == {"deny"}  # unsigned: signature.missing
            return cold, engine.client.request_count, engine.stats()["caches"]["facts"].loads

    cold, warm, facts_loads = asyncio.run(run())
    assert warm == cold, "warm checks, even from another namespace, are served from cache"
    assert facts_loads == 1, "eight concurrent cold checks shared one evaluation"

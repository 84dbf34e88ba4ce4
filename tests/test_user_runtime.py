"""user.root on real images: the USER and /etc/passwd an attacker writes are read as the runtime
(moby/sys user, containerd) reads them, and the workload's runAsNonRoot never excuses a uid the
runtime truncates (CVE-2024-40635)."""

from __future__ import annotations

import asyncio

import pytest

from gate.engine import Engine, WorkloadContext
from gate.report import ImageResult
from tests.support.gate_config import config_for
from tests.support.images import ImageBuilder
from tests.support.registry_server import RegistryServer
from tests.test_cli import EVIDENCE_OFF, RECENT

HONEST_PASSWD = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n"


NO_CONTEXT = WorkloadContext()


def _judge(registry: RegistryServer, repo: str, user: str, passwd: str, context: WorkloadContext = NO_CONTEXT) -> ImageResult:
    image = ImageBuilder().layer({"etc/passwd": passwd, "app/run": "#!/bin/sh\n"}, created_by="COPY app /app")
    ref = image.config(user=user, created=RECENT).push(registry, f"{repo}:1").ref

    async def run() -> ImageResult:
        async with Engine(config_for(registry, rules=EVIDENCE_OFF)) as engine:
            return await engine.check(ref, context)

    return asyncio.run(run())


def _rules(result: ImageResult) -> list[str]:
    return [violation.rule for violation in result.violations]


@pytest.mark.parametrize(("user", "passwd"), [
    ("app", "app:x:abc:0::/:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n"),  # runc reads the first, uid 0
    ("app", "app:x: 1000:0::/:/bin/sh\n"),  # a space inside the uid field reads as 0
    ("app", "app\napp:x:1000:1000::/home/app:/bin/sh\n"),  # a line without a uid field is uid 0
    ("١٠٠٠", "١٠٠٠:x:0:0::/:/bin/sh\n"),  # Arabic-Indic digits are a name, not uid 1000
    ("+0", HONEST_PASSWD),
    ("4294967296", HONEST_PASSWD),  # uint32(4294967296) == 0
    ("app", "app:x:4294967296:0::/:/bin/sh\n"),
    ("²", HONEST_PASSWD),  # a digit Python's int() cannot read: no crash, unresolvable
])
def test_hostile_users_are_denied(user: str, passwd: str, registry: RegistryServer, repo: str) -> None:
    result = _judge(registry, repo, user, passwd)
    assert (result.decision, _rules(result)) == ("deny", ["user.root"])


def test_run_as_non_root_does_not_excuse_a_truncated_uid(registry: RegistryServer, repo: str) -> None:
    result = _judge(registry, repo, "4294967296", HONEST_PASSWD, WorkloadContext(run_as_non_root=True))
    (violation,) = result.violations
    assert (result.decision, violation.rule) == ("deny", "user.root")
    assert "CVE-2024-40635" in violation.message and violation.details["resolved_by"] == "out-of-range"


@pytest.mark.parametrize(("user", "context"), [
    ("app", WorkloadContext()),
    ("1000", WorkloadContext()),
    ("+1000", WorkloadContext()),
    ("app:1000", WorkloadContext()),
    ("", WorkloadContext(run_as_non_root=True)),  # the kubelet refuses uid 0 itself
    ("4294967296", WorkloadContext(run_as_user=1000)),  # runAsUser replaces the image's user
])
def test_honest_equivalents_are_allowed(user: str, context: WorkloadContext, registry: RegistryServer, repo: str) -> None:
    result = _judge(registry, repo, user, HONEST_PASSWD, context)
    assert (result.decision, _rules(result)) == ("allow", [])

"""Policy evaluation per image, embedded regopy and OPA server (double), in µs (issue 6).

Run: ``.venv/bin/python bench/policy_bench.py``. Three input documents: a clean image (the
default test document, no violation), a bad one (root, unpinned builder, no signature, stale, five
secret findings), a large one (200 findings, ~40 KiB), one with three matching image policies
(``scoped``) and one with 200 SBOM components (``sbom200``: what a policy reading
``component_list`` costs). Each is evaluated many times after one
warm-up; the median and p95 are printed, plus ``decide()`` and evaluator construction. The OPA
numbers use ``tests/policy/opa_server_double.py`` (HTTP on loopback, regopy behind it), so they
measure gate's client side plus the HTTP round trip, not OPA's own evaluator. The warm admission
path needs none of this: a cached verdict skips evaluation (cache key: image digest,
``evaluator.digest`` and the ``reads_context`` keys of the workload context).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gate.config import from_mapping  # noqa: E402
from gate.policy import PolicyEvaluator, decide  # noqa: E402
from gate.policy._cases import deep_merge, default_document  # noqa: E402
from tests.policy.opa_server_double import OpaServerDouble  # noqa: E402

RUNS = 200
NOW = dt.datetime(2026, 11, 26, 14, tzinfo=dt.timezone.utc)


def finding(index: int) -> dict:
    return {"rule": "secret.file", "detector": "npm-token", "path": f"app/node_modules/pkg{index}/.npmrc", "layer": 3,
            "layer_digest": "sha256:" + "6" * 64, "deleted_in_layer": None, "history": "COPY . /app # buildkit", "name": None}


def documents() -> dict[str, dict]:
    clean = default_document()
    bad = deep_merge(clean, {
        "config": {"user": "", "created_ns": 1700000000000000000},
        "user": {"name": "root", "uid": 0, "is_root": True, "resolved_by": "default"},
        "signatures": {"found": 0, "verified": [], "rejected": []},
        "provenance": {"present": False, "verified": False, "stages": [], "materials": []},
        "findings": [finding(i) for i in range(5)],
    })
    large = deep_merge(clean, {"findings": [finding(i) for i in range(200)]})
    scoped = deep_merge(clean, {"image_policies": [image_policy(f"p{i}") for i in range(3)], "params": {"image.stale": {"max_age_days": 30}}})
    sbom = deep_merge(clean, {"sbom": {"component_list": [component(i) for i in range(200)]}})
    return {"clean": clean, "bad": bad, "large": large, "scoped": scoped, "sbom200": sbom}


def image_policy(name: str) -> dict:
    """A matching image policy entry as the engine builds it (two authorities, one required attestation)."""
    return {"name": name, "threshold": 1, "authorities": ["ci", "release"], "signed_by": ["ci"], "missing": ["release"], "satisfied": True,
            "attestations": [{"type": "https://slsa.dev/provenance/v1", "present": True, "verified": True}]}


def component(index: int) -> dict:
    """One SBOM component (only filled in the input when a loaded policy reads ``component_list``)."""
    return {"name": f"pkg{index}", "version": "1.0.0", "purl": f"pkg:npm/pkg{index}@1.0.0", "type": "library", "licenses": ["MIT"]}


def timed(function: Callable[[], object], runs: int = RUNS) -> tuple[float, float]:
    """Median and p95 in µs."""
    function()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        samples.append((time.perf_counter() - start) * 1e6)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


def report(engine: str, evaluator: PolicyEvaluator) -> None:
    for name, document in documents().items():
        size = len(json.dumps(document)) / 1024
        median, p95 = timed(functools.partial(evaluator.evaluate, document))
        count = len(evaluator.evaluate(document))
        print(f"{engine:<9} {name:<7} {size:5.1f} KiB  {count:3d} violations  median {median:8.0f} µs  p95 {p95:8.0f} µs")


def threaded(evaluator: PolicyEvaluator, threads: int) -> float:
    """Mean µs per evaluation with ``threads`` threads sharing one evaluator (clean document)."""
    document, per_thread = default_document(), RUNS // threads

    def work() -> None:
        for _ in range(per_thread):
            evaluator.evaluate(document)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    start = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return (time.perf_counter() - start) * 1e6 / (per_thread * threads)


def main() -> None:
    config = from_mapping({})
    build, _ = timed(lambda: PolicyEvaluator.from_config(config), runs=5)
    print(f"embedded evaluator construction (load + compile every module): {build / 1000:.0f} ms")
    embedded = PolicyEvaluator.from_config(config)
    report("embedded", embedded)
    for threads in (1, 2, 4):
        print(f"embedded {threads} thread(s) sharing one evaluator: {threaded(embedded, threads):.0f} µs per evaluation (wall / count)")
    raws = embedded.evaluate(documents()["bad"])
    median, p95 = timed(lambda: decide(raws, config, namespace="shop", image="registry.example/shop/api:1.4", now=NOW))
    print(f"decide() on {len(raws)} raw violations: median {median:.0f} µs  p95 {p95:.0f} µs")
    with OpaServerDouble() as double:
        opa = PolicyEvaluator.from_config(from_mapping({"policy": {"engine": "opa", "opa_url": double.url}}))
        try:
            report("opa-double", opa)
        finally:
            opa.close()


if __name__ == "__main__":
    main()

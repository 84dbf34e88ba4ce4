"""Admission latency with and without the background audit running (issue "continuous audit").

Run: ``.venv/bin/python bench/audit_bench.py [--seconds 10] [--rate 100] [--images 120]``.

Everything real and local except the Kubernetes API: Debian's registry on 127.0.0.1 with
``--images`` distinct images (two layers each, so every audit judgement fetches and scans), the
KubernetesApiDouble (in this process) listing one Deployment per image over TLS, and ``gate
serve`` in its own process (TLS, ``KUBECONFIG`` aimed at the double). The load is open-loop:
``--rate`` reviews per second of a warm 3-image Deployment, spread over 4 keep-alive
connections, for ``--seconds``; the latency of each answer is recorded.

Phases, each with a fresh server: no audit; the audit at the chart's default rate (2 images/s);
the audit at 20 images/s. The audit starts at start-up, so it runs through the whole window.
Reported: p50/p99/mean latency, their ratio to the no-audit phase, and how many images the
audit judged meanwhile (the server's facts-cache misses). JSON on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402
import trustme  # noqa: E402
import uvloop  # noqa: E402
import yaml  # noqa: E402

from bench.webhook_bench import PASSWD, Connection, client_context, push_images, review_body, start_server  # noqa: E402
from tests.admission.kubernetes_api_double import KubernetesApiDouble  # noqa: E402
from tests.admission.webhook_server import write_cert  # noqa: E402
from tests.audit.cluster import ClusterBuilder, pod_spec  # noqa: E402
from tests.support.images import ImageBuilder  # noqa: E402
from tests.support.registry_server import start_registry  # noqa: E402

CONNECTIONS = 4
LAYER_BYTES = 256 * 1024


def push_audited(registry: Any, count: int) -> list[str]:
    """``count`` distinct images of two layers of random bytes (nothing shared, nothing compressible)."""
    generator = random.Random(7)
    references = []
    for n in range(count):
        image = ImageBuilder().layer({"etc/passwd": PASSWD, f"lib/blob{n}": generator.randbytes(LAYER_BYTES)})
        image.layer({f"app/run{n}": generator.randbytes(LAYER_BYTES)}).config(user="1000").push(registry, f"audited/app{n}:1")
        references.append(f"{registry.host}/audited/app{n}:1")
    return references


def write_kubeconfig(double: KubernetesApiDouble, ca_file: Path, directory: Path) -> Path:
    document = {
        "apiVersion": "v1", "kind": "Config", "current-context": "double",
        "clusters": [{"name": "double", "cluster": {"server": double.url, "certificate-authority": str(ca_file)}}],
        "users": [{"name": "gate", "user": {"token": double.token}}],
        "contexts": [{"name": "double", "context": {"cluster": "double", "user": "gate"}}],
    }
    path = directory / "kubeconfig"
    path.write_text(yaml.safe_dump(document))
    return path


async def steady(port: int, context: ssl.SSLContext, body: bytes, rate: float, seconds: float) -> list[float]:
    """Open-loop load: each connection sends on its own schedule, whatever the answers' speed."""
    connections = [await Connection.open(port, context) for _ in range(CONNECTIONS)]
    latencies: list[float] = []
    period = CONNECTIONS / rate
    start = time.perf_counter()

    async def run(index: int, connection: Connection) -> None:
        slot = start + index * period / CONNECTIONS
        while slot < start + seconds:
            await asyncio.sleep(max(slot - time.perf_counter(), 0))
            began = time.perf_counter()
            status, answer = await connection.post(body)
            assert status == 200, answer
            latencies.append(time.perf_counter() - began)
            slot += period

    await asyncio.gather(*(run(index, connection) for index, connection in enumerate(connections)))
    for connection in connections:
        connection.close()
    return sorted(latencies)


def facts_misses(url: str, context: ssl.SSLContext) -> int:
    text = httpx.get(f"{url}/metrics", verify=context, timeout=30).text
    line = next((line for line in text.splitlines() if line.startswith('gate_cache_lookups_total{cache="facts",result="miss"}')), None)
    return int(float(line.split()[1])) if line else 0


def phase(workdir: Path, config: dict[str, Any], cert: Path, key: Path, ca: trustme.CA, body: bytes, args: argparse.Namespace) -> dict[str, Any]:
    process, url = start_server(workdir, config, cert, key, ca)
    try:
        port, context = int(url.rsplit(":", 1)[1]), client_context(ca)
        before = facts_misses(url, context)
        asyncio.run(steady(port, context, body, 10, 1.0))  # warm the admission verdicts
        latencies = asyncio.run(steady(port, context, body, args.rate, args.seconds))
        audited = facts_misses(url, context) - before
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
    return {
        "reviews": len(latencies),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 2),
        "mean_ms": round(statistics.fmean(latencies) * 1000, 2),
        "images_judged_meanwhile": audited,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=100.0, help="admission reviews per second")
    parser.add_argument("--images", type=int, default=120, help="distinct images running in the cluster")
    args = parser.parse_args()
    uvloop.install()
    with tempfile.TemporaryDirectory(prefix="gate-audit-bench-") as tmp:
        workdir = Path(tmp)
        registry = start_registry(workdir / "registry")
        ca = trustme.CA()
        server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ca.issue_cert("127.0.0.1").configure_cert(server_context)
        double = KubernetesApiDouble(server_context)
        try:
            ca_file = workdir / "ca.pem"
            ca.cert_pem.write_to_path(str(ca_file))
            os.environ["KUBECONFIG"] = str(write_kubeconfig(double, ca_file, workdir))
            cluster = ClusterBuilder(double)
            for index, image in enumerate(push_audited(registry, args.images)):
                cluster.deployment(f"team{index % 10}", f"app{index}", pod_spec(image), replicas=2)
            warm = [f"{registry.host}/{ref}" for ref in push_images(registry, 3, "warm")]
            body = review_body("Deployment", warm)
            cert, key = write_cert(ca, workdir)
            base = {"registries": {"insecure": [registry.host]}}
            report: dict[str, Any] = {"rate_per_s": args.rate, "seconds": args.seconds, "images_in_cluster": args.images}
            report["no_audit"] = phase(workdir, base, cert, key, ca, body, args)
            for rate in (2, 20):
                audit = {"enabled": True, "interval": 3600, "images_per_second": rate, "lease_namespace": "gate-system", "lease_name": f"bench-{rate}"}
                found = phase(workdir, base | {"audit": audit}, cert, key, ca, body, args)
                found["p50_ratio"] = round(found["p50_ms"] / report["no_audit"]["p50_ms"], 2)
                found["p99_ratio"] = round(found["p99_ms"] / report["no_audit"]["p99_ms"], 2)
                found["mean_ratio"] = round(found["mean_ms"] / report["no_audit"]["mean_ms"], 2)
                report[f"audit_{rate}_images_per_s"] = found
            report["policy_reports_written"] = len(double.of("policyreports"))
            print(json.dumps(report, indent=2))
        finally:
            double.stop()
            registry.stop()


if __name__ == "__main__":
    main()

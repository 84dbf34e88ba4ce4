"""Admission latency with and without the background audit running (issue "continuous audit").

Run: ``.venv/bin/python bench/audit_bench.py [--seconds 10] [--rate 100] [--images 120]``.

Everything real and local except the Kubernetes API: Debian's registry on 127.0.0.1 with
``--images`` distinct images (two layers each, so every audit judgement fetches and scans), the
KubernetesApiDouble in a process of its own listing one Deployment per image over TLS, and
``gate serve`` in its own process (TLS, ``KUBECONFIG`` aimed at the double; the audit in its
child process). The load is open-loop: ``--rate`` reviews per second of a warm 3-image
Deployment, spread over 4 keep-alive connections, for ``--seconds``; each answer's latency is
recorded.

Phases, each with a fresh server: no audit; the audit at the chart's default rate (2 images/s);
the audit at 20 images/s. Each window starts once the audit has begun judging. The machine is
shared, so the three phases run ``--rounds`` times in turn and each round's ratios to its own
no-audit phase are reported, with their median. Also reported: how many audited images'
manifests the registry served meanwhile (its access log). JSON on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
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

import trustme
import uvloop
import yaml

from bench.webhook_bench import (
    PASSWD,
    SERVER,
    Connection,
    client_context,
    push_images,
    review_body,
    start_server,
)
from tests.admission.kubernetes_api_double import KubernetesApiDouble
from tests.admission.webhook_server import write_cert
from tests.audit.cluster import ClusterBuilder, pod_spec
from tests.support.images import ImageBuilder
from tests.support.registry_server import start_registry

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


def serve_double(images: list[str], cert: Path, key: Path, urls: Any, stop: Any) -> None:
    """The KubernetesApiDouble with one Deployment per image, in this (child) process until ``stop``."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    double = KubernetesApiDouble(context)
    cluster = ClusterBuilder(double)
    for index, image in enumerate(images):
        cluster.deployment(f"team{index % 10}", f"app{index}", pod_spec(image), replicas=2)
    urls.put(double.url)
    stop.wait()
    double.stop()


def write_kubeconfig(url: str, ca_file: Path, directory: Path) -> Path:
    document = {
        "apiVersion": "v1", "kind": "Config", "current-context": "double",
        "clusters": [{"name": "double", "cluster": {"server": url, "certificate-authority": str(ca_file)}}],
        "users": [{"name": "gate", "user": {"token": "test-token"}}],
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


def audited_manifests(registry: Any) -> int:
    """Manifest reads of audited images so far, from the registry's access log."""
    return sum(1 for line in registry.log().splitlines() if "/v2/audited/" in line and "/manifests/" in line)


def phase(workdir: Path, config: dict[str, Any], cert: Path, key: Path, ca: trustme.CA, body: bytes, args: argparse.Namespace, registry: Any) -> dict[str, Any]:
    config_path = workdir / "gate.yaml"
    config_path.write_text(yaml.safe_dump(config))
    context = client_context(ca)
    process, url = start_server(workdir, "gate", SERVER, config_path, cert, key, context)
    try:
        port = int(url.rsplit(":", 1)[1])
        asyncio.run(steady(port, context, body, 10, 1.0))  # warm the admission verdicts
        began = audited_manifests(registry)
        deadline = time.monotonic() + 60
        while "audit" in config and audited_manifests(registry) == began and time.monotonic() < deadline:
            time.sleep(0.2)  # the audit child is up and judging
        before = audited_manifests(registry)
        latencies = asyncio.run(steady(port, context, body, args.rate, args.seconds))
        audited = audited_manifests(registry) - before
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
        "audited_manifest_reads_meanwhile": audited,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=100.0, help="admission reviews per second")
    parser.add_argument("--images", type=int, default=120, help="distinct images running in the cluster")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    uvloop.install()
    with tempfile.TemporaryDirectory(prefix="gate-audit-bench-") as tmp:
        workdir = Path(tmp)
        registry = start_registry(workdir / "registry", extra_config={"log": {"level": "info", "accesslog": {"disabled": False}}})
        ca = trustme.CA()
        leaf = ca.issue_cert("127.0.0.1")
        double_cert, double_key, ca_file = workdir / "double.crt", workdir / "double.key", workdir / "ca.pem"
        leaf.cert_chain_pems[0].write_to_path(str(double_cert))
        leaf.private_key_pem.write_to_path(str(double_key))
        ca.cert_pem.write_to_path(str(ca_file))
        spawn = multiprocessing.get_context("spawn")
        urls, stop = spawn.Queue(), spawn.Event()
        double = spawn.Process(target=serve_double, args=(push_audited(registry, args.images), double_cert, double_key, urls, stop), daemon=True)
        double.start()
        try:
            os.environ["KUBECONFIG"] = str(write_kubeconfig(urls.get(timeout=60), ca_file, workdir))
            warm = [f"{registry.host}/{ref}" for ref in push_images(registry, 3, "warm")]
            body = review_body("Deployment", warm)
            cert, key = write_cert(ca, workdir)
            base = {"registries": {"insecure": [registry.host]}}
            report: dict[str, Any] = {"rate_per_s": args.rate, "seconds": args.seconds, "images_in_cluster": args.images, "rounds": []}
            for round_number in range(args.rounds):
                found: dict[str, Any] = {"no_audit": phase(workdir, base, cert, key, ca, body, args, registry)}
                for rate in (2, 20):
                    audit = {"enabled": True, "interval": 3600, "images_per_second": rate, "lease_namespace": "gate-system", "lease_name": f"bench-{round_number}-{rate}"}
                    measured = phase(workdir, base | {"audit": audit}, cert, key, ca, body, args, registry)
                    for name in ("p50", "p99", "mean"):
                        measured[f"{name}_ratio"] = round(measured[f"{name}_ms"] / found["no_audit"][f"{name}_ms"], 2)
                    found[f"audit_{rate}_images_per_s"] = measured
                report["rounds"].append(found)
            report["median_ratios"] = {
                f"audit_{rate}_images_per_s": {
                    name: statistics.median(r[f"audit_{rate}_images_per_s"][f"{name}_ratio"] for r in report["rounds"]) for name in ("p50", "p99", "mean")
                }
                for rate in (2, 20)
            }
            print(json.dumps(report, indent=2))
        finally:
            stop.set()
            double.join(10)
            registry.stop()


if __name__ == "__main__":
    main()

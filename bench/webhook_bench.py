"""Webhook throughput, latency, cold-path cost and memory (issue 7 "Performance").

Run: ``.venv/bin/python bench/webhook_bench.py [--requests 20000] [--seconds 20] [--clients 16]``.

Everything is real and local: Debian's registry on 127.0.0.1 behind a counting proxy
(``LyingRegistryProxyDouble``, ~1 ms per request of its own), images pushed with the test image
factory, and ``gate serve`` in its own process over TLS (trustme certificate). The load generator
is this process: raw keep-alive TLS connections on uvloop, so it costs the server little CPU, but
both share the machine's cores.

1. cold path: one single-image Pod review per fresh image (nothing cached); latency and the
   registry requests it caused (layer scan off: config, signatures, attestations).
2. warm path: a 3-image Deployment review whose verdicts are cached, from ``--clients``
   keep-alive connections, until ``--requests`` answers or ``--seconds`` pass; reviews/s, p50, p99.
   The same review is then sent to ``/mutate`` (tags resolved from the cache, one JSONPatch with
   three pins) the same way, and the ratio of the two throughputs is reported.
3. memory: the server's peak RSS with 500 reviews in flight at once (500 connections, each a
   different image tag, the registry stalled 0.5 s so they overlap), and with 500 warm ones.

The report is JSON on stdout; the proxy's threads log broken pipes on stderr when the server
gives up on stalled requests (run with ``2>/dev/null`` for the report alone).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402
import trustme  # noqa: E402
import uvloop  # noqa: E402
import yaml  # noqa: E402

from tests.admission.reviews import containers, review  # noqa: E402
from tests.admission.webhook_server import write_cert  # noqa: E402
from tests.registry.lying_proxy_double import LyingRegistryProxyDouble  # noqa: E402
from tests.support.images import ImageBuilder  # noqa: E402
from tests.support.registry_server import free_port, start_registry  # noqa: E402

SERVER = (  # what `gate serve --config F --host H --port P --tls-cert C --tls-key K` runs
    "import sys; from gate.admission import serve; from gate.config import load; "
    "serve(load(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5])"
)
PASSWD = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n"  # noqa: S105 - /etc/passwd content, not a password
IN_FLIGHT = 500


def push_images(registry: Any, count: int, prefix: str, tags: int = 1) -> list[str]:
    """``count`` distinct non-root images (each under ``tags`` tags) as references without host."""
    references = []
    for n in range(count):
        image = ImageBuilder().layer({"etc/passwd": PASSWD, f"app/{prefix}{n}": f"{prefix}{n}"}).config(user="1000")
        for tag in range(tags):
            image.push(registry, f"bench/{prefix}{n}:t{tag}")
            references.append(f"bench/{prefix}{n}:t{tag}")
    return references


def start_server(workdir: Path, config: dict[str, Any], cert: Path, key: Path, ca: trustme.CA) -> tuple[subprocess.Popen[bytes], str]:
    config_path = workdir / "gate.yaml"
    config_path.write_text(yaml.safe_dump(config))
    port = free_port()
    log = (workdir / "server.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(config_path), "127.0.0.1", str(port), str(cert), str(key)],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
    )
    url = f"https://127.0.0.1:{port}"
    context = client_context(ca)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gate serve exited: {(workdir / 'server.log').read_text()}")
        try:
            if httpx.get(f"{url}/readyz", verify=context, timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("gate serve did not become ready")


@contextlib.contextmanager
def serving(workdir: Path, config: dict[str, Any]) -> Iterator[tuple[subprocess.Popen[bytes], str, int, ssl.SSLContext]]:
    """``gate serve`` over TLS with a fresh CA for the duration: (process, url, port, client TLS context)."""
    ca = trustme.CA()
    cert, key = write_cert(ca, workdir)
    process, url = start_server(workdir, config, cert, key, ca)
    try:
        yield process, url, int(url.rsplit(":", 1)[1]), client_context(ca)
    finally:
        stop_server(process)


def stop_server(process: subprocess.Popen[bytes] | None) -> None:
    """Stop ``gate serve`` politely (SIGTERM drains in-flight reviews), killing it after 15 s."""
    if process is None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()


def client_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


def rss_kib(pid: int) -> dict[str, int]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0])
    return fields


class Connection:
    """One keep-alive HTTP/1.1 connection over TLS that POSTs a prepared body."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int, context: ssl.SSLContext) -> "Connection":
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context, server_hostname="127.0.0.1")
        return cls(reader, writer)

    async def post(self, body: bytes, path: str = "/validate") -> tuple[int, bytes]:
        head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        self.writer.write(head.encode() + body)
        headers = await self.reader.readuntil(b"\r\n\r\n")
        status = int(headers.split(b" ", 2)[1])
        length = next(int(line.split(b":")[1]) for line in headers.split(b"\r\n") if line.lower().startswith(b"content-length:"))
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


def review_body(kind: str, images: list[str]) -> bytes:
    return json.dumps(review(kind, containers(*images))).encode()


async def cold_path(port: int, context: ssl.SSLContext, proxy: LyingRegistryProxyDouble, images: list[str]) -> list[dict[str, Any]]:
    connection = await Connection.open(port, context)
    results = []
    for image in images:
        proxy.seen.clear()
        began = time.perf_counter()
        status, body = await connection.post(review_body("Pod", [image]))
        elapsed = time.perf_counter() - began
        response = json.loads(body)["response"]
        results.append({"image": image, "status": status, "allowed": response["allowed"], "ms": round(elapsed * 1000, 1),
                        "registry_requests": len(proxy.seen), "requests": [f"{s.method} {s.path}" for s in proxy.seen]})
    connection.close()
    return results


async def warm_path(
    port: int, context: ssl.SSLContext, body: bytes, clients: int, requests: int, seconds: float, path: str = "/validate"
) -> dict[str, Any]:
    connections = [await Connection.open(port, context) for _ in range(clients)]
    status, first = await connections[0].post(body, path)
    assert status == 200, first
    latencies: list[float] = []
    errors = 0
    stop_at = time.perf_counter() + seconds

    async def run(connection: Connection) -> None:
        nonlocal errors
        while len(latencies) < requests and time.perf_counter() < stop_at:
            began = time.perf_counter()
            status, _ = await connection.post(body, path)
            latencies.append(time.perf_counter() - began)
            errors += status != 200

    began = time.perf_counter()
    await asyncio.gather(*(run(connection) for connection in connections))
    wall = time.perf_counter() - began
    for connection in connections:
        connection.close()
    latencies.sort()
    return {
        "reviews": len(latencies), "seconds": round(wall, 2), "reviews_per_s": round(len(latencies) / wall),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 2),
        "errors": errors, "first_answer_allowed": json.loads(first)["response"]["allowed"],
        "first_answer_patched": "patch" in json.loads(first)["response"],
    }


def slower_than_10s(url: str, context: ssl.SSLContext) -> int:
    """Reviews the server itself took more than 10 s to answer (its latency histogram)."""
    text = httpx.get(f"{url}/metrics", verify=context, timeout=60).text
    buckets = dict(line.rsplit(" ", 1) for line in text.splitlines() if line.startswith("gate_admission_review_seconds_bucket"))
    return int(float(buckets['gate_admission_review_seconds_bucket{le="+Inf"}']) - float(buckets['gate_admission_review_seconds_bucket{le="10.0"}']))


async def in_flight(port: int, context: ssl.SSLContext, bodies: list[bytes], pid: int) -> dict[str, Any]:
    connections = await asyncio.gather(*(Connection.open(port, context) for _ in bodies))
    before = rss_kib(pid)
    began = time.perf_counter()
    answers = await asyncio.gather(*(c.post(b) for c, b in zip(connections, bodies, strict=True)))
    elapsed = time.perf_counter() - began
    after = rss_kib(pid)
    for connection in connections:
        connection.close()
    return {"requests": len(bodies), "ok": sum(status == 200 for status, _ in answers), "seconds": round(elapsed, 2),
            "in_progress": sum(b"evaluation in progress" in body for _, body in answers),
            "rss_before_mib": round(before["VmRSS"] / 1024, 1), "peak_rss_mib": round(after["VmHWM"] / 1024, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--clients", type=int, default=16)
    args = parser.parse_args()
    uvloop.install()
    with tempfile.TemporaryDirectory(prefix="gate-bench-") as tmp:
        workdir = Path(tmp)
        registry = start_registry(workdir / "registry")
        proxy = LyingRegistryProxyDouble(registry.url)
        try:
            cold = push_images(registry, 3, "cold")
            warm = push_images(registry, 3, "warm")
            many = push_images(registry, 1, "many", tags=IN_FLIGHT)
            config = {"registries": {"insecure": [proxy.host]}, "scan": {"layers": False}}
            with serving(workdir, config) as (process, url, port, context):
                at = lambda refs: [f"{proxy.host}/{ref}" for ref in refs]  # noqa: E731
                report: dict[str, Any] = {"server_rss_idle_mib": round(rss_kib(process.pid)["VmRSS"] / 1024, 1)}
                report["cold"] = asyncio.run(cold_path(port, context, proxy, at(cold)))
                deployment = review_body("Deployment", at(warm))
                proxy.seen.clear()
                report["warm"] = asyncio.run(warm_path(port, context, deployment, args.clients, args.requests, args.seconds))
                report["warm"]["registry_requests"] = len(proxy.seen)
                proxy.seen.clear()
                report["warm_mutate"] = asyncio.run(warm_path(port, context, deployment, args.clients, args.requests, args.seconds, "/mutate"))
                report["warm_mutate"]["registry_requests"] = len(proxy.seen)
                report["warm_mutate"]["throughput_vs_validate"] = round(report["warm_mutate"]["reviews_per_s"] / report["warm"]["reviews_per_s"], 2)
                report["memory_warm"] = asyncio.run(in_flight(port, context, [deployment] * IN_FLIGHT, process.pid))
                proxy.stall_seconds = 0.5
                bodies = [review_body("Pod", [image]) for image in at(many)]
                report["memory_cold"] = asyncio.run(in_flight(port, context, bodies, process.pid))
                report["memory_cold"]["server_answers_over_10s"] = slower_than_10s(url, context)
            print(json.dumps(report, indent=2))
        finally:
            proxy.stop()
            registry.stop()

if __name__ == "__main__":
    main()

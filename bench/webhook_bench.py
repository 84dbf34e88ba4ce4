"""Webhook throughput, latency, cold-path cost and memory, each warm figure beside its floor.

Run: ``.venv/bin/python bench/webhook_bench.py [--seconds 3] [--clients 16 500]`` (needs Debian's
``wrk``; ``make bench`` installs it).

Everything is real and local: Debian's registry on 127.0.0.1 behind a counting proxy
(``LyingRegistryProxyDouble``, ~1 ms per request of its own), images pushed with the test image
factory, and ``gate serve`` in its own process over TLS (trustme certificate). The floor is a
trivial FastAPI app (one POST handler answering a fixed small AdmissionReview) in a second process,
started by gate's own ``build_server`` (same uvicorn, uvloop, httptools, TLS and logging
settings). The warm load comes from ``wrk`` (C, keep-alive TLS connections, two threads), which
costs far less CPU per request than a Python client, so the servers, not the load generator, are
measured; both still share the machine's cores.

1. cold path: one single-image Pod review per fresh image (nothing cached); latency and the
   registry requests it caused (layer scan off: config, signatures, attestations).
2. warm path: for each ``--clients`` count, a 3-image Deployment review whose verdicts are cached
   is sent by wrk for ``--seconds`` to gate's ``/validate`` and the same connections' worth to the
   floor, in alternating slices of about a second (so the host's drift weighs on both alike), with
   each side's latency histograms merged; reviews/s, p50, p99 of each and gate's ratios to the floor
   (throughput: higher is better, target >= 0.8; latency: lower is better, p99 target <= 1.5).
   The same review is then sent to ``/mutate`` (tags resolved from the cache, one JSONPatch with
   three pins), and the ratio of its throughput to ``/validate``'s is reported.
   Last, gate's app and the floor's are called as ASGI apps inside the bench process (no TLS,
   HTTP parsing or load generator) and the best CPU per warm review of each is reported
   (``warm_in_process``): what gate's own code costs, measured without the stack's noise.
3. memory: the server's peak RSS after the warm phases (up to the largest ``--clients`` count in
   flight), with 500 reviews in flight at once (500 connections, each a different image tag, the
   registry stalled 0.5 s so they overlap), and with 500 warm ones.

The report is JSON on stdout; the proxy's threads log broken pipes on stderr when the server
gives up on stalled requests (run with ``2>/dev/null`` for the report alone).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import logging.config
import os
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import trustme  # noqa: E402
import uvloop  # noqa: E402
import yaml  # noqa: E402
from fastapi import FastAPI, Request, Response  # noqa: E402

from gate.admission import create_app  # noqa: E402
from gate.admission._logging import log_config  # noqa: E402
from gate.admission._server import build_server  # noqa: E402
from gate.admission._tls import ReloadingTLS  # noqa: E402
from gate.config import load  # noqa: E402
from tests.admission.reviews import containers, review  # noqa: E402
from tests.admission.webhook_server import write_cert  # noqa: E402
from tests.registry.lying_proxy_double import LyingRegistryProxyDouble  # noqa: E402
from tests.support.images import ImageBuilder  # noqa: E402
from tests.support.registry_server import free_port, start_registry  # noqa: E402

# What `gate serve --config F --host H --port P --tls-cert C --tls-key K` runs, and the floor.
SERVER = (
    "import sys; from gate.admission import serve; from gate.config import load; "
    "serve(load(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5])"
)
FLOOR = f"import sys; sys.path.insert(0, {str(ROOT)!r}); from bench.webhook_bench import serve_floor; serve_floor(*sys.argv[1:])"
FLOOR_ANSWER = b'{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":{"uid":"floor","allowed":true}}'
PASSWD = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n"  # noqa: S105 - /etc/passwd content, not a password
IN_FLIGHT = 500
WRK_SCRIPT = """\
-- POST the file named by the first script argument on every request; print a JSON summary.
function init(args)
  local file = assert(io.open(args[1], "rb"))
  local body = file:read("*a")
  file:close()
  prepared = wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
end

function request()
  return prepared
end

-- The latency histogram goes out whole ("microseconds:count" pairs), so slices of one run merge exactly.
function done(summary, latency, requests)
  local e = summary.errors
  local buckets = {}
  for i = 1, #latency do
    local us, count = latency(i)
    buckets[i] = string.format('"%.0f":%.0f', us, count)
  end
  io.write(string.format('WRK {"requests":%.0f,"us":%.0f,"errors":%.0f,"non_2xx":%.0f,"latency_us":{%s}}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status, table.concat(buckets, ",")))
end
"""


def serve_floor(config_path: str, host: str, port: str, cert: str, key: str) -> None:
    """The floor: a trivial FastAPI handler behind gate's own uvicorn + TLS start-up (blocking)."""
    build_server(floor_app(), load(config_path), host, int(port), ReloadingTLS(cert, key)).run()


def floor_app() -> FastAPI:
    """One POST handler answering a fixed small AdmissionReview."""
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    @app.post("/validate")
    async def validate(request: Request) -> Response:
        await request.body()
        return Response(FLOOR_ANSWER, media_type="application/json")

    @app.get("/readyz")
    async def readyz() -> Response:
        return Response(b"ready")

    return app


def push_images(registry: Any, count: int, prefix: str, tags: int = 1) -> list[str]:
    """``count`` distinct non-root images (each under ``tags`` tags) as references without host."""
    references = []
    for n in range(count):
        image = ImageBuilder().layer({"etc/passwd": PASSWD, f"app/{prefix}{n}": f"{prefix}{n}"}).config(user="1000")
        for tag in range(tags):
            image.push(registry, f"bench/{prefix}{n}:t{tag}")
            references.append(f"bench/{prefix}{n}:t{tag}")
    return references


def start_server(
    workdir: Path, name: str, code: str, config_path: Path, cert: Path, key: Path, context: ssl.SSLContext
) -> tuple[subprocess.Popen[bytes], str]:
    """Run ``code`` (``SERVER`` or ``FLOOR``) in its own process and wait until it is ready."""
    port = free_port()
    log_path = workdir / f"{name}.log"
    process = subprocess.Popen(
        [sys.executable, "-c", code, str(config_path), "127.0.0.1", str(port), str(cert), str(key)],
        stdout=log_path.open("wb"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
    )
    url = f"https://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited: {log_path.read_text()}")
        try:
            if httpx.get(f"{url}/readyz", verify=context, timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    stop_server(process)
    raise RuntimeError(f"{name} did not become ready")


@dataclass
class Served:
    """A server process over TLS: its URL and port, and a client TLS context trusting it."""

    process: subprocess.Popen[bytes]
    url: str
    context: ssl.SSLContext

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])


@contextlib.contextmanager
def serving(workdir: Path, config: dict[str, Any]) -> Iterator[tuple[Served, Served]]:
    """``gate serve`` and the floor, each over TLS with the same certificate, for the duration."""
    ca = trustme.CA()
    cert, key = write_cert(ca, workdir)
    context = client_context(ca)
    config_path = workdir / "gate.yaml"
    config_path.write_text(yaml.safe_dump(config))
    started: list[Served] = []
    try:
        for name, code in (("gate", SERVER), ("floor", FLOOR)):
            started.append(Served(*start_server(workdir, name, code, config_path, cert, key, context), context))
        yield started[0], started[1]
    finally:
        for served in started:
            stop_server(served.process)


def stop_server(process: subprocess.Popen[bytes] | None) -> None:
    """Stop a server politely (SIGTERM drains in-flight reviews), killing it after 15 s."""
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


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time the process has used (``/proc/PID/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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


async def cold_path(served: Served, proxy: LyingRegistryProxyDouble, images: list[str]) -> list[dict[str, Any]]:
    connection = await Connection.open(served.port, served.context)
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


async def first_answer(served: Served, body: bytes, path: str) -> dict[str, Any]:
    """The response to one request (which also fills gate's caches before a warm phase)."""
    connection = await Connection.open(served.port, served.context)
    status, answer = await connection.post(body, path)
    connection.close()
    assert status == 200, answer
    return json.loads(answer)["response"]


@dataclass
class Load:
    """What wrk measured against one server, summed over the slices of a phase: the latency
    histogram (microseconds to count) merges exactly, so percentiles are those of the whole phase."""

    reviews: int = 0
    seconds: float = 0.0
    errors: int = 0
    cpu_seconds: float = 0.0
    latency_us: Counter[int] = field(default_factory=Counter)

    def report(self) -> dict[str, Any]:
        return {
            "reviews": self.reviews, "reviews_per_s": round(self.reviews / self.seconds) if self.seconds else 0,
            "p50_ms": self.percentile_ms(50), "p99_ms": self.percentile_ms(99),
            "max_ms": round(max(self.latency_us, default=0) / 1000, 2), "errors": self.errors,
            "server_cpu_us_per_review": round(self.cpu_seconds / max(self.reviews, 1) * 1e6),
        }

    def percentile_ms(self, percent: float) -> float:
        """As wrk's ``stats_percentile``: the least latency whose cumulative count reaches the rank."""
        rank = round(percent / 100 * sum(self.latency_us.values()) + 0.5)
        total = 0
        for us in sorted(self.latency_us):
            total += self.latency_us[us]
            if total >= rank:
                return round(us / 1000, 2)
        return 0.0


def wrk(served: Served, path: str, body_file: Path, clients: int, seconds: float, into: Load | None = None) -> Load:
    """``clients`` keep-alive TLS connections POSTing ``body_file`` to ``path`` for ``seconds``,
    added to ``into`` (a new one by default)."""
    script = body_file.with_name("post.lua")
    script.write_text(WRK_SCRIPT)
    command = ["wrk", "-t", str(min(2, clients)), "-c", str(clients), "-d", f"{seconds:g}s", "--timeout", "10s",
               "-s", str(script), f"{served.url}{path}", "--", str(body_file)]
    cpu_before = cpu_seconds(served.process.pid)
    ran = subprocess.run(command, capture_output=True, text=True, check=False)
    cpu = cpu_seconds(served.process.pid) - cpu_before
    if ran.returncode != 0:
        raise RuntimeError(f"wrk failed: {ran.stdout}{ran.stderr}")
    found = json.loads(next(line for line in ran.stdout.splitlines() if line.startswith("WRK ")).removeprefix("WRK "))
    measured = into or Load()
    measured.reviews += found["requests"]
    measured.seconds += found["us"] / 1e6
    measured.errors += found["errors"] + found["non_2xx"]
    measured.cpu_seconds += cpu
    measured.latency_us.update({int(us): count for us, count in found["latency_us"].items()})
    return measured


def side_by_side(gate: Served, floor: Served, body_file: Path, clients: int, seconds: float) -> tuple[Load, Load]:
    """gate and the floor under the same load for ``seconds`` each, in alternating slices of about
    a second: the host's speed drifts by tens of percent over a minute, and a drift then weighs on
    both sides alike instead of on whichever ran second."""
    slices = max(1, round(seconds))
    sides = (Load(), Load())
    for _ in range(slices):
        for served, side in zip((gate, floor), sides, strict=True):
            wrk(served, "/validate", body_file, clients, seconds / slices, side)
    return sides


def beside_floor(gate_load: Load, floor_load: Load) -> dict[str, Any]:
    """gate's figures, the floor's, and their ratios (throughput >= 0.8 and p99 <= 1.5 are the targets)."""
    gate, floor = gate_load.report(), floor_load.report()
    return {
        "gate": gate, "floor": floor,
        "throughput_ratio": round(gate["reviews_per_s"] / floor["reviews_per_s"], 2),
        "p50_ratio": round(gate["p50_ms"] / floor["p50_ms"], 2),
        "p99_ratio": round(gate["p99_ms"] / floor["p99_ms"], 2),
        "cpu_per_review_ratio": round(gate["server_cpu_us_per_review"] / floor["server_cpu_us_per_review"], 2),
    }


def warm_path(gate: Served, floor: Served, proxy: LyingRegistryProxyDouble, body_file: Path, clients: list[int], seconds: float) -> dict[str, Any]:
    """Cached reviews from wrk at each connection count, gate and the floor side by side; registry requests seen."""
    body = body_file.read_bytes()
    report: dict[str, Any] = {"first_answer_allowed": asyncio.run(first_answer(gate, body, "/validate"))["allowed"]}
    proxy.seen.clear()
    for count in clients:
        report[f"clients_{count}"] = beside_floor(*side_by_side(gate, floor, body_file, count, seconds))
    report["registry_requests"] = len(proxy.seen)
    report["peak_rss_mib"] = round(rss_kib(gate.process.pid)["VmHWM"] / 1024, 1)
    return report


def warm_mutate(gate: Served, proxy: LyingRegistryProxyDouble, body_file: Path, clients: int, seconds: float, validate: dict[str, Any]) -> dict[str, Any]:
    report: dict[str, Any] = {"first_answer_patched": "patch" in asyncio.run(first_answer(gate, body_file.read_bytes(), "/mutate"))}
    proxy.seen.clear()
    report |= wrk(gate, "/mutate", body_file, clients, seconds).report()
    report["registry_requests"] = len(proxy.seen)
    report["throughput_vs_validate"] = round(report["reviews_per_s"] / validate["reviews_per_s"], 2)
    return report


def slower_than_10s(served: Served) -> int:
    """Reviews the server itself took more than 10 s to answer (its latency histogram)."""
    text = httpx.get(f"{served.url}/metrics", verify=served.context, timeout=60).text
    buckets = dict(line.rsplit(" ", 1) for line in text.splitlines() if line.startswith("gate_admission_review_seconds_bucket"))
    return int(float(buckets['gate_admission_review_seconds_bucket{le="+Inf"}']) - float(buckets['gate_admission_review_seconds_bucket{le="10.0"}']))


async def in_flight(served: Served, bodies: list[bytes]) -> dict[str, Any]:
    pid = served.process.pid
    connections = await asyncio.gather(*(Connection.open(served.port, served.context) for _ in bodies))
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


async def asgi_post(app: Any, path: str, body: bytes) -> bytes:
    """POST ``body`` to ``path`` of the ASGI ``app`` in this process; the response body."""
    received: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        received.append(message)

    headers = [(b"host", b"127.0.0.1"), (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "https", "path": path,
             "raw_path": path.encode(), "query_string": b"", "root_path": "", "headers": headers, "client": ("127.0.0.1", 1),
             "server": ("127.0.0.1", 443), "state": {}}
    await app(scope, receive, send)
    return b"".join(message.get("body", b"") for message in received if message["type"] == "http.response.body")


def in_process(config_path: Path, body: bytes, reviews: int = 500, rounds: int = 5) -> dict[str, Any]:
    """CPU per warm review of gate's app and the floor's, called as ASGI apps in this process
    (no TLS, HTTP parsing or load generator): what gate's own code costs. The review line is
    logged as ``gate serve`` logs it, to /dev/null. Best of ``rounds`` rounds of ``reviews``."""
    logging.config.dictConfig(log_config())
    with Path(os.devnull).open("w") as devnull:
        logging.getLogger("gate").handlers[0].setStream(devnull)  # type: ignore[attr-defined]
        report = asyncio.run(_in_process(create_app(load(config_path)), body, reviews, rounds))
    report["validate_vs_floor"] = round(report["validate_us_per_review"] / report["floor_us_per_review"], 2)
    return report


async def _in_process(app: Any, body: bytes, reviews: int, rounds: int) -> dict[str, Any]:
    async with app.router.lifespan_context(app):
        await asgi_post(app, "/validate", body)  # judged, then cached
        gc.collect()
        gc.freeze()  # as `gate serve` does with what start-up and the first evaluation made
        targets = (("validate", app, "/validate"), ("mutate", app, "/mutate"), ("floor", floor_app(), "/validate"))
        return {f"{name}_us_per_review": await _cpu_per_call(served, path, body, reviews, rounds) for name, served, path in targets}


async def _cpu_per_call(app: Any, path: str, body: bytes, reviews: int, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        began = time.process_time()
        for _ in range(reviews):
            await asgi_post(app, path, body)
        best = min(best, (time.process_time() - began) / reviews)
    return round(best * 1e6, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each warm phase")
    parser.add_argument("--clients", type=int, nargs="+", default=[16, IN_FLIGHT], help="connection counts of the warm phases")
    args = parser.parse_args(sys.argv[1:] if __name__ == "__main__" else [])
    if shutil.which("wrk") is None:
        raise SystemExit("webhook_bench needs wrk (Debian package `wrk`; `make bench` installs it)")
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
            with serving(workdir, config) as (gate, floor):
                at = lambda refs: [f"{proxy.host}/{ref}" for ref in refs]  # noqa: E731
                report: dict[str, Any] = {"server_rss_idle_mib": round(rss_kib(gate.process.pid)["VmRSS"] / 1024, 1)}
                report["cold"] = asyncio.run(cold_path(gate, proxy, at(cold)))
                deployment = workdir / "deployment.json"
                deployment.write_bytes(review_body("Deployment", at(warm)))
                report["warm"] = warm_path(gate, floor, proxy, deployment, args.clients, args.seconds)
                validate = report["warm"][f"clients_{args.clients[0]}"]["gate"]
                report["warm_mutate"] = warm_mutate(gate, proxy, deployment, args.clients[0], args.seconds, validate)
                report["warm_in_process"] = in_process(workdir / "gate.yaml", deployment.read_bytes())
                report["memory_warm"] = asyncio.run(in_flight(gate, [deployment.read_bytes()] * IN_FLIGHT))
                proxy.stall_seconds = 0.5
                bodies = [review_body("Pod", [image]) for image in at(many)]
                report["memory_cold"] = asyncio.run(in_flight(gate, bodies))
                report["memory_cold"]["server_answers_over_10s"] = slower_than_10s(gate)
            print(json.dumps(report, indent=2))
        finally:
            proxy.stop()
            registry.stop()


if __name__ == "__main__":
    main()

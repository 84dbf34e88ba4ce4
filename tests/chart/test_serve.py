"""The chart's pod, played locally: gate serves with exactly what the chart hands it.

The Deployment's own args (paths moved under a temp dir, the port to a free one on 127.0.0.1),
the projected /etc/gate, the serving certificate from the TLS Secret and the token from the events
Secret start a real `gate serve`. The client trusts only the webhook's caBundle and checks the
Service DNS name, as the API server does; the probes are the Deployment's own.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.chart._helm import FULLNAME, NAMESPACE, Rendered, render
from tests.chart.test_config import project_config_volume

TOKEN = "token-from-the-events-secret"
VALUES = {"mode": "warn", "events": {"enabled": True, "token": TOKEN}}


@dataclass
class Pod:
    rendered: Rendered
    port: int
    context: ssl.SSLContext

    def request(self, service: str, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        """HTTPS to 127.0.0.1 as if to ``<service>.<namespace>.svc``: SNI and name check on that name."""
        hostname = f"{service}.{NAMESPACE}.svc"
        connection = http.client.HTTPSConnection(hostname, self.port, context=self.context, timeout=10)
        raw = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        connection.sock = self.context.wrap_socket(raw, server_hostname=hostname)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _pod_args(rendered: Rendered, root: Path, port: int) -> list[str]:
    """The gate container's args with its mount points moved under ``root``."""
    moved = []
    for arg in rendered.container("gate")["args"]:
        arg = arg.replace("/etc/gate", str(root / "etc")).replace("/tls/", f"{root}/tls/")
        moved.append({"0.0.0.0": "127.0.0.1", "8443": str(port)}.get(arg, arg))  # noqa: S104 - rebinds the chart's address to loopback
    return moved


@pytest.fixture(scope="module")
def pod(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pod]:
    root = tmp_path_factory.mktemp("pod")
    rendered = render(VALUES, root)
    project_config_volume(rendered, root / "etc")
    secret = rendered.one("Secret", f"{FULLNAME}-tls")["data"]
    (root / "tls").mkdir()
    tls_volume = next(v for v in rendered.pod_spec["volumes"] if v["name"] == "tls")
    for item in tls_volume["secret"]["items"]:
        (root / "tls" / item["path"]).write_bytes(base64.b64decode(secret[item["key"]]))
    token = base64.b64decode(rendered.one("Secret", f"{FULLNAME}-events")["data"]["token"]).decode()
    port = _free_port()
    launcher = "import sys; from gate.cli import main; sys.exit(main())"  # what the image's `gate` runs
    env = {**os.environ, "HOME": str(root), "GATE_EVENTS_TOKEN": token}
    process = subprocess.Popen([sys.executable, "-c", launcher, *_pod_args(rendered, root, port)], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    context = ssl.create_default_context(cadata=base64.b64decode(rendered.webhook["clientConfig"]["caBundle"]).decode())
    served = Pod(rendered, port, context)
    try:
        _wait_until_healthy(served, process)
        yield served
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_healthy(pod: Pod, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stdout.read().decode(errors="replace") if process.stdout else ""
            pytest.fail(f"gate serve exited with {process.returncode}:\n{output}")
        try:
            if pod.request(FULLNAME, "GET", "/healthz")[0] == 200:
                return
        except OSError:
            time.sleep(0.2)
    pytest.fail("gate serve did not answer /healthz within 60 s")


def test_probes_answer_over_tls_trusted_through_the_ca_bundle(pod: Pod) -> None:
    gate = pod.rendered.container("gate")
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        get = gate[probe]["httpGet"]
        assert get["scheme"] == "HTTPS"
        assert pod.request(FULLNAME, "GET", get["path"])[0] == 200, probe


def test_metrics_and_events_services_present_the_same_trusted_certificate(pod: Pod) -> None:
    status, body = pod.request(f"{FULLNAME}-metrics", "GET", "/metrics")
    assert status == 200 and b"# TYPE" in body
    events = json.dumps({"events": []}).encode()
    headers = {"Content-Type": "application/vnd.docker.distribution.events.v1+json"}
    assert pod.request(f"{FULLNAME}-events", "POST", "/registry/events", events, {**headers, "Authorization": "Bearer wrong"})[0] == 401
    assert pod.request(f"{FULLNAME}-events", "POST", "/registry/events", events, {**headers, "Authorization": f"Bearer {TOKEN}"})[0] == 200


def test_a_name_outside_the_certificate_is_refused(pod: Pod) -> None:
    with pytest.raises(ssl.SSLCertVerificationError):
        pod.request("someone-else", "GET", "/healthz")


def test_rendered_mode_reaches_the_webhook(pod: Pod) -> None:
    """warn mode: an image that cannot be evaluated is admitted with a warning, not denied."""
    review = {
        "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {
            "uid": "chart-smoke", "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"}, "namespace": "default", "operation": "CREATE",
            "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "smoke"},
                       "spec": {"containers": [{"name": "c", "image": "127.0.0.1:9/unreachable/image:1"}]}},
        },
    }
    path = pod.rendered.webhook["clientConfig"]["service"]["path"]
    status, body = pod.request(FULLNAME, "POST", path, json.dumps(review).encode(), {"Content-Type": "application/json"})
    response = json.loads(body)["response"]
    assert status == 200 and response["uid"] == "chart-smoke"
    assert response["allowed"] is True
    assert any("evaluation.error" in warning for warning in response["warnings"])

"""The Kubernetes validating admission webhook (docs/webhook.md): AdmissionReview in, verdicts out.

    serve(config, host, port, tls_cert, tls_key, insecure_http=False)   # blocking; `gate serve`
    app = create_app(config, engine=None)                               # FastAPI app (tests, embedding)
    verdict = await judge_workload(obj, namespace, engine)              # one workload, as admission judges it

Routes: ``POST /validate``, ``POST /mutate``, ``POST /registry/events``, ``GET /healthz``, ``GET /readyz``,
``GET /metrics``. The two names load lazily so the pure helpers import without FastAPI or the engine.
"""

from __future__ import annotations

from typing import Any

__all__ = ["WorkloadError", "WorkloadVerdict", "create_app", "image_uses", "is_workload", "judge_workload", "serve"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from gate.admission._app import create_app

        return create_app
    if name in ("judge_workload", "WorkloadVerdict"):
        from gate.admission import _judging

        return getattr(_judging, name)
    if name in ("WorkloadError", "image_uses", "is_workload"):
        from gate.admission import _workloads

        return getattr(_workloads, name)
    if name == "serve":
        from gate.admission._server import serve

        return serve
    raise AttributeError(f"module 'gate.admission' has no attribute {name!r}")

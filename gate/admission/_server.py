"""Run the webhook under uvicorn (uvloop, httptools) with a certificate that follows its files."""

from __future__ import annotations

import gc
import logging
from pathlib import Path
from typing import TYPE_CHECKING

import uvicorn
from fastapi import FastAPI

from gate._lazy import import_deferred
from gate.admission._app import create_app
from gate.admission._logging import log_config
from gate.admission._pull_secrets import PullSecretReader
from gate.admission._tls import ReloadingTLS
from gate.config import Config
from gate.errors import ConfigError

if TYPE_CHECKING:
    from gate.audit import AuditProcess

log = logging.getLogger("gate.admission")

GRACEFUL_SHUTDOWN_EXTRA_SECONDS = 2.0


def build_server(
    app: FastAPI, config: Config, host: str, port: int, tls: ReloadingTLS | None, log_level: str = "INFO"
) -> uvicorn.Server:
    """A uvicorn server for ``app``: TLS through ``tls`` (None: plain HTTP), JSON logs at
    ``log_level``, and a graceful shutdown that waits out in-flight reviews (their deadline plus a
    margin)."""
    server_config = uvicorn.Config(
        app,
        host=host,
        port=port,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        log_config=log_config(log_level),
        access_log=False,
        server_header=False,
        ssl_context_factory=(lambda _config, _default: tls.context) if tls is not None else None,
        timeout_graceful_shutdown=int(config.limits.deadline_seconds + GRACEFUL_SHUTDOWN_EXTRA_SECONDS),
    )
    return uvicorn.Server(server_config)


def serve(
    config: Config,
    host: str,
    port: int,
    tls_cert: str | Path | None,
    tls_key: str | Path | None,
    insecure_http: bool = False,
    log_level: str = "INFO",
) -> None:
    """Serve the webhook until SIGTERM/SIGINT (blocking). TLS unless ``insecure_http``.

    Image pull secrets are read through the Kubernetes API when running in a cluster.

    Raises:
        ConfigError: TLS files missing or unreadable.
    """
    if insecure_http:
        tls = None
    elif tls_cert is None or tls_key is None:
        raise ConfigError("TLS needs both a certificate and a key (or --insecure-http for local testing)")
    else:
        tls = ReloadingTLS(tls_cert, tls_key)
    app = create_app(
        config, pull_secrets=_in_cluster_pull_secrets(), audit=_audit(config), after_first_evaluation=freeze_what_evaluating_loaded
    )
    server = build_server(app, config, host, port, tls, log_level)
    import_deferred()  # the readers a first review of a signed, attested image would import
    _freeze_start_up_objects()
    server.run()


def _freeze_start_up_objects() -> None:
    """Keep the collector off what start-up built (modules, policies, config: ~100k objects).

    A full collection walks every tracked object; with those in it, one took 80-200 ms on the
    event loop, every few hundred reviews under load (reviews in flight at a young collection
    are promoted and soon trigger the next full one): the webhook's latency tail. Frozen objects
    are never collected, which costs nothing for what lives as long as the process anyway.
    """
    gc.collect()
    gc.freeze()


def freeze_what_evaluating_loaded() -> None:
    """Freeze, like start-up's, the modules and tables the first evaluation imported lazily
    (HTTP and TLS backends, scanners, policy runtime): left in the collector's reach they made
    each of the next full collections as slow as the ones the start-up freeze removed (~80 ms).

    Only the young generations are collected first: a full collection here would stall the event
    loop once more, and whatever cyclic garbage has already grown old stays (it is small)."""
    gc.collect(1)
    gc.freeze()


def _audit(config: Config) -> "AuditProcess | None":
    """The background audit, when it is enabled and Kubernetes credentials exist."""
    if not config.audit.enabled:
        return None
    from gate.audit import AuditProcess, api_client

    try:
        api_client().close()
    except ConfigError as exc:
        log.error("audit.enabled is set but the audit cannot run: %s", exc)
        return None
    return AuditProcess(config)


def _in_cluster_pull_secrets() -> PullSecretReader | None:
    try:
        return PullSecretReader.in_cluster()
    except ConfigError as exc:
        log.info("imagePullSecrets will not be read: %s", exc)
        return None

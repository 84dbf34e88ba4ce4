"""The ``gate`` command: parse arguments, load config, call the engine, render, exit 0/1/2 (docs/report.md)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from gate import __version__
from gate._progress import terminal_progress
from gate import config as config_module
from gate.config import Config
from gate.errors import GateError, LimitExceeded
from gate.report import ImageResult, Report, render_json, render_sarif, render_table

if TYPE_CHECKING:
    from gate.attest import Attester
    from gate.engine import Engine

EXIT_USAGE = 2
DEFAULT_TIMEOUT = 900.0  # seconds for a whole `gate check image`: long layer scans fit, a hung registry does not


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gate", description="Supply-chain gate for container images.")
    parser.add_argument("--version", action="version", version=f"gate {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    check = commands.add_parser("check", help="judge artefacts without admitting anything (a dry run)")
    check_kinds = check.add_subparsers(dest="kind", required=True)
    image = check_kinds.add_parser("image", help="judge one or more image references")
    image.add_argument("references", nargs="+", metavar="REF")
    image.add_argument("--config", type=Path, help="gate configuration file (YAML)")
    image.add_argument("--policy", type=Path, action="append", default=[], metavar="DIR",
                       help="extra directory of Rego policies, loaded beside the shipped ones (repeatable)")
    image.add_argument("--output", choices=("table", "json", "sarif"), default="table")
    image.add_argument("--platform", metavar="OS/ARCH", help="judge only this platform of a multi-arch index")
    image.add_argument("--no-layer-scan", action="store_true", help="read config and history, not the layers")
    image.add_argument("--offline", action="store_true",
                       help="never refresh the Sigstore trust root; use the configured or shipped copy")
    image.add_argument("--namespace", metavar="NS",
                       help="judge as for a workload in this namespace (its overrides, exemptions and image policies)")
    image.add_argument("--timeout", type=_positive_seconds, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                       help=f"overall deadline for the whole check (default {DEFAULT_TIMEOUT:g}); an image not "
                            "judged by then is an evaluation.error (exit 2), so a registry that drip-feeds "
                            "bytes cannot hang CI")
    image.add_argument("--attest", action="store_true",
                       help="sign a verification summary of each verdict (attest.key) and attach it to the image")
    image.add_argument("--attest-key", type=Path, metavar="FILE",
                       help="PEM private key for --attest, instead of attest.key (password: GATE_ATTEST_PASSWORD)")

    audit = commands.add_parser("audit", help="judge the workloads running in a cluster, as the webhook would")
    audit.add_argument("--config", type=Path, help="gate configuration file (YAML)")
    audit.add_argument("--kubeconfig", type=Path, help="default: in-cluster credentials, else $KUBECONFIG or ~/.kube/config")
    audit.add_argument("--namespace", help="audit only this namespace (default: all)")
    audit.add_argument("--output", choices=("table", "json"), default="table")
    finder = audit.add_mutually_exclusive_group()
    finder.add_argument("--uses-builder", metavar="REF[@DIGEST]", help="list workloads whose images were built FROM this base")
    finder.add_argument("--contains", metavar="PURL", help="list workloads whose SBOM has this component (PURL[@vers:TYPE/RANGE])")

    serve = commands.add_parser("serve", help="run the Kubernetes admission webhook")
    serve.add_argument("--config", type=Path)
    serve.add_argument("--host", default="0.0.0.0")
    serve.add_argument("--port", type=int, default=8443)
    serve.add_argument("--tls-cert", type=Path)
    serve.add_argument("--tls-key", type=Path)
    serve.add_argument("--insecure-http", action="store_true", help="serve plain HTTP (local testing only)")
    serve.add_argument(
        "--log-level", default="info", type=str.lower, choices=["debug", "info", "warning", "error"],
        help="info logs every review; warning only those denied (or that would be)",
    )

    policy = commands.add_parser("policy", help="work with Rego policies")
    policy_commands = policy.add_subparsers(dest="policy_command", required=True)
    policy_test = policy_commands.add_parser("test", help="run the policy test cases")
    policy_test.add_argument("directory", nargs="?", type=Path, help="policy directory (default: the shipped one)")
    policy_test.add_argument("--config", type=Path)
    return parser


def _load_config(path: Path | None, policy_dirs: tuple[Path, ...] = ()) -> Config:
    """The config file (defaults without one); ``policy_dirs`` are Rego directories given on the
    command line, whose rule IDs the file may configure."""
    return config_module.load(path, policy_dirs=policy_dirs) if path is not None else config_module.from_mapping({})


def _check_config(args: argparse.Namespace) -> Config:
    """The config file with the command-line overrides applied on top."""
    extra_dirs = tuple(directory.resolve() for directory in args.policy)
    for directory in extra_dirs:
        if not directory.is_dir():
            raise config_module.ConfigError(f"--policy: no such directory {directory}")
    config = _attest_config(_load_config(args.config, extra_dirs), args)
    return config.model_copy(
        update={
            "policy": config.policy.model_copy(update={"dirs": config.policy.dirs + extra_dirs}),
            "scan": config.scan.model_copy(
                update={
                    "layers": config.scan.layers and not args.no_layer_scan,
                    "cache_dir": config.scan.cache_dir or config_module.default_cache_dir(),
                }
            ),
        }
    )


def _positive_seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = 0.0
    if not seconds > 0 or seconds == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of seconds")
    return seconds


def _attest_config(config: Config, args: argparse.Namespace) -> Config:
    """With ``--attest``: the key from ``--attest-key`` (checked now), and no ``trust.verifiers``,
    since a gate that vouches for an image must have looked at it itself."""
    if args.attest_key is not None and not args.attest:
        raise config_module.ConfigError("--attest-key is only used with --attest")
    if not args.attest:
        return config
    if args.attest_key is not None:
        if config.attest.verifier_id is None:
            raise config_module.ConfigError("--attest-key: attest.verifier_id must be set in the config (the id consumers list in trust.verifiers)")
        attest = config.attest.model_copy(update={"key": args.attest_key.resolve()})
        config_module.load_attest_key(attest, "--attest-key")
        config = config.model_copy(update={"attest": attest})
    if config.attest.key is None:
        raise config_module.ConfigError("--attest needs a signing key: set attest.key and attest.verifier_id in the config, or pass --attest-key")
    return config.model_copy(update={"trust": config.trust.model_copy(update={"verifiers": ()})})


async def _check_images(
    config: Config, references: Sequence[str], platform: str | None, namespace: str | None, timeout: float, attest: bool = False
) -> Report:
    from gate.attest import Attester
    from gate.engine import Engine, WorkloadContext, is_pending

    attester = Attester.from_config(config) if attest else None
    progress = terminal_progress() if config.scan.layers else None
    context = WorkloadContext(namespace=namespace)
    deadline = time.monotonic() + timeout
    with progress or contextlib.nullcontext():
        async with Engine(config, progress=progress) as engine:
            results = await asyncio.gather(*(engine.check(ref, context, platform=platform, deadline=deadline) for ref in references))
            # A run has no retry: an evaluation still going at the deadline is a time-out, not "in progress".
            late = LimitExceeded(f"timed out after --timeout {timeout:g}s", remedy="check the registry's speed, or raise --timeout")
            results = [engine.error_result(result.reference, late) if is_pending(result) else result for result in results]
            if attester is not None:  # one after another: two summaries of one image update one referrers index
                results = [await _attest(attester, engine, result, platform) for result in results]
    return Report(policy_digest=engine.policy_digest, results=tuple(results))


async def _attest(attester: "Attester", engine: "Engine", result: ImageResult, platform: str | None) -> ImageResult:
    """Attach a summary of ``result``; an image that cannot be attested gets an ``evaluation.error`` (exit 2)."""
    try:
        attested = await attester.attest(engine, result, dt.datetime.now(dt.timezone.utc), platform)
    except GateError as exc:
        if not result.evaluated:
            return result
        failed = engine.error_result(result.reference, GateError(f"not attested: {exc.message}", remedy=exc.remedy, details=dict(exc.details)))
        return replace(result, violations=(*result.violations, *failed.violations))
    print(f"gate: attested {attested.reference}: verification summary {attested.referrer_digest} ({attested.verification_result})", file=sys.stderr)
    return result


def _render(report: Report, output: str) -> str:
    renderers = {"json": render_json, "sarif": render_sarif, "table": render_table}
    return renderers[output](report)


def _run_check(args: argparse.Namespace) -> int:
    config = _check_config(args)
    report = asyncio.run(_check_images(config, args.references, args.platform, args.namespace, args.timeout, attest=args.attest))
    print(_render(report, args.output))
    return report.exit_code()


def _run_audit(args: argparse.Namespace) -> int:
    from gate.audit import render_audit_json, render_audit_table, run_audit

    outcome = run_audit(_load_config(args.config), args.kubeconfig, args.namespace, args.uses_builder, args.contains)
    print(render_audit_json(outcome) if args.output == "json" else render_audit_table(outcome))
    return outcome.exit_code()


def _run_serve(args: argparse.Namespace) -> int:
    from gate.admission import serve

    config = _load_config(args.config)
    if not args.insecure_http and (args.tls_cert is None or args.tls_key is None):
        raise config_module.ConfigError("--tls-cert and --tls-key are required (or --insecure-http for local testing)")
    serve(config, args.host, args.port, args.tls_cert, args.tls_key, insecure_http=args.insecure_http, log_level=args.log_level.upper())
    return 0


def _run_policy_test(args: argparse.Namespace) -> int:
    from gate.policy import run_policy_tests

    directories = (args.directory.resolve(),) if args.directory is not None else ()
    return run_policy_tests(args.directory, _load_config(args.config, directories), sys.stdout)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``gate`` console script; returns the process exit code."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "check":
            return _run_check(args)
        if args.command == "serve":
            return _run_serve(args)
        if args.command == "audit":
            return _run_audit(args)
        return _run_policy_test(args)
    except GateError as exc:
        print(f"gate: error: {exc.diagnostics()}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())

"""The ``gate`` command: parse arguments, load config, call the engine, render, exit 0/1/2 (docs/report.md).

What a command runs is imported by the command, so ``--help`` and argument errors answer at once
and a check loads neither the webhook nor the cluster client. A check pauses the garbage
collector while it starts up (:func:`_start_up`).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import gc
import json
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from gate import __version__
from gate.cli_config import add_registry_flags, add_trust_flags, attest_config, check_config
from gate.errors import ConfigError, GateError, LimitExceeded

if TYPE_CHECKING:
    from gate import config as config_module
    from gate.attest import Attester
    from gate.engine import Engine
    from gate.report import ImageResult, Report

EXIT_USAGE = 2
DEFAULT_TIMEOUT = 900.0  # seconds for a whole run: long layer scans fit, a hung registry does not
T = TypeVar("T")
# Flags other tools use for what gate spells differently (trivy, cosign, conftest, kyverno).
_KNOWN_ALIASES = {"--format": "--output", "-f": "--output", "--output-format": "--output", "--insecure": "--insecure-registry",
                  "--pubkey": "--key", "--identity": "--certificate-identity", "--issuer": "--certificate-oidc-issuer"}


class _Parser(argparse.ArgumentParser):
    """argparse that names the flag meant when an unknown one is close to a real one."""

    def error(self, message: str) -> NoReturn:
        hint = _suggestion(self, message)
        super().error(message + (f"\n  did you mean {hint}?" if hint else ""))


def _suggestion(parser: argparse.ArgumentParser, message: str) -> str | None:
    import difflib

    if "unrecognized arguments:" not in message:
        return None
    unknown = message.split("unrecognized arguments:", 1)[1].split()
    known = _option_strings(parser)
    for arg in unknown:
        flag = arg.split("=", 1)[0]
        if flag in _KNOWN_ALIASES and _KNOWN_ALIASES[flag] in known:
            return _KNOWN_ALIASES[flag]
        close = difflib.get_close_matches(flag, sorted(known), n=1, cutoff=0.6) if flag.startswith("-") else []
        if close:
            return close[0]
    return None


def _option_strings(parser: argparse.ArgumentParser) -> set[str]:
    found: set[str] = set()
    for action in parser._actions:
        found.update(option for option in action.option_strings if option.startswith("--"))
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found |= _option_strings(sub)
    return found


def _image_options() -> _Parser:
    """Options of every command that reads images: config, policies, trust, registries, deadline."""
    common = _Parser(add_help=False)
    common.add_argument("--config", type=Path, help="gate configuration file (YAML)")
    common.add_argument("--policy", type=Path, action="append", default=[], metavar="DIR",
                        help="extra directory of Rego policies, loaded beside the shipped ones (repeatable)")
    common.add_argument("--no-layer-scan", action="store_true", help="read config and history, not the layers")
    _add_timeout(common)
    add_trust_flags(common)
    add_registry_flags(common)
    return common


def _check_options(images: _Parser) -> _Parser:
    """Options shared by ``check image`` and ``check manifest``: the image options and the report."""
    common = _Parser(add_help=False, parents=[images])
    common.add_argument("--output", "-o", choices=("table", "json", "sarif"), default="table")
    common.add_argument("--exit-code", type=int, default=1, metavar="N",
                        help="exit code when an image is denied by policy (default 1; 0 for report-only runs). "
                             "Errors still exit 2")
    return common


def _add_timeout(parser: argparse.ArgumentParser) -> None:
    """``--timeout``: one deadline for the whole run (every image not judged by then is an error)."""
    parser.add_argument("--timeout", type=_seconds, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                        help=f"deadline for the whole run (default {DEFAULT_TIMEOUT:g}); an image not judged by then is an "
                             "evaluation.error (exit 2), so a registry that drip-feeds bytes cannot hang CI")


def _seconds(text: str) -> float:
    try:
        value = float(text.rstrip("s"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of seconds") from None
    if not 0 < value < 1e7:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of seconds")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="gate", description="Supply-chain gate for container images.")
    parser.add_argument("--version", action="version", version=f"gate {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    images = _image_options()
    common = _check_options(images)

    check = commands.add_parser("check", help="judge artefacts without admitting anything (a dry run)")
    check_kinds = check.add_subparsers(dest="kind", required=True)
    image = check_kinds.add_parser("image", parents=[common], help="judge one or more image references")
    image.add_argument("references", nargs="+", metavar="REF")
    image.add_argument("--platform", metavar="OS/ARCH", help="judge only this platform of a multi-arch index (linux/arm64, arm64)")
    image.add_argument("--namespace", "-n", metavar="NS", help="judge as the webhook would in this namespace (overrides, exemptions)")
    image.add_argument("--attest", action="store_true",
                       help="sign a verification summary of each verdict (attest.key) and attach it to the image")
    image.add_argument("--attest-key", type=Path, metavar="FILE",
                       help="PEM private key for --attest, instead of attest.key (password: GATE_ATTEST_PASSWORD)")
    manifest = check_kinds.add_parser("manifest", parents=[common], help="judge the workloads of Kubernetes manifests as the webhook would")
    manifest.add_argument("files", nargs="+", metavar="FILE", help="YAML or JSON, several documents each; - for stdin")
    manifest.add_argument("--namespace", "-n", metavar="NS", default="default", help="namespace of objects that name none (default: default)")

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
    serve.add_argument("--host", default="0.0.0.0")  # noqa: S104 - the API server reaches the webhook on its pod's address
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
    policy_test = policy_commands.add_parser("test", help="run the policy test cases (exit 0 all passed, 1 any failed, 2 usage)")
    policy_test.add_argument("directory", nargs="?", type=Path, help="policy directory (default: the shipped one)")
    policy_test.add_argument("--config", type=Path)
    policy_input = policy_commands.add_parser("input", parents=[images], help="print the input document gate evaluates for an image")
    policy_input.add_argument("reference", metavar="REF")
    policy_input.add_argument("--platform", metavar="OS/ARCH")
    policy_input.add_argument("--namespace", "-n", metavar="NS")
    policy_eval = policy_commands.add_parser("eval", help="evaluate the policies over an input document")
    policy_eval.add_argument("--input", type=Path, required=True, metavar="FILE", help="an input document (JSON), - for stdin")
    policy_eval.add_argument("--config", type=Path)
    policy_eval.add_argument("--policy", type=Path, action="append", default=[], metavar="DIR")
    policy_eval.add_argument("--namespace", "-n", metavar="NS", help="apply this namespace's overrides and exemptions")
    return parser


def _load_config(path: Path | None, policy_dirs: tuple[Path, ...] = ()) -> config_module.Config:
    """The config file (defaults without one); ``policy_dirs`` are Rego directories given on the
    command line, whose rule IDs the file may configure."""
    from gate import config as config_module

    return config_module.load(path, policy_dirs=policy_dirs) if path is not None else config_module.from_mapping({})


def _deadline(args: argparse.Namespace) -> float | None:
    return time.monotonic() + args.timeout if getattr(args, "timeout", None) else None


def _run(work: Callable[[], Awaitable[T]], deadline: float | None) -> T:
    """Run ``work`` on a fresh event loop; past ``deadline``, stop it with a ``LimitExceeded``."""
    import asyncio

    async def bounded() -> T:
        if deadline is None:
            return await work()
        try:
            # The engine's own deadline answers first (an evaluation.error per image); this is the backstop.
            return await asyncio.wait_for(work(), timeout=max(deadline - time.monotonic(), 0.0) + 5.0)
        except TimeoutError as exc:
            raise LimitExceeded("the run did not finish within --timeout", remedy="raise --timeout") from exc

    return asyncio.run(bounded())


def _platform(args: argparse.Namespace) -> str | None:
    from gate.engine._platforms import parse_flag

    return parse_flag(args.platform) if getattr(args, "platform", None) else None


async def _check_images(args: argparse.Namespace, config: config_module.Config, deadline: float | None, started: Callable[[], None]) -> Report:
    import asyncio

    from gate._progress import terminal_progress
    from gate.engine import Engine, WorkloadContext, is_pending
    from gate.report import Report

    platform = _platform(args)
    context = WorkloadContext(namespace=args.namespace)
    attester = _attester(config) if args.attest else None
    progress = terminal_progress() if config.scan.layers else None
    with progress or contextlib.nullcontext():
        async with Engine(config, progress=progress) as engine:
            started()
            checks = (engine.check(ref, context, platform=platform, deadline=deadline) for ref in args.references)
            results = list(await asyncio.gather(*checks))
            # A run has no retry: an evaluation still going at the deadline is a time-out, not "in progress".
            late = LimitExceeded(f"timed out after --timeout {args.timeout:g}s", remedy="check the registry's speed, or raise --timeout")
            results = [engine.error_result(result.reference, late) if is_pending(result) else result for result in results]
            if attester is not None:  # one after another: two summaries of one image update one referrers index
                results = [await _attest(attester, engine, result, platform) for result in results]
    return Report(policy_digest=engine.policy_digest, results=tuple(results))


def _attester(config: config_module.Config) -> Attester:
    """The signer of verification summaries, imported only for ``--attest`` (it needs the signing libraries)."""
    from gate.attest import Attester

    return Attester.from_config(config)


async def _attest(attester: Attester, engine: Engine, result: ImageResult, platform: str | None) -> ImageResult:
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


async def _check_manifests(args: argparse.Namespace, config: config_module.Config, deadline: float | None, started: Callable[[], None]) -> Report:
    from gate._progress import terminal_progress
    from gate.engine import Engine
    from gate.manifest_check import judge_manifests
    from gate.manifests import read_manifests
    from gate.report import Report

    objects = read_manifests(args.files)
    progress = terminal_progress() if config.scan.layers else None
    with progress or contextlib.nullcontext():
        async with Engine(config, progress=progress) as engine:
            started()
            results = await judge_manifests(objects, args.namespace, engine, deadline)
    return Report(policy_digest=engine.policy_digest, results=tuple(results))


def _render(report: Report, output: str) -> str:
    from gate.report import render_json, render_sarif
    from gate.report_table import render_table

    if output == "sarif":
        from gate.rule_docs import rule_sections

        return render_sarif(report, rule_sections())
    return render_json(report) if output == "json" else render_table(report, width=_terminal_width())


def _terminal_width() -> int:
    """The terminal's width (``$COLUMNS`` first) when stdout is one, else 80 (piped output wraps as
    on a classic terminal)."""
    import shutil

    return max(shutil.get_terminal_size((80, 24)).columns, 40) if sys.stdout.isatty() else 80


def _run_check(args: argparse.Namespace, *, whole_process: bool = False) -> int:
    with _start_up(freeze=whole_process) as started:
        config = check_config(args)
        if args.kind == "image":
            config = attest_config(config, args)
        deadline = _deadline(args)
        checker = _check_manifests if args.kind == "manifest" else _check_images
        report = _run(lambda: checker(args, config, deadline, started), deadline)
    print(_render(report, args.output))
    return report.exit_code(denied=args.exit_code)


@contextlib.contextmanager
def _start_up(*, freeze: bool = False) -> Iterator[Callable[[], None]]:
    """Pause the garbage collector until the callable yielded is called (once the engine is built and
    the images are being judged), and at the latest when the block ends.

    Start-up (imports, the config model, the compiled policies, trust) creates only long-lived
    objects, yet the collector walked them again and again as they grew: about a third of a cached
    check's wall time, measured. Judging makes short-lived objects, so it runs with the collector on.
    With ``freeze`` (the process ends with this run), what start-up made is moved out of the
    collector's reach when judging starts (``gc.freeze``), so neither later collections nor the
    interpreter's exit walk it again; an in-process caller keeps it collectable.
    """
    enabled = gc.isenabled()
    gc.disable()

    def resume() -> None:
        if freeze:
            gc.freeze()
        if enabled:  # a caller that had turned the collector off keeps it off
            gc.enable()

    try:
        yield resume
    finally:
        if enabled:
            gc.enable()


def _run_audit(args: argparse.Namespace) -> int:
    from gate.audit import render_audit_json, render_audit_table, run_audit

    outcome = run_audit(_load_config(args.config), args.kubeconfig, args.namespace, args.uses_builder, args.contains)
    print(render_audit_json(outcome) if args.output == "json" else render_audit_table(outcome))
    return outcome.exit_code()


def _run_serve(args: argparse.Namespace) -> int:
    from gate.admission import serve

    config = _load_config(args.config)
    if not args.insecure_http and (args.tls_cert is None or args.tls_key is None):
        raise ConfigError("--tls-cert and --tls-key are required (or --insecure-http for local testing)")
    serve(config, args.host, args.port, args.tls_cert, args.tls_key, insecure_http=args.insecure_http, log_level=args.log_level.upper())
    return 0


def _run_policy(args: argparse.Namespace) -> int:
    from gate.policy import run_policy_tests

    if args.policy_command == "input":
        return _run_policy_input(args)
    if args.policy_command == "eval":
        return _run_policy_eval(args)
    directories = (args.directory.resolve(),) if args.directory is not None else ()
    return run_policy_tests(args.directory, _load_config(args.config, directories), sys.stdout)


def _run_policy_input(args: argparse.Namespace) -> int:
    """Print the input document(s) of an image: one object, or one per platform of an index."""
    from gate.engine import Engine, WorkloadContext

    config = check_config(args)
    platform = _platform(args)

    async def inputs() -> dict[str, dict[str, Any]]:
        async with Engine(config) as engine:
            return await engine.inputs(args.reference, WorkloadContext(namespace=args.namespace), platform=platform)

    documents = _run(inputs, _deadline(args))
    shown: Any = next(iter(documents.values())) if len(documents) == 1 else documents
    print(json.dumps(shown, indent=2))
    return 0


def _run_policy_eval(args: argparse.Namespace) -> int:
    """Evaluate the policies over one input document; print the violations with their final actions."""
    from gate.policy import evaluate_document

    config = check_config(args)
    violations = evaluate_document(config, _read_input(args.input), namespace=args.namespace)
    print(json.dumps([violation.to_json() for violation in violations], indent=2))
    return 1 if any(violation.action == "deny" for violation in violations) else 0


def _read_input(path: Path) -> Any:
    try:
        text = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
        return json.loads(text)
    except OSError as exc:
        raise ConfigError(f"--input: cannot read {path}: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise ConfigError(f"--input: {path} is not a JSON document: {exc}") from exc


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``gate`` console script; returns the process exit code.

    ``argv`` None means the process's own command line: the process ends with this call.
    """
    args = _parser().parse_args(argv)
    try:
        if args.command == "check":
            return _run_check(args, whole_process=argv is None)
        if args.command == "serve":
            return _run_serve(args)
        if args.command == "audit":
            return _run_audit(args)
        return _run_policy(args)
    except GateError as exc:
        print(f"gate: error: {exc.diagnostics()}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())

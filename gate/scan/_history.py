"""Secrets in the image config: ``Env`` and ``Labels`` (secret.env) and build arguments visible in
history ``created_by`` or provenance (secret.build-arg).

History forms handled (BuildKit and the legacy builder)::

    RUN |2 NPM_TOKEN=npm_… VERSION=1 /bin/sh -c npm ci      BuildKit RUN with build args in scope
    |1 TOKEN=abc /bin/sh -c make                             legacy builder, same idea
    ARG GITHUB_TOKEN=ghp_…                                   BuildKit ARG with a default
    /bin/sh -c #(nop)  ARG TOKEN=…                           legacy ARG
    ENV K=V / /bin/sh -c #(nop)  ENV K=V                     ENV later overridden is only in history

Any token with a known shape anywhere in a ``created_by`` line (``RUN curl -H "Authorization: …"``)
is reported too. History text in findings is redacted.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from gate.errors import EvidenceError
from gate.scan._assign import Verdict, judge
from gate.scan._finding import SECRET_BUILD_ARG, SECRET_ENV, Finding, redact, redact_in
from gate.scan._matcher import ContentMatcher, default_matcher

_RUN_ARGS = re.compile(r"^(?:RUN )?\|(\d+) (.*)$", re.DOTALL)
_NOP = re.compile(r"^/bin/sh -c #\(nop\)\s+")
_NAME_EQ = re.compile(r"(?:^|\s)([A-Za-z_][A-Za-z0-9_.-]*)=")
_HISTORY_CAP = 512


def scan_config(config: Mapping[str, Any], *, matcher: ContentMatcher | None = None) -> list[Finding]:
    """Findings from an image config's ``config.Env``, ``config.Labels`` and ``history``.

    A history finding carries ``layer``, the index of the layer its entry produced (entries
    without ``empty_layer``, counted in order), so a message can name it; ``ARG``/``ENV`` entries
    produce no layer and leave it None, as do Env and Labels findings.

    Raises:
        EvidenceError: a field has the wrong type (the config is malformed).
    """
    matcher = matcher or default_matcher()
    container = config.get("config")
    container = {} if container is None else container
    if not isinstance(container, Mapping):
        raise EvidenceError("image config field `config` is not an object", remedy="rebuild or re-push the image")
    env_pairs = [_split(item, "config.Env") for item in _list(container.get("Env"), "config.Env")]
    labels = container.get("Labels")
    labels = {} if labels is None else labels
    if not isinstance(labels, Mapping):
        raise EvidenceError("image config field `config.Labels` is not an object", remedy="rebuild the image")
    findings = _judge_all(matcher, env_pairs, SECRET_ENV, history=None)
    findings += _judge_all(matcher, [(str(k), str(v)) for k, v in labels.items()], SECRET_ENV, history=None)
    for field in ("Entrypoint", "Cmd"):
        findings += _command_tokens(matcher, f"config.{field}", _list(container.get(field), f"config.{field}"))
    seen = {(f.rule, f.name, f.preview): index for index, f in enumerate(findings)}
    entries = _list(config.get("history"), "history")
    if not all(isinstance(entry, Mapping) for entry in entries):
        raise EvidenceError("image config `history` holds a non-object entry", remedy="rebuild the image")
    for entry, layer in zip(entries, _entry_layers(entries, config.get("rootfs")), strict=True):
        lines = scan_history_line(matcher, str(entry.get("created_by") or "")) + _comment_tokens(matcher, entry.get("comment"))
        for finding in lines:
            finding = finding.at(layer=layer)
            key = (finding.rule, finding.name, finding.preview)
            index = seen.get(key)
            if index is None:
                seen[key] = len(findings)
                findings.append(finding)
            elif layer is not None and findings[index].layer is None and findings[index].history is not None:
                # ``ARG T=…`` (no layer) then ``RUN |1 T=… cmd``: name the layer the secret went into.
                findings[index] = finding
    return findings


def _command_tokens(matcher: ContentMatcher, field: str, words: list[Any]) -> list[Finding]:
    """Token-shaped secrets in ``config.Entrypoint``/``config.Cmd`` (``--token=ghp_…``): ``docker
    inspect`` shows them as it shows ``Env`` (secret.env, named by the field)."""
    text = " ".join(str(word) for word in words).encode("utf-8", "surrogateescape")
    return [Finding(SECRET_ENV, m.detector, name=field, preview=redact(m.secret_text())) for m in matcher.scan(text)]


def _comment_tokens(matcher: ContentMatcher, comment: Any) -> list[Finding]:
    """Token-shaped secrets in a history entry's ``comment`` (``docker history`` shows it beside
    ``created_by``; ``docker commit -m`` and some builders write free text there)."""
    if not isinstance(comment, str) or not comment:
        return []
    found = matcher.scan(comment.encode("utf-8", "surrogateescape"))
    if not found:
        return []
    history = redact_in(comment, [m.secret_text() for m in found])[:_HISTORY_CAP]
    return [Finding(SECRET_BUILD_ARG, m.detector, name="history comment", history=history, preview=redact(m.secret_text())) for m in found]


def _entry_layers(entries: list[Mapping[str, Any]], rootfs: Any) -> list[int | None]:
    """The index of the layer each history entry produced: None for ``empty_layer`` entries, and for
    every entry when the non-empty ones are not as many as ``rootfs.diff_ids`` (a guess would name
    the wrong layer)."""
    layers: list[int | None] = []
    produced = 0
    for entry in entries:
        if entry.get("empty_layer"):
            layers.append(None)
        else:
            layers.append(produced)
            produced += 1
    diff_ids = rootfs.get("diff_ids") if isinstance(rootfs, Mapping) else None
    if isinstance(diff_ids, list) and len(diff_ids) != produced:
        return [None] * len(entries)
    return layers


def scan_build_args(
    args: Mapping[str, str], source: str, *, matcher: ContentMatcher | None = None
) -> list[Finding]:
    """secret.build-arg findings for build arguments recorded elsewhere (e.g. provenance ``args``);
    ``source`` names where they were found and becomes the findings' ``history`` (the engine passes
    ``provenance build arguments``, which the secrets policy recognises); ``layer`` stays None."""
    pairs = [(str(k), str(v)) for k, v in args.items()]
    return _judge_all(matcher or default_matcher(), pairs, SECRET_BUILD_ARG, history=source)


def scan_history_line(matcher: ContentMatcher, created_by: str) -> list[Finding]:
    """Findings for one history ``created_by`` line: build args, ARG/ENV defaults, inline tokens."""
    line = _NOP.sub("", created_by.strip())
    rule, (pairs, command) = SECRET_BUILD_ARG, _run_args(line)
    keyword, _, rest = line.partition(" ")
    if keyword in ("ARG", "ENV"):
        rule = SECRET_ENV if keyword == "ENV" else SECRET_BUILD_ARG
        pairs, command = _assignments(rest), ""
    verdicts = [(name, judge(matcher, name, value)) for name, value in pairs]
    named = [(name, v) for name, v in verdicts if v is not None]
    explained = {v.secret for _, v in named}
    inline = [m for m in matcher.scan(command.encode("utf-8", "surrogateescape")) if m.secret_text() not in explained]
    secrets = [v.secret for _, v in named] + [m.secret_text() for m in inline]
    history = redact_in(created_by, secrets)[:_HISTORY_CAP] if secrets else None
    findings = [Finding(rule, v.detector, name=name, history=history, preview=redact(v.secret)) for name, v in named]
    findings += [
        Finding(SECRET_BUILD_ARG, m.detector, history=history, preview=redact(m.secret_text())) for m in inline
    ]
    return findings


def safe_history(matcher: ContentMatcher, created_by: str) -> str:
    """A history line fit for a report: secrets in it redacted, length capped."""
    findings = scan_history_line(matcher, created_by)
    return (findings[0].history or "") if findings else created_by[:_HISTORY_CAP]


def _judge_all(
    matcher: ContentMatcher, pairs: Iterable[tuple[str, str]], rule: str, history: str | None
) -> list[Finding]:
    findings = []
    for name, value in pairs:
        verdict: Verdict | None = judge(matcher, name, value)
        if verdict is not None:
            findings.append(Finding(rule, verdict.detector, name=name, history=history, preview=redact(verdict.secret)))
    return findings


def _run_args(line: str) -> tuple[list[tuple[str, str]], str]:
    """``|N K=v … cmd``: the first N assignments are build args, the rest is the command.

    BuildKit joins ``K=v`` without quoting, so a value holding spaces cannot be split exactly; each
    value runs to the next ``NAME=``.
    """
    match = _RUN_ARGS.match(line)
    if not match:
        return [], line
    count, text = int(match.group(1)), match.group(2)
    starts = list(_NAME_EQ.finditer(text))[: count + 1]
    pairs = _assignments(text[: starts[count].start()] if len(starts) > count else text)[:count]
    if not starts:
        return pairs, text
    last_value_end = text.find(" ", starts[min(count, len(starts)) - 1].end())
    return pairs, text[last_value_end:] if last_value_end >= 0 else ""


def _assignments(text: str) -> list[tuple[str, str]]:
    """``A=1 B=two words C=3``: each value runs to the next ``NAME=`` (or to the first space for the last)."""
    starts = list(_NAME_EQ.finditer(text))
    pairs = []
    for index, match in enumerate(starts):
        value_end = starts[index + 1].start() if index + 1 < len(starts) else len(text)
        value = text[match.end() : value_end]
        if index + 1 == len(starts):
            value = value.split(" ", 1)[0] if " /bin/" in value or " [" in value else value
        pairs.append((match.group(1), value.strip()))
    return pairs


def _list(value: Any, field: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise EvidenceError(f"image config field `{field}` is not a list", remedy="rebuild or re-push the image")
    return value


def _split(item: Any, field: str) -> tuple[str, str]:
    if not isinstance(item, str):
        raise EvidenceError(f"image config field `{field}` holds a non-string entry", remedy="rebuild the image")
    name, _, value = item.partition("=")
    return name, value

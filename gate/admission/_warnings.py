"""Fit findings into what Kubernetes shows as admission warnings, keeping each remedy readable.

The API server passes ``response.warnings`` on as ``Warning`` headers and kubectl prints them, but
it truncates each to 256 characters once their total passes 4096, then drops the rest (k8s.io/
apiserver ``pkg/warning``, ``truncateAtTotalRunes``/``truncateItemRunes``). So gate keeps every
warning within 256 characters and all of them within 4096 itself:

- only deny-level findings (warn mode) say "would deny:"; warn-level ones say nothing extra;
- the image reference is not repeated inside a message that already names it, a digest a message
  quotes is shortened (the audit annotations carry it whole) unless it is part of a reference to
  write (``name@sha256:…``), and a platform tag is dropped when the finding holds on every
  platform of the image (one platform: always);
- a message too long keeps its start and its end (where the remedy is), eliding the middle;
- when warnings must be cut, the last one says how many were left out and where the full
  verdict is (audit annotations, gate's log line for the review, ``gate check manifest``).

Pure functions: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from gate.report import ImageResult, Violation

WARNING_CHARS = 256
TOTAL_CHARS = 4096
WOULD_DENY = "would deny: "
_HEAD_CHARS = 96  # of a clipped warning: the image and rule; the rest is the message's end
_DIGEST_SHOWN = len("sha256:") + 12
_QUOTED_DIGEST = re.compile(r"(?<!@)(sha256:[0-9a-f]{12})[0-9a-f]{52}")


@dataclass(frozen=True)
class Finding:
    """One violation of one image, as a warning will show it."""

    result: ImageResult
    violation: Violation
    would_deny: bool = False


def warnings(findings: Iterable[Finding], uid: str | None = None) -> list[str]:
    """The warnings for ``findings`` (in order), deduplicated and within Kubernetes' limits."""
    texts = list(dict.fromkeys(clip(_text(item, platforms)) for item, platforms in _merged(list(findings))))
    return _bounded(texts, uid)


def _merged(findings: list[Finding]) -> list[tuple[Finding, tuple[str, ...]]]:
    """One entry per (image, rule, message) with the platforms it holds on, in first-seen order."""
    groups: dict[tuple[str, str, str, bool], tuple[Finding, list[str]]] = {}
    for item in findings:
        platform = _platform(item)
        message = item.violation.message
        key = (item.result.reference, item.violation.rule, message, item.would_deny)
        _, platforms = groups.setdefault(key, (item, []))
        if isinstance(platform, str):
            platforms.append(platform)
    return [(item, tuple(platforms)) for item, platforms in groups.values()]


def _text(item: Finding, platforms: tuple[str, ...]) -> str:
    reference = item.result.reference
    message = " ".join(item.violation.message.removeprefix(f"{reference}: ").split())  # one line: warnings are HTTP headers
    message = _QUOTED_DIGEST.sub(r"\1…", message)
    everywhere = len(platforms) >= _platform_count(item.result)
    tag = "" if everywhere or not platforms else f"[{', '.join(platforms)}] "
    subject = "" if reference in message else f"{_short(reference)}: "
    return f"{WOULD_DENY if item.would_deny else ''}{subject}[{item.violation.rule}] {tag}{message}"


def _platform(item: Finding) -> str | None:
    """The platform of an index the finding was made on (None for a single-platform image)."""
    violation = item.violation
    return violation.platform if violation.platform_digest not in (None, item.result.digest) else None


def _platform_count(result: ImageResult) -> int:
    platforms = result.evidence.get("platforms") if isinstance(result.evidence, dict) else None
    return len(platforms) if isinstance(platforms, dict) and platforms else 1


def _bounded(texts: list[str], uid: str | None) -> list[str]:
    """``texts`` while their total fits; past it, a last warning saying what was left out."""
    if sum(len(text) for text in texts) <= TOTAL_CHARS:
        return texts
    kept: list[str] = []
    room = TOTAL_CHARS - WARNING_CHARS  # the last warning's room
    for text in texts:
        if len(text) > room:
            break
        kept.append(text)
        room -= len(text)
    return kept + [clip(_left_out(len(texts) - len(kept), uid))]


def _left_out(count: int, uid: str | None) -> str:
    log = f"gate's log line for review {uid}" if uid else "gate's log"
    return f"… {count} more gate finding(s) not shown: the full verdict is in the audit annotations, {log}, and `gate check manifest`"


def _short(reference: str) -> str:
    """Shorten an ``@sha256:`` digest in a reference so warnings keep room for the message."""
    name, at, digest = reference.partition("@")
    return f"{name}@{digest[:_DIGEST_SHOWN]}…" if at and len(digest) > _DIGEST_SHOWN else reference


def clip(text: str) -> str:
    """At most ``WARNING_CHARS``: the start (image, rule) and the end (the remedy) survive."""
    if len(text) <= WARNING_CHARS:
        return text
    tail = WARNING_CHARS - _HEAD_CHARS - 1
    return f"{text[:_HEAD_CHARS]}…{text[-tail:]}"

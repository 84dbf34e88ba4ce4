"""The table for people: one block per image, wrapped to the terminal with a hanging indent.

    DENY   127.0.0.1:5000/shop/api:1.4   1 deny, 1 warn
           @sha256:4f1c…
           linux/arm64 @sha256:77aa…
      deny user.root     the image runs as `root`, which is root (uid 0, resolved by
                         passwd), and the workload does not enforce a non-root user: …
                         on linux/amd64, linux/arm64
      warn image.stale   built 200 days ago …

Denies come before warnings; a finding reported identically on several platforms of an index is
one row naming them; an allowed image names who signed it; a platform image's digest is shown
where it differs from the digest the reference resolved to. No line is longer than ``width``, except
an image reference longer than a whole line, which is never split so it can be copied.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from typing import Any

from gate.report import ImageResult, Report, Violation

RULE_COLUMN = 22
_MIN_TEXT = 20


@dataclass(frozen=True)
class _Row:
    """One finding, with every platform it was reported on."""

    violation: Violation
    platforms: tuple[str, ...]


def render_table(report: Report, *, width: int = 80) -> str:
    """The whole report as text no wider than ``width`` columns."""
    lines: list[str] = []
    for result in report.results:
        lines.extend(_image_block(result, width))
    allowed = sum(result.decision == "allow" for result in report.results)
    lines.append(_fit(f"{allowed} of {len(report.results)} image(s) allowed", width))
    return "\n".join(lines)


def _image_block(result: ImageResult, width: int) -> list[str]:
    verdict = result.decision.upper() if result.evaluated else f"ERROR ({result.decision})"  # allow when fail-open
    rows = _rows(result.violations)
    denies = sum(row.violation.action == "deny" for row in rows)
    summary = f"{denies} deny, {len(rows) - denies} warn"
    lines = _wrapped(f"{verdict:<6} {result.reference}   {summary}", width, 7, split_words=False)  # a reference stays copyable
    detail = " " * 7
    if result.workload is not None:
        lines += _wrapped(detail + _workload(result.workload), width, 9)
    if result.digest:
        lines.append(_digest_line(f"{detail}@", result.digest, width))
    platforms = _platform_digests(result)
    for platform, digest in platforms.items():
        if digest and digest != result.digest:
            lines.append(_digest_line(f"{detail}{platform} @", digest, width))
    if result.decision == "allow":
        lines += [line for signer in _signers(result) for line in _wrapped(f"{detail}signed by {signer}", width, 9)]
    for row in rows:
        lines += _violation_lines(row, len(platforms) > 1, width)
    if not rows:
        lines.append(_fit(f"{detail}no violations", width))
    return lines


def _rows(violations: tuple[Violation, ...]) -> list[_Row]:
    """Findings merged across platforms, denies first (stable otherwise)."""
    merged: dict[tuple[Any, ...], list[Violation]] = {}
    for violation in violations:
        key = (violation.rule, violation.action, violation.message, repr(sorted(violation.details.items())))
        merged.setdefault(key, []).append(violation)
    rows = [_Row(group[0], tuple(v.platform for v in group if v.platform)) for group in merged.values()]
    return sorted(rows, key=lambda row: row.violation.action != "deny")


def _violation_lines(row: _Row, several_platforms: bool, width: int) -> list[str]:
    violation = row.violation
    head = f"  {violation.action:<4} {violation.rule:<{RULE_COLUMN}} "
    indent = len(head)
    if width - indent < _MIN_TEXT:  # narrow terminal: the message goes under the rule
        head, indent = f"  {violation.action:<4} {violation.rule}", 7
        lines = _wrapped(head, width, indent)
        lines += _wrapped(" " * indent + violation.message, width, indent)
    else:
        lines = _wrapped(head + violation.message, width, indent)
    if several_platforms and row.platforms:
        lines += _wrapped(" " * indent + "on " + ", ".join(row.platforms), width, indent)
    return lines


def _wrapped(text: str, width: int, indent: int, *, split_words: bool = True) -> list[str]:
    """``text`` wrapped to ``width`` with continuation lines indented by ``indent``; a word longer
    than a line is split unless ``split_words`` is false (then it alone may overflow)."""
    indent = min(indent, max(width - _MIN_TEXT, 0))
    leading = len(text) - len(text.lstrip(" "))
    return textwrap.wrap(
        text.strip(),
        width=width,
        initial_indent=" " * leading,
        subsequent_indent=" " * indent,
        break_long_words=split_words,
        break_on_hyphens=False,
    ) or [""]


def _digest_line(prefix: str, digest: str, width: int) -> str:
    """``prefix`` and a digest on one line, the digest shortened with ``…`` when it would not fit."""
    room = width - len(prefix)
    return prefix + (digest if len(digest) <= room else digest[: max(room - 1, 0)] + "…")


def _fit(text: str, width: int) -> str:
    return "\n".join(_wrapped(text, width, 0))


def _workload(workload: dict[str, Any]) -> str:
    where = ", ".join(workload.get("locations", []))
    place = f"{workload.get('kind')} {workload.get('namespace')}/{workload.get('name')} ({workload.get('source')})"
    exempt = f"; namespace exempt: {workload['exempt']}" if "exempt" in workload else ""
    return f"in {place}" + (f": {where}" if where else "") + exempt


def _platform_digests(result: ImageResult) -> dict[str, str | None]:
    platforms = result.evidence.get("platforms", {}) if isinstance(result.evidence, dict) else {}
    return {name: found.get("digest") for name, found in platforms.items() if isinstance(found, dict)}


def _signers(result: ImageResult) -> list[str]:
    """Who signed the image, as people read it: ``key <id>`` or ``<subject> (<issuer>)``."""
    names: dict[str, None] = {}
    for found in result.evidence.get("platforms", {}).values():
        for signer in found.get("signatures", []) if isinstance(found, dict) else []:
            if signer.get("kind") == "keyless":
                names[f"{signer.get('subject')} ({signer.get('issuer')})"] = None
            else:
                names[f"key {signer.get('key_id')}"] = None
    return list(names)

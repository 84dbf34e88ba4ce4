"""Turn per-image verdicts into what kubectl shows: a denial message, warnings, audit annotations.

``mode`` (config) decides what a deny becomes: ``enforce`` rejects, ``warn`` admits and turns
every would-be denial into a warning, ``audit`` admits and records the decision only in
``auditAnnotations``. Pure functions: no I/O, no clock.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from gate.admission._review import review_response
from gate.admission._workloads import ImageUse
from gate.report import ImageResult, Violation

WARNING_CHARS = 120
MAX_WARNINGS = 20
MESSAGE_CHARS = 8192
_DIGEST_SHOWN = len("sha256:") + 12


@dataclass(frozen=True)
class Judged:
    """One distinct image (with its security context), every place it is used, and its verdict."""

    uses: tuple[ImageUse, ...]
    result: ImageResult


@dataclass(frozen=True)
class Answer:
    """The webhook's response for one review; ``decision`` labels metrics and logs."""

    allowed: bool
    decision: str
    message: str | None = None
    code: int = 403
    warnings: list[str] = field(default_factory=list)
    annotations: dict[str, str] = field(default_factory=dict)

    def to_bytes(self, uid: str) -> bytes:
        return review_response(
            uid,
            allowed=self.allowed,
            message=self.message,
            code=self.code,
            warnings=self.warnings,
            annotations=self.annotations,
        )


def allow(reason: str) -> Answer:
    """Admit without judging anything (DELETE, unchanged images, exempt namespace)."""
    return Answer(True, "allow", annotations={"decision": "allow", "reason": reason})


def refuse(problem: str, mode: str, *, code: int = 403) -> Answer:
    """A workload gate cannot judge (unknown kind, unreadable object): deny, or warn/annotate per mode."""
    if mode == "enforce":
        return Answer(False, "deny", f"gate: {problem}", code, annotations={"decision": "deny", "reason": problem})
    warnings = [_clip(f"gate would deny: {problem}")] if mode == "warn" else []
    return Answer(True, f"{mode}:deny", warnings=warnings, annotations={"decision": f"{mode}:deny", "reason": problem})


def judge(judged: list[Judged], mode: str) -> Answer:
    """Fold per-image verdicts into one answer; every failing image is listed with its rules."""
    denied = [item for item in judged if item.result.decision == "deny"]
    warned = [(item, v) for item in judged for v in item.result.violations if v.action == "warn"]
    annotations = {"decision": "deny" if denied else "allow"} | _image_annotations(judged)
    if not denied:
        return Answer(True, "allow", warnings=_warnings(warned), annotations=annotations)
    if mode == "enforce":
        return Answer(False, "deny", _denial(denied, len(judged)), warnings=_warnings(warned), annotations=annotations)
    annotations["decision"] = f"{mode}:deny"
    if mode == "audit":
        return Answer(True, "audit:deny", annotations=annotations)
    would_deny = [(item, v) for item in denied for v in item.result.violations if v.action == "deny"]
    return Answer(True, "warn:deny", warnings=_warnings(would_deny + warned, prefix="would deny: "), annotations=annotations)


def _denial(denied: list[Judged], total: int) -> str:
    lines = [f"gate denied {len(denied)} of {total} image(s):"]
    for item in denied:
        places = ", ".join(use.location for use in item.uses)
        rules = "; ".join(_said(item.result, v) for v in item.result.violations if v.action == "deny")
        lines.append(f"- {item.result.reference} ({places}): {rules}")
    message = "\n".join(lines)
    if len(message) > MESSAGE_CHARS:
        message = message[: MESSAGE_CHARS - 40] + "\n… (truncated; see the audit annotations)"
    return message


def _warnings(pairs: list[tuple[Judged, Violation]], prefix: str = "") -> list[str]:
    texts = list(dict.fromkeys(_clip(f"{prefix}{_short(item.result.reference)}: {_said(item.result, v)}") for item, v in pairs))
    if len(texts) > MAX_WARNINGS:
        texts = texts[: MAX_WARNINGS - 1] + [f"… and {len(texts) - MAX_WARNINGS + 1} more gate warnings"]
    return texts


def _said(result: ImageResult, violation: Violation) -> str:
    """``[rule] message``, naming the platform when the image is an index of several."""
    index = violation.platform_digest is not None and violation.platform_digest != result.digest
    return f"[{violation.rule}] {violation.message}" + (f" (on {violation.platform})" if index else "")


def _image_annotations(judged: list[Judged]) -> dict[str, str]:
    """``image-N``: the decision, reference, digest and rules per image (the API server prefixes the webhook name)."""
    return {
        f"image-{index}": json.dumps(
            {
                "image": item.result.reference,
                "digest": item.result.digest,
                "decision": item.result.decision,
                "rules": sorted({f"{v.rule}:{v.action}" for v in item.result.violations}),
            },
            separators=(",", ":"),
        )
        for index, item in enumerate(judged)
    }


def _short(reference: str) -> str:
    """Shorten an ``@sha256:`` digest in a reference so warnings keep room for the message."""
    name, at, digest = reference.partition("@")
    return f"{name}@{digest[:_DIGEST_SHOWN]}…" if at and len(digest) > _DIGEST_SHOWN else reference


def _clip(text: str) -> str:
    return text if len(text) <= WARNING_CHARS else text[: WARNING_CHARS - 1] + "…"

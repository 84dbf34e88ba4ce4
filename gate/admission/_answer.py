"""Turn per-image verdicts into what kubectl shows: a denial message, warnings, audit annotations.

``mode`` (config) decides what a deny becomes: ``enforce`` rejects, ``warn`` admits and turns
every would-be denial into a warning, ``audit`` admits and records the decision only in
``auditAnnotations``. Pure functions: no I/O, no clock.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, NamedTuple

from gate.admission._logging import Members
from gate.admission._review import response_fields, with_uid
from gate.admission._warnings import WOULD_DENY, Finding, clip, warnings
from gate.admission._workloads import ImageUse
from gate.report import ImageResult, Violation

MESSAGE_CHARS = 8192


class Judged(NamedTuple):
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
    images: list[dict[str, Any]] = field(default_factory=list)  # per image: reference, digest, decision, rules

    def to_bytes(self, uid: str) -> bytes:
        return with_uid(uid, self._fields)

    @cached_property
    def logged(self) -> Members:
        """What the review's log line says about the answer, encoded once per answer."""
        return Members({"decision": self.decision, "reason": self.annotations.get("reason"), "images": self.images})

    @cached_property
    def _fields(self) -> bytes:
        return response_fields(
            allowed=self.allowed, message=self.message, code=self.code, warnings=self.warnings, annotations=self.annotations
        )


def allow(reason: str) -> Answer:
    """Admit without judging anything (DELETE, unchanged images, exempt namespace)."""
    return Answer(True, "allow", annotations={"decision": "allow", "reason": reason})


def refuse(problem: str, mode: str, *, code: int = 403) -> Answer:
    """A workload gate cannot judge (unknown kind, unreadable object): deny, or warn/annotate per mode."""
    if mode == "enforce":
        return Answer(False, "deny", f"gate: {problem}", code, annotations={"decision": "deny", "reason": problem})
    shown = [clip(f"gate {WOULD_DENY}{problem}")] if mode == "warn" else []
    return Answer(True, f"{mode}:deny", warnings=shown, annotations={"decision": f"{mode}:deny", "reason": problem})


def judge(judged: list[Judged], mode: str, uid: str | None = None) -> Answer:
    """Fold per-image verdicts into one answer; every failing image is listed with its rules.

    ``uid`` (the review's) lets a cut list of warnings point at the log line with the full verdict.
    """
    denied = [item for item in judged if item.result.decision == "deny"]
    warned = [Finding(item.result, v) for item in judged for v in item.result.violations if v.action == "warn"]
    images = [_summary(item) for item in judged]
    annotations = {"decision": "deny" if denied else "allow"} | _image_annotations(images)
    if not denied:
        return Answer(True, "allow", warnings=warnings(warned, uid), annotations=annotations, images=images)
    if mode == "enforce":
        return Answer(False, "deny", _denial(denied, len(judged)), warnings=warnings(warned, uid), annotations=annotations, images=images)
    annotations["decision"] = f"{mode}:deny"
    if mode == "audit":
        return Answer(True, "audit:deny", annotations=annotations, images=images)
    would_deny = [Finding(item.result, v, would_deny=True) for item in denied for v in item.result.violations if v.action == "deny"]
    return Answer(True, "warn:deny", warnings=warnings(would_deny + warned, uid), annotations=annotations, images=images)


class RememberedAnswers:
    """:func:`judge` remembered for the most recent sets of verdicts.

    A warm review's verdicts come from the engine's cache: the same objects for every review
    of the same images, so folding them into warnings, annotations and JSON again would repeat
    identical work. An answer is kept under the mode, the image uses and the verdict objects
    themselves (held, so no other object can take their ids); an expired verdict is replaced by
    a new object, so its answer is worked out afresh. An answer that names its review (a cut list
    of warnings points at the review's uid) is never reused.
    """

    def __init__(self, size: int = 512) -> None:
        self._size = size
        self._known: OrderedDict[tuple[Any, ...], tuple[tuple[ImageResult, ...], Answer]] = OrderedDict()

    def judge(self, judged: list[Judged], mode: str, uid: str) -> Answer:
        key = (mode, *((item.uses, id(item.result)) for item in judged))
        found = self._known.get(key)
        if found is not None:
            self._known.move_to_end(key)
            return found[1]
        answer = judge(judged, mode, uid)
        if not any(uid in text for text in answer.warnings):
            self._known[key] = (tuple(item.result for item in judged), answer)
            if len(self._known) > self._size:
                self._known.popitem(last=False)
        return answer


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


def _said(result: ImageResult, violation: Violation) -> str:
    """``[rule] message``, naming the platform when the image is an index of several."""
    index = violation.platform_digest is not None and violation.platform_digest != result.digest
    return f"[{violation.rule}] {violation.message}" + (f" (on {violation.platform})" if index else "")


def _summary(item: Judged) -> dict[str, Any]:
    """What the audit annotation and the log line say about one image."""
    return {
        "image": item.result.reference,
        "digest": item.result.digest,
        "decision": item.result.decision,
        "rules": sorted({f"{v.rule}:{v.action}" for v in item.result.violations}),
    }


def _image_annotations(images: list[dict[str, Any]]) -> dict[str, str]:
    """``image-N``: the decision, reference, digest and rules per image (the API server prefixes the webhook name)."""
    return {f"image-{index}": json.dumps(summary, separators=(",", ":")) for index, summary in enumerate(images)}

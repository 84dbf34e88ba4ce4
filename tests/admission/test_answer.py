"""Folding verdicts into the answer kubectl shows, in each mode (pure functions)."""

from __future__ import annotations

import json

import pytest

from gate.admission._answer import WARNING_CHARS, Judged, judge, refuse
from gate.admission._workloads import ImageUse
from gate.report import ImageResult, Violation

DIGEST = "sha256:" + "a" * 64


def item(image: str, *violations: Violation, where: str = 'spec.containers[0] "app"') -> Judged:
    return Judged((ImageUse(image, where),), ImageResult(image, DIGEST, tuple(violations)))


ROOT = Violation("user.root", "deny", "image runs as root (config User is empty); set USER or runAsNonRoot")
UNSIGNED = Violation("signature.missing", "deny", "no signature verifies against the configured keys")
STALE = Violation("image.stale", "warn", "image built 200 days ago (max 90)")


def test_enforce_lists_every_failing_image_with_rules_and_places() -> None:
    answer = judge([item("reg/a:1", ROOT, UNSIGNED), item("reg/b:1", STALE), item("reg/c:1", UNSIGNED, where="init")], "enforce")
    assert not answer.allowed
    lines = answer.message.splitlines()
    assert lines[0] == "gate denied 2 of 3 image(s):"
    assert lines[1].startswith('- reg/a:1 (spec.containers[0] "app"): [user.root] image runs as root')
    assert "[signature.missing]" in lines[1]
    assert lines[2].startswith("- reg/c:1 (init): [signature.missing]")
    assert answer.warnings == ["reg/b:1: [image.stale] image built 200 days ago (max 90)"]
    assert json.loads(answer.annotations["image-0"]) == {
        "image": "reg/a:1", "digest": DIGEST, "decision": "deny", "rules": ["signature.missing:deny", "user.root:deny"],
    }
    assert answer.annotations["decision"] == "deny"


def test_warn_mode_admits_and_turns_denials_into_warnings() -> None:
    answer = judge([item("reg/a:1", ROOT)], "warn")
    assert answer.allowed and answer.decision == "warn:deny"
    assert answer.warnings == [f"would deny: reg/a:1: [user.root] {ROOT.message}"]
    clipped = judge([item("reg/a:1", Violation("user.root", "deny", "x" * 200))], "warn").warnings[0]
    assert len(clipped) == WARNING_CHARS and clipped.endswith("…")


def test_audit_mode_admits_and_only_annotates() -> None:
    answer = judge([item("reg/a:1", ROOT)], "audit")
    assert answer.allowed and not answer.warnings and answer.message is None
    assert answer.annotations["decision"] == "audit:deny"


def test_allowed_images_get_annotations_and_no_status() -> None:
    answer = judge([item("reg/a:1")], "enforce")
    assert answer.allowed and answer.message is None and answer.warnings == []
    assert json.loads(answer.annotations["image-0"])["decision"] == "allow"


def test_warnings_are_short_deduplicated_and_bounded() -> None:
    long_ref = "registry.example.com/team/service@" + DIGEST
    many = [item(f"reg/{n}:1", STALE) for n in range(30)] + [item(long_ref, STALE), item(long_ref, STALE)]
    warnings = judge(many, "enforce").warnings
    assert len(warnings) == 20 and warnings[-1] == "… and 12 more gate warnings"
    assert all(len(text) <= WARNING_CHARS for text in warnings)
    assert "registry.example.com/team/service@sha256:aaaaaaaaaaaa…" in judge([item(long_ref, STALE)], "enforce").warnings[0]


@pytest.mark.parametrize("mode, allowed", [("enforce", False), ("warn", True), ("audit", True)])
def test_unjudgeable_workloads_follow_the_mode(mode: str, allowed: bool) -> None:
    answer = refuse("kind Role carries no pod spec", mode)
    assert answer.allowed is allowed
    assert bool(answer.warnings) is (mode == "warn")

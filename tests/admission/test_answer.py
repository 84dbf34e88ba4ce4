"""Folding verdicts into the answer kubectl shows, in each mode (pure functions)."""

from __future__ import annotations

import json

import pytest

from gate.admission._answer import Judged, judge, refuse
from gate.admission._warnings import TOTAL_CHARS, WARNING_CHARS
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
    answer = judge([item("reg/a:1", ROOT, STALE)], "warn")
    assert answer.allowed and answer.decision == "warn:deny"
    assert answer.warnings == [f"would deny: reg/a:1: [user.root] {ROOT.message}", f"reg/a:1: [image.stale] {STALE.message}"]
    long = Violation("user.root", "deny", "x" * 300 + " set `USER 10001`")
    clipped = judge([item("reg/a:1", long)], "warn").warnings[0]
    assert len(clipped) == WARNING_CHARS and clipped.startswith("would deny: reg/a:1: [user.root] x") and clipped.endswith("set `USER 10001`")
    assert "…" in clipped, "the middle is elided, the remedy at the end is kept"


def test_audit_mode_admits_and_only_annotates() -> None:
    answer = judge([item("reg/a:1", ROOT)], "audit")
    assert answer.allowed and not answer.warnings and answer.message is None
    assert answer.annotations["decision"] == "audit:deny"


def test_allowed_images_get_annotations_and_no_status() -> None:
    answer = judge([item("reg/a:1")], "enforce")
    assert answer.allowed and answer.message is None and answer.warnings == []
    assert json.loads(answer.annotations["image-0"])["decision"] == "allow"


def test_warnings_are_deduplicated_and_bounded_with_a_pointer_to_the_full_verdict() -> None:
    long_ref = "registry.example.com/team/service@" + DIGEST
    many = [item(f"reg/{n}:1", Violation("image.stale", "warn", f"image built {n} days ago " + "y" * 150)) for n in range(30)]
    shown = judge([*many, item(long_ref, STALE), item(long_ref, STALE)], "enforce", uid="uid-7").warnings
    assert sum(map(len, shown)) <= TOTAL_CHARS and all(len(text) <= WARNING_CHARS for text in shown)
    left_out = 31 - (len(shown) - 1)
    assert shown[-1].startswith(f"… {left_out} more gate finding(s) not shown")
    assert "audit annotations" in shown[-1] and "uid-7" in shown[-1] and "gate check manifest" in shown[-1]
    assert judge([item(long_ref, STALE), item(long_ref, STALE)], "enforce").warnings == [
        f"registry.example.com/team/service@sha256:aaaaaaaaaaaa…: [image.stale] {STALE.message}"
    ]


def test_a_finding_on_every_platform_is_shown_once_without_platform_tags() -> None:
    platforms = {"linux/amd64": {}, "linux/arm64": {}}
    both = [Violation("image.stale", "warn", STALE.message, {}, p, "sha256:" + str(n) * 64) for n, p in enumerate(platforms)]
    multi = Judged((ImageUse("reg/m:1", "c"),), ImageResult("reg/m:1", DIGEST, tuple(both), evidence={"platforms": platforms}))
    assert judge([multi], "enforce").warnings == [f"reg/m:1: [image.stale] {STALE.message}"]
    one = Judged((ImageUse("reg/m:1", "c"),), ImageResult("reg/m:1", DIGEST, both[:1], evidence={"platforms": platforms}))
    assert judge([one], "enforce").warnings == [f"reg/m:1: [image.stale] [linux/amd64] {STALE.message}"]


def test_a_message_naming_its_reference_does_not_repeat_it() -> None:
    pinned = Violation("image.mutable-reference", "warn", f"the tag can move after admission: write `reg/a:1@{DIGEST}`")
    error = Violation("evaluation.error", "deny", "reg/a:1: registry unreachable")
    assert judge([item("reg/a:1", pinned, error)], "warn").warnings == [
        "would deny: reg/a:1: [evaluation.error] registry unreachable",
        f"[image.mutable-reference] {pinned.message}",
    ]


@pytest.mark.parametrize("mode, allowed", [("enforce", False), ("warn", True), ("audit", True)])
def test_unjudgeable_workloads_follow_the_mode(mode: str, allowed: bool) -> None:
    answer = refuse("kind Role carries no pod spec", mode)
    assert answer.allowed is allowed
    assert bool(answer.warnings) is (mode == "warn")

"""Image and violation counters: every review's verdicts counted, however the counting is batched."""

from __future__ import annotations

import re

from gate.admission._metrics import Metrics
from gate.report import ImageResult, Violation

UNSIGNED = Violation("signature.missing", "deny", "no signature")
STALE = Violation("image.stale", "warn", "old")


def counts(metrics: Metrics) -> dict[str, float]:
    """``{'series{labels}': value}`` of the image and violation counters scraped now."""
    text = metrics.exposition().decode()
    found = re.findall(r"^(gate_(?:admission_images|violations)_total\{[^}]*\}) (\S+)$", text, re.MULTILINE)
    return {series: float(value) for series, value in found}


def test_each_review_counts_its_images_and_violations_at_every_scrape() -> None:
    metrics = Metrics(dict)
    denied = ImageResult("reg/a:1", "sha256:" + "a" * 64, (UNSIGNED, STALE, STALE))
    allowed = ImageResult("reg/b:1", "sha256:" + "b" * 64, (STALE,))
    for _ in range(3):
        metrics.record_images([denied, allowed])
    metrics.record_images([allowed])
    assert counts(metrics) == {
        'gate_admission_images_total{decision="deny"}': 3.0,
        'gate_admission_images_total{decision="allow"}': 4.0,
        'gate_violations_total{action="deny",rule="signature.missing"}': 3.0,
        'gate_violations_total{action="warn",rule="image.stale"}': 10.0,
    }
    metrics.record_images([denied])
    assert counts(metrics)['gate_admission_images_total{decision="deny"}'] == 4.0, "counted after a scrape too"


def test_many_distinct_sets_of_verdicts_are_all_counted() -> None:
    metrics = Metrics(dict)
    verdicts = [ImageResult(f"reg/i:{n}", None, (UNSIGNED,)) for n in range(2500)]  # more sets than wait to be folded
    for verdict in verdicts:
        metrics.record_images([verdict])
        metrics.record_images([verdict, verdict])
    assert counts(metrics) == {
        'gate_admission_images_total{decision="deny"}': 7500.0,
        'gate_violations_total{action="deny",rule="signature.missing"}': 7500.0,
    }

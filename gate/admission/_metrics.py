"""Prometheus metrics of one webhook app, in its own registry (several apps may share a process in tests).

Cache and registry counters live in the engine; they are read at scrape time from a callable
returning ``{"caches": {name: CacheStats}, "registry_requests": {status: count}}`` (the app builds
it from ``engine.stats()`` and the registry client's ``status_counts``).
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from gate import __version__
from gate.report import ImageResult

# ``*_created`` series double what is scraped and say only when the process started.
disable_created_metrics()

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """Counters and histograms the webhook updates, plus the engine's counters read on scrape."""

    def __init__(self, engine_stats: Callable[[], dict[str, Any]], policy_digest: str = "") -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}
        build = Gauge(
            "gate_build_info", "Always 1: the running gate version and the digest of the policies it decides with",
            ["version", "policy_digest"], registry=self.registry,
        )
        build.labels(__version__, policy_digest).set(1)
        self.reviews = Counter(
            "gate_admission_reviews", "AdmissionReviews answered, by decision and object kind",
            ["decision", "kind"], registry=self.registry,
        )
        self.latency = Histogram(
            "gate_admission_review_seconds", "Time to answer one AdmissionReview",
            buckets=LATENCY_BUCKETS, registry=self.registry,
        )
        self._judged = _JudgedCounts()
        self.registry.register(self._judged)
        self.pinned = Counter("gate_images_pinned", "Tag references POST /mutate pinned to the judged digest", registry=self.registry)
        self.timeouts = Counter("gate_evaluation_timeouts", "Images answered \"in progress\" at the deadline (their evaluation went on)", registry=self.registry)
        self.bad_requests = Counter("gate_admission_bad_requests", "Bodies refused with HTTP 400", registry=self.registry)
        self.events = Counter(
            "gate_registry_events", "Registry push notifications, by outcome", ["outcome"], registry=self.registry
        )
        self.audit_results = Gauge(
            "gate_audit_results", "PolicyReport results of the last completed audit, by namespace, rule and result",
            ["namespace", "rule", "result"], registry=self.registry,
        )
        self.audit_completed = Gauge(
            "gate_audit_last_completed_timestamp_seconds", "Unix time the last audit of running workloads completed",
            registry=self.registry,
        )
        self.registry.register(_EngineCollector(engine_stats))

    def count(self, counter: Counter, *labels: str) -> None:
        """``counter.labels(*labels).inc()`` with the child looked up once (``labels()`` costs
        microseconds, and a review increments about ten counters)."""
        key = (id(counter), labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = counter.labels(*labels)
        child.inc()

    def record_images(self, results: Sequence[ImageResult]) -> None:
        """Count the images of one review, their decisions and violations."""
        self._judged.add(results)

    def record_audit(self, counts: dict[tuple[str, str, str], int], finished: float) -> None:
        """Replace the audit gauges with one completed audit's counts ((namespace, rule, result) -> n)."""
        self.audit_results.clear()
        for labels, count in counts.items():
            self.audit_results.labels(*labels).set(count)
        self.audit_completed.set(finished)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class _JudgedCounts(Collector):
    """Images judged by decision and violations by rule and action, counted in plain dicts and
    exported at scrape time: a warm review of three images with five violations each bumped
    nineteen lock-guarded prometheus counters, a tenth of its cost. Updated and scraped on the
    event loop's thread only.

    Warm reviews hand in the same verdict objects (the engine's cached ones) again and again, so
    a review only counts its set of verdicts (held, so their ids stay theirs); the sets are
    folded into decisions and violations at scrape time, or when ``PENDING_SETS`` are waiting.
    """

    PENDING_SETS = 1024

    def __init__(self) -> None:
        self.decisions: collections.Counter[str] = collections.Counter()
        self.violations: collections.Counter[tuple[str, str]] = collections.Counter()
        self._pending: dict[tuple[int, ...], list[Any]] = {}  # verdict ids -> [verdicts, reviews]

    def add(self, results: Sequence[ImageResult]) -> None:
        key = tuple(map(id, results))
        found = self._pending.get(key)
        if found is None:
            if len(self._pending) >= self.PENDING_SETS:
                self.fold()
            found = self._pending[key] = [tuple(results), 0]
        found[1] += 1

    def fold(self) -> None:
        """Count the waiting sets of verdicts into ``decisions`` and ``violations``."""
        decisions, violations = self.decisions, self.violations
        for results, reviews in self._pending.values():
            for result in results:
                decisions[result.decision] += reviews
                for violation in result.violations:
                    violations[violation.rule, violation.action] += reviews
        self._pending.clear()

    def collect(self) -> Iterator[CounterMetricFamily]:
        self.fold()
        images = CounterMetricFamily("gate_admission_images", "Images judged, by decision", labels=["decision"])
        for decision, count in list(self.decisions.items()):
            images.add_metric([decision], count)
        yield images
        violations = CounterMetricFamily(
            "gate_violations", "Violations reported, by rule and action (rule evaluation.error: could not evaluate)", labels=["rule", "action"]
        )
        for (rule, action), count in list(self.violations.items()):
            violations.add_metric([rule, action], count)
        yield violations


class _EngineCollector(Collector):
    """Exports the engine's cache hit/miss and registry request counters at scrape time."""

    def __init__(self, stats: Callable[[], dict[str, Any]]) -> None:
        self._stats = stats

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        stats = self._stats()
        lookups = CounterMetricFamily("gate_cache_lookups", "Cache lookups, by cache and result", labels=["cache", "result"])
        for name, cache in stats.get("caches", {}).items():
            lookups.add_metric([name, "hit"], cache.hits)
            lookups.add_metric([name, "miss"], cache.misses)
        yield lookups
        requests = CounterMetricFamily(
            "gate_registry_requests",
            "Registry HTTP requests, by status; `absent`: an expected 404 of evidence discovery (no cosign tag, no referrers API)",
            labels=["status"],
        )
        for status, count in stats.get("registry_requests", {}).items():
            requests.add_metric([str(status)], count)
        yield requests
        fallbacks = CounterMetricFamily(
            "gate_shared_cache_fallbacks", "Shared-cache (cache.url) operations that fell back to local work, by reason", labels=["reason"]
        )
        for reason, count in stats.get("shared_fallbacks", {}).items():
            fallbacks.add_metric([reason], count)
        yield fallbacks
        evaluations = stats.get("evaluations")
        if evaluations is not None:
            slots = GaugeMetricFamily(
                "gate_background_evaluations", "Evaluations gathering and scanning now, or waiting for a slot", labels=["state"]
            )
            slots.add_metric(["running"], evaluations.running)
            slots.add_metric(["queued"], evaluations.queued)
            yield slots
            yield CounterMetricFamily(
                "gate_background_evaluations_queued", "Evaluations that had to wait for a slot (limits.background_evaluations)",
                value=evaluations.queued_total,
            )

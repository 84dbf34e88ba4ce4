"""Find tokens in bytes fast: one hyperscan pass over every rule's prefilter, then ``re`` confirms.

Python ``re`` running rule after rule manages ~11 MB/s here; hyperscan runs all prefilters at once
at GB/s and reports only end offsets, so the exact (slow) regex runs on a small window around each
hit. Prefilters are compiled with ``HS_FLAG_PREFILTER``: hyperscan may report more than the pattern
matches, never less, which is exactly what a prefilter needs.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import re
import threading
from dataclasses import dataclass
from pathlib import Path

import hyperscan

from gate.scan._compiled import compiled_database
from gate.scan._rules import RULES, ContentRule, is_placeholder, shannon_entropy

_SEPARATOR = b"\n"  # between files scanned in one call: no token spans a line break
_LINE_SLACK = 128
_MAX_WINDOW = 64 * 1024
_ENOUGH = 32
_WORD_DOT_DASH = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
# Rules whose matches are assignments of any value: dropped when a specific token rule already
# explains the same bytes (``GITHUB_TOKEN=ghp_…`` is one github-pat, not also a generic key).
_GENERIC = frozenset({"generic-api-key", "url-password", "curl-auth-user", "curl-auth-header"})


@dataclass(frozen=True)
class Match:
    """A confirmed secret: which rule, the secret bytes (kept in memory only) and where it starts."""

    detector: str
    secret: bytes
    start: int

    def secret_text(self) -> str:
        return self.secret.decode("utf-8", "replace")


@functools.lru_cache(maxsize=1)
def default_matcher() -> "ContentMatcher":
    """The process-wide matcher; its database is compiled once per process (see ``_compiled``)."""
    return ContentMatcher()


class ContentMatcher:
    """Holds the compiled hyperscan database and a scratch space per thread.

    ``cache_dir`` keeps the compiled database on disk, so the next process loads it instead of
    compiling it (~100 ms).
    """

    def __init__(self, rules: tuple[ContentRule, ...] = RULES, cache_dir: Path | None = None):
        self._rules = rules
        flags = [
            hyperscan.HS_FLAG_PREFILTER | (hyperscan.HS_FLAG_CASELESS if rule.caseless_prefilter else 0)
            for rule in rules
        ]
        self._database = compiled_database(
            [rule.prefilter for rule in rules], list(range(len(rules))), flags, mode=hyperscan.HS_MODE_VECTORED, directory=cache_dir
        )
        self._local = threading.local()

    def _scratch(self) -> hyperscan.Scratch:
        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = self._local.scratch = hyperscan.Scratch(self._database)
        return scratch

    def prefilter_hits(self, data: bytes) -> dict[int, list[int]]:
        """Rule index -> end offsets of prefilter hits (capped per rule)."""
        return self.prefilter_many([data])[0]

    def prefilter_many(self, blobs: list[bytes]) -> list[dict[int, list[int]]]:
        """``prefilter_hits`` for many small files in one hyperscan call (the per-call cost, ~6 us,
        dominates for small files). The files, a newline between each two, are scanned as one
        stream in hyperscan's vectored mode (no joined copy) and hits mapped back by offset."""
        if not blobs:
            return []
        parts = [_SEPARATOR] * (2 * len(blobs) - 1)
        parts[::2] = blobs
        starts = list(itertools.accumulate((len(blob) + 1 for blob in blobs[:-1]), initial=0))
        hits: list[dict[int, list[int]]] = [{} for _ in blobs]

        def on_match(rule_id: int, _start: int, end: int, _flags: int, _context: object) -> None:
            index = bisect.bisect_right(starts, end - 1) - 1
            hits[index].setdefault(rule_id, []).append(min(end - starts[index], len(blobs[index])))

        # A vectored database scans a list of buffers; the stub types only block mode's one buffer.
        self._database.scan(parts, match_event_handler=on_match, scratch=self._scratch())  # type: ignore[type-var]
        return hits

    def scan(
        self, data: bytes, path: str = "", hits: dict[int, list[int]] | None = None, only: frozenset[str] | None = None
    ) -> list[Match]:
        """Every confirmed secret in ``data``, specific token rules first, generic ones if not overlapping.

        ``hits`` are this data's prefilter hits when already computed (``prefilter_many``);
        ``only`` restricts the rules confirmed to those IDs (binary files, third-party trees).
        """
        if hits is None:
            hits = self.prefilter_hits(data)
        if not hits:
            return []
        specific: list[Match] = []
        generic: list[Match] = []
        for rule_index in sorted(hits):
            rule = self._rules[rule_index]
            if only is not None and rule.id not in only:
                continue
            if rule.path is not None and not rule.path.search(path):
                continue
            if rule.skip_paths is not None and rule.skip_paths.search(path):
                continue
            found = _confirm(rule, data, hits[rule_index])
            (generic if rule.id in _GENERIC else specific).extend(found)
        spans = [(m.start, m.start + len(m.secret)) for m in specific]
        return specific + [m for m in generic if not _overlaps(m, spans)]


_STOPWORD_DATABASES: dict[str, hyperscan.Database] = {}
_STOPWORD_LOCK = threading.Lock()
_STOPWORD_SCRATCH = threading.local()


def _has_stopword(rule: ContentRule, secret: bytes) -> bool:
    """Whether ``secret`` contains one of the rule's stopwords (caseless).

    A hyperscan literal set: the generic rule has 1,446 stopwords, and checking them one by one
    in Python dominated files with many candidate assignments.
    """
    with _STOPWORD_LOCK:
        database = _STOPWORD_DATABASES.get(rule.id)
        if database is None:
            database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
            words = sorted(rule.stopwords)
            database.compile(expressions=[re.escape(word) for word in words], ids=list(range(len(words))),
                             flags=[hyperscan.HS_FLAG_CASELESS | hyperscan.HS_FLAG_SINGLEMATCH] * len(words))
            _STOPWORD_DATABASES[rule.id] = database
    scratches = getattr(_STOPWORD_SCRATCH, "by_rule", None)
    if scratches is None:
        scratches = _STOPWORD_SCRATCH.by_rule = {}
    scratch = scratches.get(rule.id)
    if scratch is None:
        scratch = scratches[rule.id] = hyperscan.Scratch(database)
    found: list[int] = []

    def on_match(_id: int, _start: int, _end: int, _flags: int, _context: object) -> None:
        found.append(1)

    database.scan(secret, match_event_handler=on_match, scratch=scratch)
    return bool(found)


def _overlaps(match: Match, spans: list[tuple[int, int]]) -> bool:
    end = match.start + len(match.secret)
    return any(start < end and match.start < stop for start, stop in spans)


def _windows(data: bytes, ends: list[int], rule: ContentRule) -> list[tuple[int, int]]:
    """Merge the regions around each hit, widened to whole lines within a little slack.

    Merged windows stay below ``_MAX_WINDOW`` so a file dense with hits (one long line of
    ``curl curl curl…``) gives many bounded windows rather than one file-sized one.
    """
    size = len(data)
    merged: list[tuple[int, int]] = []
    for end in sorted(ends):
        low, high = max(0, end - rule.before), min(size, end + rule.after)
        newline = data.rfind(b"\n", max(0, low - _LINE_SLACK), low)
        low = newline + 1 if newline >= 0 else max(0, low - _LINE_SLACK)
        newline = data.find(b"\n", high, min(size, high + _LINE_SLACK))
        high = newline if newline >= 0 else min(size, high + _LINE_SLACK)
        if merged and low <= merged[-1][1] and high - merged[-1][0] <= _MAX_WINDOW:
            merged[-1] = (merged[-1][0], max(high, merged[-1][1]))
        else:
            merged.append((low, high))
    return merged


def _confirm(rule: ContentRule, data: bytes, ends: list[int]) -> list[Match]:
    """Confirmed matches of one rule in one file; stops after ``_ENOUGH`` (one is enough to deny,
    a few help a person, thousands only cost time: a dense file must not stall the scan)."""
    if rule.anchor:
        return _confirm_anchored(rule, data, ends)
    found: dict[int, Match] = {}
    for low, high in _windows(data, ends, rule):
        for match in rule.regex.finditer(data, low, high):
            _keep(rule, data, match, low, found)
            if len(found) >= _ENOUGH:
                return list(found.values())
    return list(found.values())


def _confirm_anchored(rule: ContentRule, data: bytes, ends: list[int]) -> list[Match]:
    """Try the regex only where a prefilter hit says a match starts (``end - anchor``).

    For rules whose regex scans far ahead of its keyword (``curl … -u user:pass``), trying every
    position of a dense window is quadratic; one attempt per hit is linear in the hits, and an
    attempt is skipped unless the rule's ``requires`` pattern (``-u``) occurs in reach.
    """
    found: dict[int, Match] = {}
    reached = 0
    marks = [mark.start() for mark in rule.requires.finditer(data)] if rule.requires is not None else None
    for end in sorted(set(ends)):
        start, stop = end - rule.anchor, min(len(data), end + rule.after)
        if start < reached or (marks is not None and not _any_between(marks, start, stop)):
            continue
        match = rule.regex.match(data, start, stop)
        if match:
            _keep(rule, data, match, start, found)
            reached = match.end()
            if len(found) >= _ENOUGH:
                break
    return list(found.values())


def _any_between(marks: list[int], low: int, high: int) -> bool:
    index = bisect.bisect_left(marks, low)
    return index < len(marks) and marks[index] < high


def _keep(rule: ContentRule, data: bytes, match: re.Match[bytes], low: int, found: dict[int, Match]) -> None:
    secret, start = _secret_of(match)
    whole = (_lead_in(data, match.start(), low, rule.lead_in), match.end())
    if start not in found and _accepted(rule, data, whole, secret):
        found[start] = Match(rule.id, secret, start)


def _lead_in(data: bytes, start: int, low: int, limit: int) -> int:
    """Where gitleaks' lazy ``[\\w.-]{0,limit}?`` prefix would have started the match.

    Running that prefix inside ``re`` costs a retry per character at every position (~100 us per
    window); the rule's regex starts at its keyword instead and the prefix is found here.
    """
    position = start
    floor = max(low, start - limit)
    while position > floor and data[position - 1] in _WORD_DOT_DASH:
        position -= 1
    return position


def _secret_of(match: re.Match[bytes]) -> tuple[bytes, int]:
    """The first non-empty capture group is the secret (gitleaks' convention), else the whole match."""
    for index, group in enumerate(match.groups(), start=1):
        if group:
            return group, match.start(index)
    return match.group(0), match.start()


def _accepted(rule: ContentRule, data: bytes, whole: tuple[int, int], secret: bytes) -> bool:
    if rule.entropy and shannon_entropy(secret) <= rule.entropy:
        return False
    if rule.needs_digit and not any(48 <= byte <= 57 for byte in secret):
        return False
    if any(pattern.search(secret) for pattern in rule.allow_secret):
        return False
    if rule.allow_match and any(pattern.search(data, *whole) for pattern in rule.allow_match):
        return False
    if rule.allow_line:
        line_start = data.rfind(b"\n", 0, whole[0]) + 1
        line_end = data.find(b"\n", whole[1])
        line = data[line_start : line_end if line_end >= 0 else len(data)]
        if any(pattern.search(line) for pattern in rule.allow_line):
            return False
    if rule.stopwords and _has_stopword(rule, secret):
        return False
    if rule.valid is not None and not rule.valid(secret):
        return False
    return not is_placeholder(secret)

"""The hyperscan database cache: reused from disk by a new process, recompiled when patterns change."""

from __future__ import annotations

from pathlib import Path

import hyperscan
import pytest

from gate.scan import _compiled
from gate.scan._compiled import compiled_database, database_file, database_key
from gate.scan._matcher import ContentMatcher

FLAGS = [0]


@pytest.fixture(autouse=True)
def fresh_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts as a new process would: nothing compiled in memory."""
    monkeypatch.setattr(_compiled, "_MEMORY", {})


def matches(database: hyperscan.Database, data: bytes) -> list[int]:
    found: list[int] = []
    database.scan(data, match_event_handler=lambda rule_id, *_: found.append(rule_id), scratch=hyperscan.Scratch(database))
    return found


def serialised(expression: str) -> bytes:
    database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    database.compile(expressions=[expression], ids=[0], flags=FLAGS)
    return hyperscan.dumpb(database)


def test_database_written_once_is_loaded_by_the_next_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    compiled_database([b"apple"], [0], FLAGS, directory=tmp_path)
    path = database_file(tmp_path, database_key([b"apple"], [0], FLAGS, hyperscan.HS_MODE_BLOCK))
    assert path.is_file()
    # Plant a database for another pattern under the same name: only a load from disk can find it.
    path.write_bytes(serialised("pear"))
    monkeypatch.setattr(_compiled, "_MEMORY", {})
    loaded = compiled_database([b"apple"], [0], FLAGS, directory=tmp_path)
    assert matches(loaded, b"a pear") == [0]


def test_changed_patterns_compile_a_new_database(tmp_path: Path) -> None:
    first = compiled_database([b"apple"], [0], FLAGS, directory=tmp_path)
    second = compiled_database([b"pear"], [0], FLAGS, directory=tmp_path)
    assert matches(first, b"apple") == [0] and matches(first, b"pear") == []
    assert matches(second, b"pear") == [0] and matches(second, b"apple") == []
    assert len(list(tmp_path.glob("hyperscan-*.db"))) == 2


@pytest.mark.parametrize("change", [{"flags": [hyperscan.HS_FLAG_CASELESS]}, {"ids": [7]}])
def test_key_covers_flags_and_ids(change: dict[str, list[int]]) -> None:
    inputs = {"expressions": [b"apple"], "ids": [0], "flags": FLAGS, "mode": hyperscan.HS_MODE_BLOCK}
    assert database_key(**inputs) != database_key(**{**inputs, **change})


def test_key_covers_hyperscan_version(monkeypatch: pytest.MonkeyPatch) -> None:
    before = database_key([b"apple"], [0], FLAGS, hyperscan.HS_MODE_BLOCK)
    monkeypatch.setattr(hyperscan, "__version__", "0.0.0-other")
    assert database_key([b"apple"], [0], FLAGS, hyperscan.HS_MODE_BLOCK) != before


def test_unreadable_file_is_compiled_again_and_rewritten(tmp_path: Path) -> None:
    path = database_file(tmp_path, database_key([b"apple"], [0], FLAGS, hyperscan.HS_MODE_BLOCK))
    path.write_bytes(b"not a hyperscan database")
    database = compiled_database([b"apple"], [0], FLAGS, directory=tmp_path)
    assert matches(database, b"apple") == [0]
    path.unlink()
    compiled_database([b"apple"], [0], FLAGS, directory=tmp_path)
    assert hyperscan.loadb(path.read_bytes(), hyperscan.HS_MODE_BLOCK) is not None


def test_read_only_cache_directory_still_scans(tmp_path: Path) -> None:
    blocked = tmp_path / "file-not-directory"
    blocked.write_text("")
    database = compiled_database([b"apple"], [0], FLAGS, directory=blocked / "cache")
    assert matches(database, b"apple") == [0]


def test_content_matcher_keeps_its_database_in_the_cache_directory(tmp_path: Path) -> None:
    matcher = ContentMatcher(cache_dir=tmp_path)
    assert len(list(tmp_path.glob("hyperscan-*.db"))) == 1
    token = b"GITHUB=ghp_" + b"Ab1Cd2Ef3Gh4Ij5Kl6Mn7Op8Qr9St0Uv1Wx2"
    assert [m.detector for m in matcher.scan(token)] == [m.detector for m in ContentMatcher().scan(token)]
    assert matcher.scan(token)

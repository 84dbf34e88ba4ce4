"""Hyperscan databases compiled once per process and, given a cache directory, once per machine.

Compiling the content rules' prefilters takes ~100 ms, a third of a cached ``gate check``; a
serialised database loads in about a millisecond. The file name is a hash of everything the
compiled form depends on (expressions, ids, flags, mode and the hyperscan version), so a changed
pattern or an upgraded hyperscan compiles afresh. A file that does not load is compiled again and
rewritten, never an error: the cache can only save time.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path

import hyperscan

_MAX_FILE_BYTES = 64 * 1024 * 1024
_MEMORY: dict[str, hyperscan.Database] = {}
_LOCK = threading.Lock()


def database_key(expressions: Sequence[bytes], ids: Sequence[int], flags: Sequence[int], mode: int) -> str:
    """A hash naming one compiled database: any change to its inputs or to hyperscan changes it."""
    parts = [e.decode("latin-1") for e in expressions]
    version = hyperscan.__version__  # type: ignore[attr-defined]  # the package bundles its Hyperscan library
    material = json.dumps([version, mode, parts, list(ids), list(flags)], separators=(",", ":"))
    return hashlib.sha256(material.encode()).hexdigest()


def database_file(directory: Path, key: str) -> Path:
    """Where the database with ``key`` is kept in ``directory``."""
    return directory / f"hyperscan-{key}.db"


def compiled_database(
    expressions: Sequence[bytes],
    ids: Sequence[int],
    flags: Sequence[int],
    *,
    mode: int = hyperscan.HS_MODE_BLOCK,
    directory: Path | None = None,
) -> hyperscan.Database:
    """The database for these patterns: from this process, else from ``directory``, else compiled
    (and then written to ``directory`` when one is given)."""
    key = database_key(expressions, ids, flags, mode)
    path = database_file(directory, key) if directory is not None else None
    with _LOCK:
        database = _MEMORY.get(key)
        if database is None and path is not None:
            database = _load(path, mode)
        if database is None:
            database = hyperscan.Database(mode=mode)
            database.compile(expressions=list(expressions), ids=list(ids), flags=list(flags))
        _MEMORY[key] = database
    if path is not None and not path.is_file():
        _store(path, database)
    return database


def _load(path: Path, mode: int) -> hyperscan.Database | None:
    try:
        if not path.is_file() or path.stat().st_size > _MAX_FILE_BYTES:
            return None
        return hyperscan.loadb(path.read_bytes(), mode)
    except (OSError, hyperscan.error):
        return None


def _store(path: Path, database: hyperscan.Database) -> None:
    """Write atomically (a reader never sees half a file); a read-only cache is left alone."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".hyperscan-", suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(hyperscan.dumpb(database))
            os.replace(temporary, path)
        except BaseException:
            os.unlink(temporary)
            raise
    except OSError:
        return

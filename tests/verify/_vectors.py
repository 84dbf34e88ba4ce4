"""Shared helpers for the third-party Sigstore/cosign vectors in tests/vectors (never edited)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any
from tests.support.vectors import VECTORS

# A fixed evaluation time after every vector was made: certificates are judged at signing time.
NOW = dt.datetime(2026, 11, 26, 14, 0, tzinfo=dt.timezone.utc)


def load_index(relative: str) -> Any:
    """An index file of the vectors folder, parsed."""
    return json.loads((VECTORS / relative).read_text())


def sha256_of(path: Path) -> str:
    """``sha256:<hex>`` of a file."""
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()

"""The third-party attestation and format vectors in tests/vectors (never edited; see their PROVENANCE files)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from tests.support.vectors import VECTORS

ATTESTATIONS = VECTORS / "attestations"
FORMATS = VECTORS / "formats"


def load_index(path: Path) -> Any:
    """A vector folder's index file, parsed."""
    return json.loads(path.read_text())

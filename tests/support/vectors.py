"""Where the third-party test vectors live: ``tests/vectors`` inside the repository.

They are copies of public conformance data, never edited, each source's provenance and licence
kept beside them (``tests/vectors/PROVENANCE.md``, ``tests/vectors/formats/PROVENANCE.md``), so a
plain clone runs every test. ``GATE_VECTORS`` points the tests at another copy.
"""

from __future__ import annotations

import os
from pathlib import Path

IN_REPOSITORY = Path(__file__).resolve().parents[1] / "vectors"
VECTORS = Path(os.environ.get("GATE_VECTORS") or IN_REPOSITORY)

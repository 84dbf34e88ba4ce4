"""Where the third-party test vectors live: ``tests/vectors`` inside the repository, and only there.

They are copies of public conformance data, never edited, each source's provenance and licence
kept beside them (``tests/vectors/PROVENANCE.md``, ``tests/vectors/formats/PROVENANCE.md``), so a
plain clone runs every test and no test reads a folder outside the checkout.
"""

from __future__ import annotations

from pathlib import Path

VECTORS = Path(__file__).resolve().parents[1] / "vectors"

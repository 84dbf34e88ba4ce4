"""Where the third-party test vectors live: ``shared/vectors`` beside the repository checkout.

CI lays ``shared/`` next to its clone, as the development checkout has it; ``GATE_VECTORS``
overrides the location.
"""

from __future__ import annotations

import os
from pathlib import Path

VECTORS = Path(os.environ.get("GATE_VECTORS") or Path(__file__).resolve().parents[3] / "shared" / "vectors")

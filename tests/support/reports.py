"""Read reports in tests: the evidence of an image judged on a single platform."""

from __future__ import annotations

from typing import Any


def only_evidence(result: Any) -> dict[str, Any]:
    """The evidence of the one platform image a result (JSON dict or ``ImageResult``) was judged on."""
    evidence = result["evidence"] if isinstance(result, dict) else result.evidence
    (platform,) = evidence["platforms"].values()
    return platform

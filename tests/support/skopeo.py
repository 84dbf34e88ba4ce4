"""Read images back with skopeo, an independent client, to check what was really pushed."""

from __future__ import annotations

import json
import subprocess
from typing import Any


def skopeo_inspect(*args: str) -> Any:
    """``skopeo inspect --tls-verify=false ARGS`` (plain HTTP allowed) as parsed JSON.

    Raises:
        AssertionError: skopeo failed; the message is its stderr.
    """
    result = subprocess.run(
        ["skopeo", "inspect", "--tls-verify=false", *args], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)

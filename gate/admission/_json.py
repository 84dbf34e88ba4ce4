"""JSON bodies from clients, parsed with a nesting bound.

Python's parser recurses once per level and raises ``RecursionError`` (not ``ValueError``) near a
thousand levels; code that walks the document afterwards would do the same at its own depth. No
Kubernetes object or registry notification comes near ``MAX_DEPTH`` levels, so anything deeper is
a client mistake (400), never a server error.
"""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 128


def loads_bounded(body: bytes) -> Any:
    """The parsed body.

    Raises:
        ValueError: not JSON, not UTF-8, or nested deeper than ``MAX_DEPTH`` levels.
    """
    try:
        document = json.loads(body)
    except RecursionError as exc:
        raise ValueError(f"JSON nested deeper than {MAX_DEPTH} levels") from exc
    pending: list[tuple[Any, int]] = [(document, 1)]
    while pending:
        node, depth = pending.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        for child in children:
            if isinstance(child, (dict, list)):
                if depth + 1 > MAX_DEPTH:
                    raise ValueError(f"JSON nested deeper than {MAX_DEPTH} levels")
                pending.append((child, depth + 1))
    return document

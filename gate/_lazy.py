"""Package facades that import a submodule the first time one of its names is used.

A `gate check` of an image without signatures, SBOM or provenance never parses any of them; an
eager facade would still import every parser (and the dataclasses and regexes each defines) at
start-up. Each facade names where its exports live; ``from gate.evidence import Sbom`` imports
``gate.evidence._sbom`` then and not before. Type checkers read the same names through the
facade's ``TYPE_CHECKING`` imports.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping


_FACADES: dict[str, tuple[str, ...]] = {}  # package -> the submodules its facade defers


def lazy_exports(package: str, homes: Mapping[str, tuple[str, ...]]) -> Callable[[str], object]:
    """A module ``__getattr__`` for ``package`` that imports ``homes``' submodule (relative name) of a name on first use.

    The value found is set on the package, so later uses are plain attribute reads. A name no
    submodule exports raises ``AttributeError`` as for any module.
    """
    home_of = {name: submodule for submodule, names in homes.items() for name in names}
    _FACADES[package] = tuple(homes)

    def __getattr__(name: str) -> object:
        submodule = home_of.get(name)
        if submodule is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(submodule, package), name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__


def import_deferred() -> None:
    """Import every submodule the facades loaded so far defer (and what those import in turn).

    A long-running server calls this at start-up: its first reviews should not pay for imports
    a one-shot ``gate check`` rightly skips. Facades a deferred submodule imports are covered too.
    """
    done: set[tuple[str, str]] = set()
    while pending := [(package, home) for package, homes in list(_FACADES.items()) for home in homes if (package, home) not in done]:
        for package, home in pending:
            importlib.import_module(home, package)
            done.add((package, home))

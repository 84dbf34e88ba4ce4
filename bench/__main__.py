"""Run every benchmark module in this directory (``*_bench.py`` with a ``main()``), one after another."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path


def main() -> None:
    names = sorted(path.stem for path in Path(__file__).parent.glob("*_bench.py"))
    chosen = [name for name in names if not sys.argv[1:] or name in sys.argv[1:]]
    del sys.argv[1:]  # the names chose the benches; each reads its own options, so it runs with its defaults
    for name in chosen:
        print(f"== {name}", flush=True)
        importlib.import_module(f"bench.{name}").main()


if __name__ == "__main__":
    main()

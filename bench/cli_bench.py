"""How long the ``gate`` command takes from a shell, each figure beside ``python -c pass`` in one run.

Run: ``.venv/bin/python bench/cli_bench.py`` (or ``python -m bench cli_bench``). Pushes a small
two-layer image to Debian's registry on loopback, then times, as fresh processes:

* floor: ``python -c pass`` (the interpreter starting and stopping);
* ``gate check image --help``;
* a cold check: an empty cache directory (layers fetched and scanned, hyperscan database built);
* a cached check: the same image again with the cache the cold check filled.

Prints the best wall time of the rounds for each, and its ratio to the floor. Bytecode is written
and a first run is discarded, as for an installed gate (pip compiles its modules at install time).
Every timed check must reach a verdict (exit 0 or 1): a run that stops at a usage or registry
error (exit 2) would time the error path, so the bench refuses it and prints gate's message.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.images import ImageBuilder  # noqa: E402
from tests.support.registry_server import RegistryServer, start_registry  # noqa: E402

ROUNDS = 5
CACHED_TARGET_SECONDS = 0.35
ROOT = Path(__file__).resolve().parents[1]


def push_small_image(registry: RegistryServer) -> str:
    """A two-layer image a CLI user would judge: a few text files and a small binary."""
    image = (
        ImageBuilder()
        .layer({"etc/os-release": "ID=bench\n", "usr/bin/tool": b"\x7fELF" + bytes(4096)})
        .layer({"app/main.py": "print('hello')\n" * 50, "app/README": "bench image\n"})
        .config(user="10001")
    )
    return image.push(registry, f"{registry.host}/bench/cli:1").ref


def _best_seconds(
    command: list[str], env: Mapping[str, str], before_each: object = None, expect: tuple[int, ...] = (0,), rounds: int = ROUNDS
) -> float:
    """The best wall time of ``rounds`` fresh processes; each must exit with a code in ``expect``."""
    best = float("inf")
    for _ in range(rounds):
        if callable(before_each):
            before_each()
        start = time.perf_counter()
        done = subprocess.run(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
        best = min(best, time.perf_counter() - start)
        if done.returncode not in expect:
            raise SystemExit(f"{' '.join(command)} exited {done.returncode}, not {expect}:\n{done.stderr.decode(errors='replace')}")
    return best


def main() -> None:
    python = sys.executable
    gate = [python, "-m", "gate.cli"]
    with tempfile.TemporaryDirectory() as workdir:
        registry = start_registry(Path(workdir) / "registry")
        try:
            reference = push_small_image(registry)
            config = Path(workdir) / "gate.yaml"
            config.write_text(f"registries:\n  insecure: ['{registry.host}']\n")
            cache_home = Path(workdir) / "cache"
            env = {**os.environ, "PYTHONPATH": str(ROOT), "XDG_CACHE_HOME": str(cache_home)}
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            check = [*gate, "check", "image", "--config", str(config), reference]
            verdict = (0, 1)  # allowed or denied: the image was judged
            _best_seconds(check, env, expect=verdict, rounds=1)  # writes bytecode and fills the cache
            floor = _best_seconds([python, "-c", "pass"], env)
            timings = {
                "gate check image --help": _best_seconds([*gate, "check", "image", "--help"], env),
                "cold check (empty cache)": _best_seconds(check, env, lambda: shutil.rmtree(cache_home, ignore_errors=True), expect=verdict),
                "cached check": _best_seconds(check, env, expect=verdict),
            }
        finally:
            registry.stop()
    print(f"{'python -c pass (floor)':28} {floor * 1000:7.0f} ms")
    for name, seconds in timings.items():
        print(f"{name:28} {seconds * 1000:7.0f} ms   {seconds / floor:5.1f}x floor")
    cached = timings["cached check"]
    verdict = "met" if cached <= CACHED_TARGET_SECONDS else "not met"
    print(f"cached check target <= {CACHED_TARGET_SECONDS * 1000:.0f} ms: {verdict}")


if __name__ == "__main__":
    main()

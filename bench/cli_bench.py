"""How long the ``gate`` command takes from a shell, each figure beside ``python -c pass`` in one run.

Run: ``.venv/bin/python bench/cli_bench.py`` (or ``python -m bench cli_bench``). Pushes a small
two-layer image to Debian's registry on loopback, then times, as fresh processes:

* floor: ``python -c pass`` (the interpreter starting and stopping);
* ``gate check image --help``;
* a cold check: an empty cache directory (layers fetched and scanned, hyperscan database and Rego
  bundle built);
* a cached check: the same image again with the cache the cold check filled.

The cases take turns, round after round, so a burst of load from other work on the machine falls
on all of them alike. Prints, for each, the best wall time and the best CPU time (user + system of
the process) of the rounds, each with its ratio to the floor's: on a shared machine the CPU
figures move less. Bytecode is written and a first run is discarded, as for an installed gate
(pip compiles its modules at install time). Every timed check must reach a verdict (exit 0 or 1):
a run that stops at a usage or registry error (exit 2) would time the error path, so the bench
refuses it and prints gate's message. The registry is plain HTTP, so no TLS context is built; a
check against an HTTPS registry also reads the system CA store.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
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


@dataclass
class Case:
    """One command to time; ``before`` runs ahead of each round (untimed), ``expect`` lists the exit codes it may give."""

    command: list[str]
    before: Callable[[], None] | None = None
    expect: tuple[int, ...] = (0,)
    wall: float = float("inf")
    cpu: float = float("inf")

    def run(self, env: Mapping[str, str]) -> None:
        """One fresh process; keeps the best wall and CPU seconds seen."""
        if self.before is not None:
            self.before()
        used = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        done = subprocess.run(self.command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if done.returncode not in self.expect:
            raise SystemExit(f"{' '.join(self.command)} exited {done.returncode}, not {self.expect}:\n{done.stderr.decode(errors='replace')}")
        self.wall = min(self.wall, wall)
        self.cpu = min(self.cpu, after.ru_utime - used.ru_utime + after.ru_stime - used.ru_stime)


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
            Case(check, expect=verdict).run(env)  # writes bytecode and fills the cache
            floor = Case([python, "-c", "pass"])
            cases = {  # in this order each round: the cold check leaves the cache the cached check reads
                "gate check image --help": Case([*gate, "check", "image", "--help"]),
                "cold check (empty cache)": Case(check, lambda: shutil.rmtree(cache_home, ignore_errors=True), verdict),
                "cached check": Case(check, expect=verdict),
            }
            for _ in range(ROUNDS):
                for case in (floor, *cases.values()):
                    case.run(env)
        finally:
            registry.stop()
    print(f"{'':28} {'best wall':>10} {'':>8}   {'best CPU':>10}")
    print(f"{'python -c pass (floor)':28} {floor.wall * 1000:7.0f} ms {'':>8}   {floor.cpu * 1000:7.0f} ms")
    for name, case in cases.items():
        print(f"{name:28} {case.wall * 1000:7.0f} ms {case.wall / floor.wall:5.1f}x   {case.cpu * 1000:7.0f} ms {case.cpu / floor.cpu:5.1f}x")
    cached = cases["cached check"].wall
    verdict_text = "met" if cached <= CACHED_TARGET_SECONDS else "not met"
    print(f"cached check target <= {CACHED_TARGET_SECONDS * 1000:.0f} ms wall: {verdict_text}")


if __name__ == "__main__":
    main()

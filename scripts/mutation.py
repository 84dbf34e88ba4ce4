"""Mutation run over the security-critical checks: break each one, and the tests must notice.

Each mutant in ``tests/mutation/mutants.yaml`` replaces one exact snippet of a module with a weaker
version (a check removed, inverted or loosened) and names the tests that guard it. The run copies
the tracked tree once, applies each mutant there in turn, runs its tests, and counts it killed when
they fail. A mutant marked ``flips: allow`` turns a deny into an allow; any such survivor fails the
run (exit 1). A snippet that no longer occurs exactly once is an error (exit 2): the list must move
with the code, never silently test nothing.

Usage: python scripts/mutation.py [--only ID ...] [--keep]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
MUTANTS = ROOT / "tests" / "mutation" / "mutants.yaml"
TEST_TIMEOUT_SECONDS = 900


@dataclass(frozen=True)
class Mutant:
    """One weakened check and the tests that must catch it."""

    id: str
    file: str
    find: str
    replace: str
    tests: tuple[str, ...]
    flips: str

    @classmethod
    def from_mapping(cls, entry: dict) -> "Mutant":
        return cls(
            id=entry["id"], file=entry["file"], find=entry["find"], replace=entry["replace"],
            tests=tuple(entry["tests"]), flips=entry.get("flips", "allow"),
        )


def load_mutants(path: Path = MUTANTS) -> list[Mutant]:
    """Every mutant of the list, each checked to name a snippet that occurs exactly once."""
    mutants = [Mutant.from_mapping(entry) for entry in yaml.safe_load(path.read_text(encoding="utf-8"))]
    for mutant in mutants:
        count = (ROOT / mutant.file).read_text(encoding="utf-8").count(mutant.find)
        if count != 1:
            raise SystemExit(f"mutant {mutant.id}: its snippet occurs {count} times in {mutant.file}; update the list")
    return mutants


def copy_tree(destination: Path) -> None:
    """The tracked files (and untracked, unignored ones) as they stand, plus links to the tools."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT, check=True, capture_output=True
    ).stdout.split(b"\0")
    for name in filter(None, (entry.decode() for entry in listed)):
        source = ROOT / name
        if source.is_file() and not source.is_symlink():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    for tool in (".venv", ".tools"):
        if (ROOT / tool).exists():
            (destination / tool).symlink_to((ROOT / tool).resolve())


def run_tests(tree: Path, tests: tuple[str, ...]) -> int:
    """The pytest exit code for ``tests`` in ``tree`` (1: a test failed, the mutant is killed)."""
    environment = {**os.environ, "PYTHONPATH": str(tree), "PATH": f"{tree / '.tools' / 'bin'}:{os.environ['PATH']}"}
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "--no-header", "-o", "addopts=", *tests]
    try:
        return subprocess.run(command, cwd=tree, env=environment, capture_output=True, timeout=TEST_TIMEOUT_SECONDS).returncode
    except subprocess.TimeoutExpired:
        return 1  # a mutant that hangs the tests is noticed


def run(mutants: list[Mutant], tree: Path) -> list[tuple[Mutant, str]]:
    """Apply each mutant in ``tree``, run its tests, restore; returns (mutant, killed|survived|error)."""
    outcomes = []
    for mutant in mutants:
        module = tree / mutant.file
        original = module.read_text(encoding="utf-8")
        module.write_text(original.replace(mutant.find, mutant.replace, 1), encoding="utf-8")
        started = time.monotonic()
        try:
            code = run_tests(tree, mutant.tests)
        finally:
            module.write_text(original, encoding="utf-8")
        outcome = {0: "survived", 1: "killed"}.get(code, f"error (pytest exit {code})")
        print(f"{outcome:<10} {mutant.id:<48} {time.monotonic() - started:6.1f}s", flush=True)
        outcomes.append((mutant, outcome))
    return outcomes


def summarise(outcomes: list[tuple[Mutant, str]]) -> int:
    """Print the score and the survivors; the exit status (1: a deny-to-allow survivor, 2: errors)."""
    killed = sum(1 for _, outcome in outcomes if outcome == "killed")
    survivors = [mutant for mutant, outcome in outcomes if outcome == "survived"]
    errors = [mutant for mutant, outcome in outcomes if outcome.startswith("error")]
    print(f"\nmutation score: {killed}/{len(outcomes)} killed ({100 * killed / max(len(outcomes), 1):.0f}%)")
    for mutant in survivors:
        print(f"  survived: {mutant.id} ({mutant.file}; flips {mutant.flips})")
    for mutant in errors:
        print(f"  error: {mutant.id}: its tests did not run cleanly")
    if errors:
        return 2
    return 1 if any(mutant.flips == "allow" for mutant in survivors) else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=(), help="run only these mutant IDs")
    parser.add_argument("--keep", action="store_true", help="keep the copied tree (its path is printed)")
    arguments = parser.parse_args()
    mutants = [m for m in load_mutants() if not arguments.only or m.id in arguments.only]
    tree = Path(tempfile.mkdtemp(prefix="gate-mutation-"))
    try:
        copy_tree(tree)
        print(f"{len(mutants)} mutants, tree {tree}", flush=True)
        return summarise(run(mutants, tree))
    finally:
        if not arguments.keep:
            shutil.rmtree(tree, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

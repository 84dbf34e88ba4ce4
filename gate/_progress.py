"""Progress bars for long work (layer scans, audits), drawn on a terminal only (quiet when output is piped).

``rich`` is imported when a bar is drawn, so a piped run never loads it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import TracebackType


class TerminalProgress:
    """One bar over all layers being scanned; implements ``gate.engine.LayerProgress``."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

        self._bar = Progress(
            TextColumn("scanning layers"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
            console=Console(stderr=True), transient=True,
        )
        self._task = self._bar.add_task("layers", total=0)
        self._done: dict[str, int] = {}

    def layer(self, digest: str, size: int) -> Callable[[int], None]:
        """Register a layer of ``size`` compressed bytes; the callback takes bytes read so far."""
        self._bar.update(self._task, total=(self._bar.tasks[0].total or 0) + size)
        self._done.setdefault(digest, 0)

        def advance(read: int) -> None:
            step, self._done[digest] = read - self._done[digest], read
            self._bar.advance(self._task, step)

        return advance

    def __enter__(self) -> "TerminalProgress":
        self._bar.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._bar.stop()


def terminal_progress() -> TerminalProgress | None:
    """A progress bar when stderr is a terminal, else ``None`` (CI logs and pipes stay clean)."""
    return TerminalProgress() if sys.stderr.isatty() else None


class TerminalCounter:
    """One bar counting finished items (workloads audited) out of a total known up front."""

    def __init__(self, label: str, total: int) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        self._bar = Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), console=Console(stderr=True), transient=True)
        self._task = self._bar.add_task(label, total=total)

    def advance(self) -> None:
        self._bar.advance(self._task, 1)

    def __enter__(self) -> "TerminalCounter":
        self._bar.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._bar.stop()


def terminal_counter(label: str, total: int) -> TerminalCounter | None:
    """A counting bar when stderr is a terminal, else ``None``."""
    return TerminalCounter(label, total) if sys.stderr.isatty() else None

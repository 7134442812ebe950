"""Progress of long work on screen (capsule_xero/progress.py is the model): a rich progress bar per
stage when stdout is a terminal, plain lines otherwise (a log file, a CI job, a pipe), at most one per
stage every ``LOG_EVERY_SECONDS`` besides each stage's first and last."""

from __future__ import annotations

from types import TracebackType

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from capsule_xero.progress import Progress as StageProgress
from capsule_xero.progress import ThrottledReporter
from cli.shared import console


class ProgressDisplay:
    """A ``progress`` callback that shows each stage under ``names`` (stage → what a person reads)."""

    def __init__(self, names: dict[str, str] | None = None) -> None:
        self.names = names or {}
        self.bars: Progress | None = None
        self.tasks: dict[str, int] = {}
        self.lines = ThrottledReporter(lambda line: console.print(line, highlight=False), names=self.names)

    def __enter__(self) -> ProgressDisplay:
        if console.is_terminal:
            self.bars = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[figures]}"),
                TimeElapsedColumn(),
                console=console,
                transient=False,
            )
            self.bars.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.bars is not None:
            self.bars.stop()

    def __call__(self, progress: StageProgress) -> None:
        if self.bars is None:
            self.lines(progress)
            return
        figures = progress.figures().split(", ", 1)[1]  # the bar shows done/total itself
        if progress.stage not in self.tasks:
            self.tasks[progress.stage] = self.bars.add_task(
                self.names.get(progress.stage, progress.stage), total=progress.total, figures=figures
            )
        self.bars.update(
            self.tasks[progress.stage], completed=progress.done, total=progress.total, figures=figures
        )

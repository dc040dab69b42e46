"""What the commands print on: the output console (stdout), and progress on the terminal of stderr.

Progress is for a person watching: it is drawn only when stderr is a terminal, and vanishes when
its block ends, so piped output and logs hold the output lines alone.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, SpinnerColumn, TextColumn, TimeElapsedColumn

console = Console(highlight=False, soft_wrap=True)  # piped output keeps one line per item
_stderr = Console(stderr=True)

Advance = Callable[[int, int], None]  # (done, total): as ingest.run.Progress
Step = Callable[[str], None]


class Bars:
    """Progress bars, one per task (a source, a stage, a batch of files), in aligned columns."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress

    def add(self, description: str, total: int | None = None) -> Advance:
        """A new bar (`total` None: not known yet), and the function that moves it."""
        task = self._progress.add_task(description, total=total)
        return lambda done, total: self._progress.update(task, completed=done, total=total)


@contextmanager
def bars() -> Iterator[Bars]:
    """Progress bars for the block: description, bar, done/total, time elapsed."""
    with _live(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()) as progress:
        yield Bars(progress)


@contextmanager
def steps(first: str) -> Iterator[Step]:
    """A spinner naming the current step; each step reported is also printed, and stays, as output."""
    with _live(SpinnerColumn(), TextColumn("{task.description}")) as progress:
        current = progress.add_task(first, total=None)

        def step(text: str) -> None:
            console.print(text)
            progress.update(current, description=text)

        yield step


def _live(*columns: ProgressColumn) -> Progress:
    """A live display of these columns, gone when it stops, and none at all when stderr is not a terminal."""
    return Progress(
        *columns,
        # Drawn through the output console when stdout is a terminal too: rich then prints the output lines above
        # the display instead of through it. With stdout piped, the display is on stderr alone and stdout left as is.
        console=console if console.is_terminal else _stderr,
        redirect_stdout=console.is_terminal,
        transient=True,
        disable=not _stderr.is_terminal,
    )

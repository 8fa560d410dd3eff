"""What the CLI draws for people: rich bars and tables on a terminal, plain lines otherwise.

CLI side only. ``rich`` is imported inside the functions that draw, so importing
this module, or any of the library, does not import it: the Lambda bundles never
need it. Machine-readable output (``--json``) is the commands' own, never drawn here.
"""

from __future__ import annotations

import io
import shutil
import sys
from collections.abc import Iterable, Sequence
from typing import Any, TextIO

BAR_WIDTH = 30


def plain_bar(done: int, total: int | None, unit: str) -> str:
    """``[#######-----------------------] 10/40 moved``, or ``10 moved`` with no total."""
    if not total:
        return f"{done} {unit}"
    filled = min(BAR_WIDTH, BAR_WIDTH * done // total)
    return f"[{'#' * filled}{'-' * (BAR_WIDTH - filled)}] {done}/{total} {unit}"


def _console(stream: TextIO, width: int | None = None) -> Any:
    """A rich console for a stream already known to be a terminal."""
    from rich.console import Console

    return Console(
        file=stream, force_terminal=True, force_interactive=True, width=width, highlight=False
    )


class Progress:
    """Called as ``progress(done, total)``: a bar redrawn in place on a terminal (rich), one
    :func:`plain_bar` line per change otherwise (none with ``plain=False``).

    :meth:`end` ends the bar, so what is printed next starts on a line of its own; a later
    call draws a new bar.
    """

    def __init__(self, stream: TextIO, unit: str, *, plain: bool = True) -> None:
        self.stream = stream
        self.unit = unit
        self.plain = plain
        self.terminal = stream.isatty()
        self._last: tuple[int, int | None] | None = None
        self._bar: Any = None  # a started rich.progress.Progress while a bar is shown
        self._task: Any = None

    def __call__(self, done: int, total: int | None) -> None:
        if (done, total) == self._last:
            return
        self._last = (done, total)
        if self.terminal:
            self._draw(done, total)
        elif self.plain:
            self.stream.write(plain_bar(done, total, self.unit) + "\n")
            self.stream.flush()

    def _draw(self, done: int, total: int | None) -> None:
        text = f"{done}/{total} {self.unit}" if total else f"{done} {self.unit}"
        if self._bar is None:
            from rich.progress import BarColumn, TextColumn, TimeElapsedColumn
            from rich.progress import Progress as Bar

            self._bar = Bar(
                BarColumn(bar_width=BAR_WIDTH),
                TextColumn("{task.fields[text]}"),
                TimeElapsedColumn(),
                console=_console(self.stream),
                redirect_stdout=False,
                redirect_stderr=False,
            )
            self._task = self._bar.add_task(self.unit, total=total, completed=done, text=text)
            self._bar.start()
        self._bar.update(self._task, completed=done, total=total, text=text)

    def end(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


def table(headers: Sequence[str] | None, rows: Iterable[Sequence[str]]) -> str:
    """Rows as a rich table for a terminal, as wide as it: one line a row, the last column
    cut to what is left (``…``).
    """
    from rich import box
    from rich.table import Table

    rows = list(rows)
    columns = len(headers) if headers else max((len(r) for r in rows), default=0)
    grid = Table(
        show_header=headers is not None, box=box.SIMPLE_HEAD if headers else None, pad_edge=False
    )
    for n in range(columns):
        name = headers[n] if headers else ""
        if n < columns - 1:
            longest = max((len(r[n]) for r in rows), default=len(name))
            style = "bold" if n == 0 else ""
            grid.add_column(name, style=style, no_wrap=True, min_width=max(len(name), longest))
        else:
            grid.add_column(name, no_wrap=True, overflow="ellipsis")
    for row in rows:
        grid.add_row(*row)
    out = io.StringIO()
    _console(out, width=shutil.get_terminal_size().columns).print(grid)
    return out.getvalue().rstrip("\n")


def summary_table(rows: Iterable[tuple[str, str]], stream: TextIO | None = None) -> str:
    """Names and values, to print to ``stream`` (stdout): a rich table on a terminal,
    otherwise aligned text (``  name   value``), one pair a line.
    """
    rows = list(rows)
    if (stream or sys.stdout).isatty():
        return table(None, rows)
    width = max((len(name) for name, _ in rows), default=0)
    return "\n".join(f"  {name:<{width}}  {value}" for name, value in rows)

"""Print the sandbox's progress: the table redrawn in place on a terminal, changed rows otherwise."""

from __future__ import annotations

import sys
from typing import TextIO

from sriov_operator.sandbox.table import Row, changed_rows, render

_UP_AND_CLEAR = "\x1b[{n}F\x1b[J"  # cursor to the start of the line n lines up, clear to the end


class Display:
    def __init__(self, stream: TextIO = sys.stdout, tty: bool | None = None) -> None:
        self.stream = stream
        self.tty = stream.isatty() if tty is None else tty
        self._shown: list[Row] = []
        self._drawn_lines = 0  # lines of the table currently on the terminal (TTY only)

    def say(self, message: str) -> None:
        """A line above the table (the table is drawn again below it)."""
        self._erase()
        self.stream.write(message + "\n")
        self._drawn_lines = 0
        self._draw()

    def table(self, rows: list[Row]) -> None:
        if self.tty:
            if rows != self._shown:
                self._erase()
                self._shown = rows
                self._draw()
            return
        changed = changed_rows(self._shown, rows)
        if changed:
            lines = render(rows)
            if not self._shown:
                self.stream.write(lines[0] + "\n")
            by_name = {r[0]: line for r, line in zip(rows, lines[1:], strict=True)}
            for row in changed:
                self.stream.write(by_name[row[0]] + "\n")
            self._shown = rows
        self.stream.flush()

    def finish(self) -> None:
        """Leave the table where it is; later output goes below it."""
        self._drawn_lines = 0
        self.stream.flush()

    def _erase(self) -> None:
        if self.tty and self._drawn_lines:
            self.stream.write(_UP_AND_CLEAR.format(n=self._drawn_lines))

    def _draw(self) -> None:
        if self.tty and self._shown:
            lines = render(self._shown)
            self.stream.write("\n".join(lines) + "\n")
            self._drawn_lines = len(lines)
        self.stream.flush()

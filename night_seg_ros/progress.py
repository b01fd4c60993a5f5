"""Progress bars that suit where they are shown: a live bar on a terminal, a line every few seconds in a file or a
pipe (CI logs, the demo's logs), instead of a carriage-return redraw ten times a second that a log keeps forever.

`progress_stream(stream)` is what a progress bar (tqdm's `file=`) should write to: the stream itself on a terminal,
else a `LineProgressStream` around it. Importable without tqdm.
"""
from __future__ import annotations

import io
import re
import sys
import time
from collections.abc import Callable
from typing import TextIO

LINE_INTERVAL_S = 5.0
"""Seconds between progress lines where the output is not a terminal."""
_BREAKS = re.compile(r'(\r|\n)')


class LineProgressStream(io.TextIOBase):
    """Wraps a text stream: a line redrawn with carriage returns is written as a line of its own at most every
    `interval` seconds (and once more when it ends with a newline); everything else passes through unchanged."""

    def __init__(self, stream: TextIO, interval: float = LINE_INTERVAL_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        """Write to `stream`; `clock` gives seconds (a test's clock)."""
        super().__init__()
        self.stream = stream
        self.interval = interval
        self._clock = clock
        self._pending = ''  # the text since the last carriage return or newline
        self._redrawn = False  # whether _pending follows a carriage return (a redrawn bar)
        self._last_line = ''
        self._last_time = float('-inf')

    def write(self, text: str) -> int:
        """Take `text`; write the completed lines it makes due, each ending with a newline."""
        for part in _BREAKS.split(text):
            if part == '\n':
                if self._redrawn:  # a bar's last state: always shown (unless just shown)
                    self._show(self._pending, due=True)
                else:
                    self.stream.write(self._pending + '\n')
                self._pending, self._redrawn = '', False
            elif part == '\r':
                self._show(self._pending, due=False)
                self._pending, self._redrawn = '', True
            else:
                self._pending += part
        return len(text)

    def _show(self, line: str, due: bool) -> None:
        """Write a redrawn `line` when `due` or when `interval` has passed since the last one; never twice running."""
        line = line.rstrip()
        now = self._clock()
        if line and line != self._last_line and (due or now - self._last_time >= self.interval):
            self.stream.write(line + '\n')
            self.stream.flush()
            self._last_line, self._last_time = line, now

    def flush(self) -> None:
        """Flush the wrapped stream (a redrawn line is written when it is due, not on flush)."""
        self.stream.flush()

    def isatty(self) -> bool:
        """Never a terminal: that is why this stream exists."""
        return False

    def writable(self) -> bool:
        """A text sink."""
        return True

    def close(self) -> None:
        """Write what is pending; the wrapped stream stays open."""
        if self._pending:
            self.write('\n')


def progress_stream(stream: TextIO | None = None) -> TextIO:
    """Where a progress bar should write: `stream` (default sys.stderr) on a terminal, else a LineProgressStream."""
    stream = sys.stderr if stream is None else stream
    isatty = getattr(stream, 'isatty', None)
    if isinstance(stream, LineProgressStream) or (isatty is not None and isatty()):
        return stream
    return LineProgressStream(stream)

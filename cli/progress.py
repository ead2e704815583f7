"""The progress line of a headless command on stderr: on a terminal, redrawn in place (ending
in a carriage return); to a file or a pipe (a log), one line at most every LOG_INTERVAL
seconds and the last before the next message; with a rate that reads well at any speed and
counts in the number their nouns take (also the window's status lines)."""

from __future__ import annotations

import sys
import time

LOG_INTERVAL = 2.0  # s between progress lines written to a file or a pipe (30 lines a minute)


def count(number: int, noun: str, plural: str | None = None) -> str:
    """'1 frame', '3 frames', '0 frames': `number` and `noun` in the number it takes
    (`plural` where adding an s is wrong: count(2, "process", "processes"))."""
    return f"{number} {noun if number == 1 else plural or noun + 's'}"


def rate(done: int, seconds: float, unit: str) -> str:
    """'12.5 frames/s' at one `unit` a second or faster, '3.2 s/frame' when slower
    (never '0.0 frames/s'); `unit` is singular ('frame', 'step')."""
    if done <= 0:
        return f"- {unit}s/s"
    if seconds < done:
        per_second = done / max(seconds, 1e-9)
        return f"{per_second:.0f} {unit}s/s" if per_second >= 100 else f"{per_second:.1f} {unit}s/s"
    return f"{seconds / done:.1f} s/{unit}"


class ProgressLine:
    """Writes `text` over the previous progress line (a terminal) or as a line of its own
    (a log); `end()` is what must come before any other message: the line break after a line
    on the terminal, or the latest line a log has not had yet. `terminal`: None asks stderr."""

    def __init__(self, terminal: bool | None = None) -> None:
        self.start = time.perf_counter()
        self.terminal = sys.stderr.isatty() if terminal is None else terminal
        self.shown = False
        self.width = 0  # the last line's length: a shorter line is padded over it
        self.pending = ""  # (a log) the latest line not written yet
        self.logged = -LOG_INTERVAL  # (a log) when the last line was written

    def restart(self) -> None:
        """Count elapsed time from now (when the work whose rate is shown begins)."""
        self.start = time.perf_counter()

    def elapsed(self) -> float:
        """Seconds since the line was made or restarted."""
        return time.perf_counter() - self.start

    def show(self, text: str) -> None:
        if not self.terminal:
            self.pending = text
            if time.perf_counter() - self.logged >= LOG_INTERVAL:
                self._log()
            return
        print(f"\r{text.ljust(self.width)}", end="", file=sys.stderr, flush=True)
        self.width = len(text)
        self.shown = True

    def _log(self) -> None:
        print(self.pending, file=sys.stderr, flush=True)
        self.pending, self.logged = "", time.perf_counter()

    def end(self) -> str:
        """To prefix the next message: a line break if a progress line is on the terminal; for
        a log, the latest progress line is written now (if not yet) and nothing returned."""
        if not self.terminal:
            if self.pending:
                self._log()
            return ""
        return "\n" if self.shown else ""

"""The progress line of a headless command on stderr: redrawn in place (ending in a
carriage return), with a rate that reads well at any speed."""

from __future__ import annotations

import sys
import time


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
    """Writes `text` over the previous progress line; `end()` is the line break that must
    come before any other message once a progress line is on the terminal."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.shown = False
        self.width = 0  # the last line's length: a shorter line is padded over it

    def restart(self) -> None:
        """Count elapsed time from now (when the work whose rate is shown begins)."""
        self.start = time.perf_counter()

    def elapsed(self) -> float:
        """Seconds since the line was made or restarted."""
        return time.perf_counter() - self.start

    def show(self, text: str) -> None:
        print(f"\r{text.ljust(self.width)}", end="", file=sys.stderr, flush=True)
        self.width = len(text)
        self.shown = True

    def end(self) -> str:
        """A line break if a progress line is on the terminal (to prefix the next message)."""
        return "\n" if self.shown else ""

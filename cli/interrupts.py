"""Ctrl-C and SIGTERM end a headless command the same way: the signal is raised in the
main thread as an exception, so every writer's clean-up runs (temporary files removed,
the encoder closed) and nothing is left under the final name. Exit status: 130 after
SIGINT, 143 after SIGTERM (128 + the signal's number, as a shell reports them)."""

from __future__ import annotations

import signal


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C's KeyboardInterrupt would be."""


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated


def terminate_like_interrupt() -> None:
    """From now on SIGTERM raises Terminated in the main thread (call from the main thread)."""
    signal.signal(signal.SIGTERM, _raise_terminated)


def exit_status(exc: KeyboardInterrupt) -> int:
    """130 for Ctrl-C (SIGINT), 143 for SIGTERM."""
    return 128 + (signal.SIGTERM if isinstance(exc, Terminated) else signal.SIGINT)


def ignore_further() -> None:
    """From now on Ctrl-C and SIGTERM are ignored: for a command that was cancelled and is
    writing what it keeps before it exits (a signal mashed again broke that off). Main thread."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)

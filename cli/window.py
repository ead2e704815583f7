"""`main.py [PRESET]` (or `main.py window [PRESET]`): the window on a preset."""

from __future__ import annotations

import argparse
import os
import sys

NAME = "window"


def add_command(commands: argparse._SubParsersAction) -> None:
    """Register this subcommand, its options and its handler with the main parser."""
    p = commands.add_parser(
        NAME,
        help="open the window on a preset (the default)",
        description="Open the window on a preset; it starts playing.",
    )
    p.add_argument(
        "preset",
        nargs="?",
        help="a shipped preset's name or a preset file (default: the last one opened, else fig5-2d)",
    )
    p.set_defaults(handler=handle)


def no_display(environ: dict[str, str]) -> str | None:
    """Why no window can open here, or None: on Linux, Qt needs DISPLAY (X11) or
    WAYLAND_DISPLAY unless QT_QPA_PLATFORM names another platform (Qt itself aborts)."""
    if not sys.platform.startswith("linux") or any(
        environ.get(k) for k in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")
    ):
        return None
    return (
        "no display to open the window on (DISPLAY and WAYLAND_DISPLAY are unset): run headless with "
        "`run`, `export` or `sweep`, or start a virtual display (xvfb-run)"
    )


def handle(args: argparse.Namespace) -> int:
    """Run the command on parsed arguments; its exit status (see the module docstring)."""
    why = no_display(dict(os.environ))
    if why:
        print(f"error: {why}", file=sys.stderr)
        return 2
    from gui.app import open_window

    return open_window(args.preset)

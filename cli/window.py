"""`main.py [PRESET]` (or `main.py window [PRESET]`): the window on a preset."""

from __future__ import annotations

import argparse

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


def handle(args: argparse.Namespace) -> int:
    """Run the command on parsed arguments; its exit status (see the module docstring)."""
    from gui.app import open_window

    return open_window(args.preset)

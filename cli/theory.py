"""`main.py theory --out DIR [--size WxH]`: the Figure 3 tables (sim/theory.py) as CSV files
and the theory panel (gui/theory_panel.py) drawn offscreen as figure3.png, with no display.
Exit status: 0 written; 2 a bad option; 1 a failed write; 130 / 143 cancelled by Ctrl-C /
SIGTERM (every file is written atomically, so none is left half-written)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from cli.interrupts import exit_status, terminate_like_interrupt

NAME = "theory"
MIN_SIZE = (800, 300)  # px: smaller, the plots' titles are cut and the plots cramped (640 x 240 was)


def add_command(commands: argparse._SubParsersAction) -> None:
    """Register this subcommand, its options and its handler with the main parser."""
    p = commands.add_parser(
        NAME,
        help="write Figure 3's tables (CSV) and plots (PNG)",
        description="Figure 3 tables (CSV) and plots (PNG).",
    )
    p.add_argument("--out", required=True, type=Path, help="folder for the CSV files and figure3.png")
    p.add_argument("--size", default="1500x520", help="PNG size WxH (default 1500x520)")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Run the command on parsed arguments; its exit status (see the module docstring)."""
    from sim.files import make_folder

    terminate_like_interrupt()
    try:
        width, height = (int(v) for v in args.size.lower().split("x"))
        if width < MIN_SIZE[0] or height < MIN_SIZE[1]:
            raise ValueError
    except ValueError:
        print(
            f"error: --size: expected WxH with W >= {MIN_SIZE[0]} and H >= {MIN_SIZE[1]}, got {args.size!r}",
            file=sys.stderr,
        )
        return 2
    try:
        make_folder(args.out)
    except OSError as exc:
        print(f"error: --out: cannot write in {args.out}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    try:
        return write_all(args.out, width, height)
    except KeyboardInterrupt as exc:
        print("cancelled; no partial file written", file=sys.stderr)
        return exit_status(exc)


def write_all(out: Path, width: int, height: int) -> int:
    """Compute the tables and write the CSV files and figure3.png into `out`; the exit status."""
    os.environ["QT_QPA_PLATFORM"] = "offscreen"  # a headless command: no window, no display needed
    from gui.theory_panel import write_png
    from sim.theory import figure3_tables, write_csv

    print("computing the Figure 3 tables...", file=sys.stderr)
    tables = figure3_tables()
    try:
        for name, rows in tables.items():
            write_csv(rows, out / f"{name}.csv")
        write_png(tables, out / "figure3.png", width, height)
    except OSError as exc:
        print(f"error: --out: cannot write in {out}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    fit = tables["threshold_fit"][0]
    print(f"wrote {out}: threshold d^2 = {fit['slope']:.3f} tau + {fit['intercept']:.3f}, R^2 = {fit['r2']:.4f}")
    return 0

"""`main.py reproduce [--quick] [--seed S] --out DIR`: every claim of the paper the app can
check (sim/claims.py), measured on one seed, printed as a table and written as claims.json
and claims.md with the figures beside them. Exit status: 0 written (whatever the verdicts);
2 a bad option; 1 a failed write; 130 / 143 cancelled by Ctrl-C / SIGTERM. Every file is
written atomically, and together: into a hidden folder inside DIR, moved into DIR once all
are done (a cancel or a failure leaves DIR as it was)."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from cli.interrupts import exit_status, terminate_like_interrupt
from cli.progress import ProgressLine

NAME = "reproduce"


def add_command(commands: argparse._SubParsersAction) -> None:
    """Register this subcommand, its options and its handler with the main parser."""
    p = commands.add_parser(
        NAME,
        help="check the paper's claims; write claims.json and claims.md",
        description="Measure the paper's claims on one seed; a table of holds / deviates with the numbers.",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--quick", action="store_true", help="fewer steps and sizes (under 2 minutes on 2 cores)")
    p.add_argument("--out", required=True, type=Path, help="folder for claims.json, claims.md and the figures")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Run the command on parsed arguments; its exit status (see the module docstring)."""
    import torch

    from sim.claims import finite, markdown, run_claims
    from sim.files import atomic_write_text, check_writable, make_folder

    terminate_like_interrupt()
    if args.seed < 0:
        print(f"error: --seed: expected an integer >= 0, got {args.seed}", file=sys.stderr)
        return 2
    try:
        make_folder(args.out)
        check_writable(args.out / "claims.json")
    except OSError as exc:
        print(f"error: --out: cannot write in {args.out}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    torch.set_num_threads(1)  # the runs are small: one thread is fastest, and kind to a shared machine
    line = ProgressLine()
    staging = Path(tempfile.mkdtemp(prefix=".reproduce-", dir=args.out))  # the folder's files change together
    try:
        claims = run_claims(args.seed, args.quick, staging, lambda i, n, name: line.show(f"{i}/{n} {name}"))
        table = [{**c.to_dict(), "number": finite(c.number)} for c in claims]
        atomic_write_text(staging / "claims.json", json.dumps({"seed": args.seed, "quick": args.quick,
                                                               "claims": table}, indent=2) + "\n")  # fmt: skip
        atomic_write_text(staging / "claims.md", markdown(claims, args.seed, args.quick))
        for name in sorted(os.listdir(staging), key=lambda n: n.startswith("claims.")):  # claims.* last
            os.replace(staging / name, args.out / name)
    except KeyboardInterrupt as exc:
        print(f"{line.end()}cancelled; {args.out} as it was", file=sys.stderr)
        return exit_status(exc)
    except OSError as exc:
        print(f"{line.end()}error: --out: cannot write in {args.out}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    print(line.end(), end="", file=sys.stderr)
    for c in claims:
        print(f"{c.verdict:9} {c.key:16} {c.number:10.4g}  {c.measured}")
    print(f"wrote {args.out / 'claims.json'} and claims.md", file=sys.stderr)
    return 0

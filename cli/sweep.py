"""`main.py sweep PRESET --grid FIELD=V1,V2 [--grid ...] --seeds N [--steps S] --out DIR`:
the product of a grid of preset fields and seeds, run on a local process pool (default) or a
Ray cluster, as one table (a row per run: grid values, seed, outcome measures) and phase
diagram PNGs (sim/sweep.py, sim/sweep_engines.py, gui/phase_diagram.py). Progress (runs done,
ETA) on stderr. Exit status: 0 complete; 2 a bad preset, grid or option (one line naming it),
or a folder holding another sweep; 1 a failed write or run; 130 / 143 cancelled by Ctrl-C /
SIGTERM, the table then holding the finished runs, marked incomplete (the same command again
skips them)."""

from __future__ import annotations

import argparse
import os
import sys
import threading
from pathlib import Path

from cli.interrupts import exit_status, ignore_further, terminate_like_interrupt
from cli.progress import ProgressLine, count

NAME = "sweep"
DEFAULT_DIAGRAMS = ("capture_step", "end_silhouette", "kernel_distance")


def add_command(commands: argparse._SubParsersAction) -> None:
    """Register this subcommand, its options and its handler with the main parser."""
    p = commands.add_parser(
        NAME,
        help="a grid of preset values x seeds: outcomes, phase diagrams",
        description="Run the product of a grid of preset fields and seeds; write a table of outcome measures "
        "and phase-diagram PNGs.",
    )
    p.add_argument("preset", nargs="?", help="a shipped preset's name or a preset file (or the sweep file's)")
    p.add_argument("--file", type=Path, help="a sweep file (TOML: preset, [grid], seeds, steps, every, diagrams)")
    p.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="FIELD=V1,V2",
        help="a grid axis: a dotted preset field and its values (repeat for more axes), e.g. loss.tau=0.1,0.5, "
        "or START:STOP:COUNT evenly spaced, e.g. network.width=16:64:4",
    )
    p.add_argument("--seeds", type=int, help="seeds per grid point: the preset's seed, +1, ... (default 1)")
    p.add_argument("--steps", type=int, help="steps of each run (default: the preset's)")
    p.add_argument("--every", type=int, help="a frame every K steps, what the measures read (default: the preset's)")
    p.add_argument("--out", required=True, type=Path, help="the sweep's folder (a restart on it skips finished runs)")
    p.add_argument("--engine", choices=("local", "ray"), default="local", help="local process pool (default) or Ray")
    p.add_argument(
        "--workers", type=int, help="processes (local) or CPUs of a local Ray (default: this machine's cores)"
    )
    p.add_argument("--address", help="a Ray cluster's address (default: a local Ray started for the sweep)")
    p.add_argument("--npz", action="store_true", help="also write each run's frames to runs/NNNN.npz")
    p.add_argument("--format", choices=("parquet", "csv"), default="parquet", help="the table's format")
    p.add_argument("--device", help="cpu, cuda, cuda:N or auto (default: the preset's)")
    p.add_argument("--diagram", action="append", help="a measure to draw (repeat; default: the file's, or a few)")
    p.add_argument("--axes", help="X[,Y]: the grid fields of the diagrams (default: the first two)")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Run the command on parsed arguments; its exit status (see the module docstring)."""
    from sim.files import make_folder
    from sim.preset import PresetError
    from sim.simulation import pick_device
    from sim.sweep import SweepFolder, make_sweep
    from sim.sweep_engines import execute

    terminate_like_interrupt()
    try:
        if args.workers is not None and args.workers < 1:
            raise PresetError(f"--workers: expected an integer >= 1, got {args.workers}")
        if args.address and args.engine != "ray":
            raise PresetError("--address: only with --engine ray")
        if args.device is not None:
            pick_device(args.device, "--device")
        sweep, file_diagrams = make_sweep(
            args.preset, args.grid, args.seeds, args.steps, args.every, args.file, device=args.device
        )
        axes = _axes(args.axes, [a.field for a in sweep.axes])
        diagrams = _diagrams(args.diagram or file_diagrams or list(DEFAULT_DIAGRAMS))
        folder = SweepFolder(args.out, sweep, args.format)
        jobs = sweep.jobs(args.out / "runs" if args.npz else None)
    except PresetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.engine == "ray":
        try:
            import ray  # noqa: F401
        except ImportError:
            print("error: --engine ray: Ray is not installed (pip install -e .[cluster])", file=sys.stderr)
            return 2
    try:
        make_folder(args.out)
        todo = folder.prepare(jobs)
        folder.write()
    except OSError as exc:
        print(f"error: --out: cannot write in {args.out}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    workers = args.workers or os.cpu_count() or 1
    skipped = len(jobs) - len(todo)
    print(
        f"{sweep.preset.name}: {count(len(jobs), 'run')} ({skipped} done before), {count(sweep.steps, 'step')} each, "
        f"engine {args.engine}" + (f" at {args.address}" if args.address else f", {count(workers, 'worker')}"),
        file=sys.stderr,
    )
    line = ProgressLine()

    def finished(job, row) -> None:
        folder.add(job, row)
        folder.write()
        done = len(folder.done) - skipped
        left = len(todo) - done
        eta = line.elapsed() / done * left
        line.show(f"runs {len(folder.done)}/{len(jobs)}  ETA {eta:.0f} s  (run {job.index}: {row['status']})")

    try:
        execute(todo, finished, args.engine, workers, args.address, threading.Event())
    except KeyboardInterrupt as exc:
        ignore_further()
        folder.write()
        print(
            f"{line.end()}cancelled: {len(folder.done)} of {len(jobs)} runs in {folder.table} (marked incomplete); "
            "the same command again runs the rest",
            file=sys.stderr,
        )
        return exit_status(exc)
    except PresetError as exc:
        print(f"{line.end()}error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"{line.end()}error: --out: cannot write in {args.out}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    try:
        pngs = write_diagrams(args.out, jobs, folder.rows(), diagrams, axes)
    except OSError as exc:
        print(f"{line.end()}error: --out: cannot write in {args.out}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    figures = f" and {', '.join(p.name for p in pngs)}" if pngs else ""
    print(f"{line.end()}wrote {folder.table} ({count(len(jobs), 'run')}){figures}", file=sys.stderr)
    return 0


def _axes(text: str | None, fields: list[str]) -> tuple[str | None, str | None]:
    """The diagrams' fields; (None, None) for a sweep of seeds alone (no diagram)."""
    from sim.preset import PresetError

    if not fields and not text:
        return None, None
    chosen = [f.strip() for f in text.split(",")] if text else fields[:2]
    if not 1 <= len(chosen) <= 2 or any(f not in fields for f in chosen):
        raise PresetError(f"--axes: expected one or two of the grid's fields ({', '.join(fields)}), got {text!r}")
    return chosen[0], chosen[1] if len(chosen) == 2 else None


def _diagrams(names: list[str]) -> list[str]:
    from sim.outcomes import MEASURES
    from sim.preset import PresetError

    for name in names:
        if name not in MEASURES:
            raise PresetError(f"--diagram: expected one of {', '.join(MEASURES)}, got {name!r}")
    return names


def write_diagrams(out: Path, jobs, rows, diagrams: list[str], axes: tuple[str | None, str | None]) -> list[Path]:
    """phase_<measure>.png in `out` for each measure: over the axes, mean and spread over seeds
    (none for a sweep of seeds alone)."""
    if axes[0] is None:
        return []
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # no window, no display needed
    from gui.phase_diagram import write_png
    from sim.sweep import phase_grid

    paths = []
    for measure in diagrams:
        path = out / f"phase_{measure}.png"
        write_png(phase_grid(jobs, rows, measure, *axes), path)
        paths.append(path)
    return paths

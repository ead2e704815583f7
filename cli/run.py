"""`main.py run PRESET --out FILE.npz [options]`: a run with no window, recorded to an .npz
file (keys: sim/headless.py and the README), progress on stderr. Exit status: 0 written;
2 a bad preset or option (one line naming it); 1 a diverged run or a failed write;
130 / 143 cancelled by Ctrl-C / SIGTERM. Only a complete file ever appears under FILE."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from cli.interrupts import exit_status, terminate_like_interrupt
from cli.progress import ProgressLine, count, rate

if TYPE_CHECKING:
    from sim.preset import Preset

NAME = "run"


def add_command(commands: argparse._SubParsersAction) -> None:
    """Register this subcommand, its options and its handler with the main parser."""
    p = commands.add_parser(
        NAME,
        help="run a preset with no window, record its frames to .npz",
        description="Run a preset with no window and record it.",
    )
    p.add_argument("preset", help="a shipped preset's name (see presets/) or a preset file")
    p.add_argument("--steps", type=int, help="steps to run (default: the preset's; 0: the start's frame alone)")
    p.add_argument("--every", type=int, help="record a frame every K steps (default: the preset's)")
    p.add_argument("--kernel", help="kernel to start with: nn, identity or limit (default: the preset's)")
    p.add_argument("--seed", type=int, help="random seed (default: the preset's)")
    p.add_argument("--device", help="cpu, cuda, cuda:N or auto (default: the preset's)")
    p.add_argument("--dtype", choices=("float32", "float64"), help="floating point precision")
    p.add_argument("--out", required=True, type=Path, help="the file to write (an .npz archive, under this exact name)")
    p.set_defaults(handler=handle)


def with_options(preset: Preset, args: argparse.Namespace) -> Preset:
    """`preset` with the run options given (--seed, --kernel, --dtype), each validated by the
    preset model (PresetError naming the option)."""
    from sim.preset import PresetError, with_changes

    for flag, field in (("seed", "seed"), ("kernel", "training.kernel"), ("dtype", "dtype")):
        value = getattr(args, flag, None)
        if value is not None:
            if flag == "seed" and value < 0:
                raise PresetError(f"--seed: expected an integer >= 0, got {value}")
            preset = with_changes(preset, {field: value}, f"--{flag}")
    return preset


def handle(args: argparse.Namespace) -> int:
    """Run the command on parsed arguments; its exit status (see the module docstring)."""
    import torch

    from sim import Divergence, PresetError, load_preset
    from sim.driver import RunDriver
    from sim.files import check_writable
    from sim.headless import record, run, save_npz
    from sim.simulation import pick_device
    from sim.threads import threads_for

    terminate_like_interrupt()
    try:
        for name in ("steps", "every", "seed"):
            value = getattr(args, name)
            least = 0 if name in ("seed", "steps") else 1  # --steps 0: the start's frame alone
            if value is not None and value < least:
                raise PresetError(f"--{name}: expected an integer >= {least}, got {value}")
        if args.device is not None:
            pick_device(args.device, "--device")
        preset = with_options(load_preset(args.preset), args)
    except PresetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        check_writable(args.out)
    except OSError as exc:
        print(f"error: --out: cannot write {args.out}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    line = ProgressLine()
    try:

        def fitting(done: int, total: int) -> None:  # a "fitted" start, fitted before step 0
            line.show(f"fitting the data-blind start: {done}/{total} steps")

        driver = RunDriver(preset, device=args.device, dtype=args.dtype, source=args.preset, on_fit=fitting)
        sim = driver.main
        torch.set_num_threads(threads_for(sim.n * preset.views.count))  # small runs: one thread
        steps = preset.steps if args.steps is None else args.steps
        every = args.every or preset.every
        print(f"{line.end()}{preset.name}: n={sim.n}, device {sim.device}, kernel {sim.kernel}", file=sys.stderr)
        line.restart()

        def progress(step: int, total: int, frame) -> None:
            line.show(f"step {step}/{total}  loss {frame.loss:.4f}  {rate(step, line.elapsed(), 'step')}")

        flows = []
        frames = run(driver, steps, every, progress, flows)
        save_npz(args.out, record(frames, flows))
    except PresetError as exc:
        print(f"{line.end()}error: {exc}", file=sys.stderr)
        return 2
    except Divergence as exc:
        print(f"{line.end()}error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as exc:
        print(f"{line.end()}cancelled; nothing written", file=sys.stderr)
        return exit_status(exc)
    except OSError as exc:
        print(f"{line.end()}error: --out: cannot write {args.out}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print(f"{line.end()}wrote {args.out} ({count(len(frames), 'frame')})", file=sys.stderr)
    return 0

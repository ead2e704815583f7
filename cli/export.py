"""`main.py export PRESET (--video OUT.mp4|OUT.gif | --png-dir DIR) [options]`: replay a
preset with no window and no display, drawing offscreen (vispy on EGL, Qt's offscreen
platform) with the window's look, into an H.264 MP4, a GIF or numbered PNG files
(gui/export.py draws and writes). Progress goes to stderr. Exit status: 0 written; 2 a bad
preset or option (one line naming it); 1 a failed write (the target is tried before any
work); 130 / 143 cancelled by Ctrl-C / SIGTERM. Only a complete file or folder ever
appears under the target's name."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from cli.interrupts import exit_status, terminate_like_interrupt
from cli.progress import ProgressLine, count, rate

NAME = "export"
PANEL_CHOICES = ("embedding", "twin", "kernel", "curves")
PANEL_ALIASES = {"identity": "twin"}  # the twin panel's earlier name: it held the identity run beside NN


def size_arg(text: str) -> tuple[int, int]:
    """(width, height) from 'WIDTHxHEIGHT'; argparse's type error otherwise."""
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT such as 1280x720, got {text!r}") from None
    return w, h


def panels_arg(text: str) -> list[str]:
    """Panel names from one argument (space or comma separated), each one of PANEL_CHOICES
    (or an alias of one, PANEL_ALIASES, taken as that panel)."""
    names = [PANEL_ALIASES.get(p, p) for p in text.replace(",", " ").split() if p]
    bad = [p for p in names if p not in PANEL_CHOICES]
    if bad or not names:
        raise argparse.ArgumentTypeError(f"expected some of {', '.join(PANEL_CHOICES)}, got {text!r}")
    return names


def add_command(commands: argparse._SubParsersAction) -> None:
    """Register this subcommand, its options and its handler with the main parser."""
    p = commands.add_parser(
        NAME,
        help="record a replay as video or PNG frames (no display)",
        description="Replay a preset offscreen and record it as a video or PNG frames (no display needed).",
    )
    p.add_argument("preset", help="a shipped preset's name (see presets/) or a preset file")
    out = p.add_mutually_exclusive_group(required=True)
    out.add_argument("--video", type=Path, help="the video to write: .mp4 (H.264) or .gif")
    out.add_argument("--png-dir", type=Path, help="a new (or empty) folder for frame_00000.png, ...")
    p.add_argument("--frames", type=int, help="frames to write (default: the preset's steps / steps per frame + 1)")
    p.add_argument("--kernel", help="kernel to start with: nn, identity or limit (default: the preset's)")
    p.add_argument("--seed", type=int, help="random seed (default: the preset's)")
    p.add_argument("--dtype", choices=("float32", "float64"), help="floating point precision (default: the preset's)")
    p.add_argument("--fps", type=float, default=30.0, help="frames per second of the video (default 30)")
    p.add_argument("--size", type=size_arg, default=(1280, 720), help="WIDTHxHEIGHT of a frame (default 1280x720)")
    p.add_argument("--steps-per-frame", type=int, help="training steps between frames (default: the preset's every)")
    p.add_argument(
        "--panels",
        type=panels_arg,
        nargs="+",
        default=[["embedding", "curves"]],
        help=f"panels side by side, from: {', '.join(PANEL_CHOICES)} (twin: the other kernel from the same start, "
        "as the window's side by side; 'identity' is taken as twin; default: embedding curves)",
    )
    p.add_argument(
        "--twin-from",
        type=int,
        default=0,
        help="the step the twin panel's run is copied from the run at (default 0: the same start; "
        "the window's side by side turned on later)",
    )
    p.add_argument("--point-arrows", action="store_true", help="draw each point's velocity arrow")
    p.add_argument("--no-cluster-arrows", action="store_true", help="leave out the per-cluster mean arrows")
    p.add_argument("--trails", action="store_true", help="draw fading trails")
    p.add_argument(
        "--fixed-arrow-scale",
        action="store_true",
        help="one arrow scale for the whole export, from its first frame, so lengths compare between frames "
        "(the arrows shrink to ticks as the run settles; default: each frame's own, its factor in the caption)",
    )
    p.add_argument(
        "--x-axis",
        choices=("step", "flow-time"),
        default="step",
        help="the curves' x axis: the step, or the flow time t (the sum of the step sizes; default step)",
    )
    p.set_defaults(handler=handle)


def egl_environment() -> None:
    """Qt's offscreen platform and vispy's EGL backend on Mesa's surfaceless platform, so
    nothing needs a display; before anything makes a QApplication or a canvas (the
    arguments and the preset are checked before, so those errors need no OpenGL)."""
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    os.environ.setdefault("EGL_PLATFORM", "surfaceless")
    import vispy

    vispy.use(app="egl")


def handle(args: argparse.Namespace) -> int:
    """Run the command on parsed arguments; its exit status (see the module docstring)."""
    terminate_like_interrupt()
    line = ProgressLine()
    try:
        return export_command(args, line)
    except KeyboardInterrupt as exc:
        print(f"{line.end()}cancelled; nothing written", file=sys.stderr)
        return exit_status(exc)


def export_command(args: argparse.Namespace, line: ProgressLine) -> int:
    """Check the options and the target, then draw and write; the exit status."""
    import torch

    from cli.run import with_options
    from gui.export import ExportError, ExportOptions, describe_os_error, export, video_kind
    from sim import Divergence, PresetError, load_preset
    from sim.files import check_writable
    from sim.threads import threads_for

    try:
        preset = with_options(load_preset(args.preset), args)
        kind = video_kind(args.video) if args.video else "png"
        steps_per_frame = preset.every if args.steps_per_frame is None else args.steps_per_frame
        frames = args.frames if args.frames is not None else preset.steps // max(steps_per_frame, 1) + 1
        panels = tuple(name for name in PANEL_CHOICES if any(name in group for group in args.panels))
        options = ExportOptions(
            panels=panels,
            size=args.size,
            fps=args.fps,
            frames=frames,
            steps_per_frame=steps_per_frame,
            point_arrows=args.point_arrows,
            cluster_arrows=not args.no_cluster_arrows,
            x_axis=args.x_axis.replace("-", "_"),
            trails=args.trails,
            fixed_arrow_scale=args.fixed_arrow_scale,
            twin_from=args.twin_from,
        )
        options.check(kind)
    except (PresetError, ExportError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    target = args.video or args.png_dir
    option = "--video" if args.video else "--png-dir"
    try:
        check_writable(target, folder=kind == "png")
    except OSError as exc:
        print(f"error: {option}: cannot write {target}: {describe_os_error(exc)}; nothing written", file=sys.stderr)
        return 1
    egl_environment()
    from PySide6.QtWidgets import QApplication
    from vispy import scene

    from gui.colors import BACKGROUND

    app = QApplication.instance() or QApplication(["main.py export"])  # noqa: F841 - Qt widgets need it alive

    def canvas(size: tuple[int, int]) -> scene.SceneCanvas:
        return scene.SceneCanvas(size=size, show=False, bgcolor=BACKGROUND, keys=None)

    def progress(done: int, frame) -> None:
        line.show(f"frame {done}/{frames}  step {frame.step}  {rate(done, line.elapsed(), 'frame')}")

    spacing = f", {count(steps_per_frame, 'step')} apart" if frames > 1 else " (step 0)"
    print(
        f"{preset.name}: {count(frames, 'frame')}{spacing}, {options.size[0]}x{options.size[1]}, "
        f"panels {' '.join(panels)}",
        file=sys.stderr,
    )
    line.restart()
    # as `run`: one intra-op thread for small runs (issue 11: torch's default threads made a
    # busy machine's export 5x slower); digits and file data count 0 samples until read, and
    # a large loss shares its tiles out to threads of its own whatever this says
    torch.set_num_threads(threads_for(preset.n * preset.views.count))
    try:
        export(preset, options, target, kind, canvas, progress)
    except KeyboardInterrupt as exc:
        print(f"{line.end()}cancelled; nothing written to {target}", file=sys.stderr)
        return exit_status(exc)
    except OSError as exc:
        reason = describe_os_error(exc)
        print(f"{line.end()}error: {option}: cannot write {target}: {reason}; nothing written", file=sys.stderr)
        return 1
    except PresetError as exc:
        print(f"{line.end()}error: {exc}", file=sys.stderr)
        return 2
    except Divergence as exc:
        print(f"{line.end()}error: {exc}; nothing written", file=sys.stderr)
        return 1
    except RuntimeError as exc:
        print(f"{line.end()}error: offscreen drawing failed: {exc}; nothing written", file=sys.stderr)
        return 1
    size = f"{options.size[0]}x{options.size[1]}"
    at = f" at {options.fps:g} fps" if kind != "png" else ""
    print(f"{line.end()}wrote {target}: {count(frames, 'frame')} of {size}{at}", file=sys.stderr)
    return 0

"""`python main.py export PRESET (--video OUT.mp4|OUT.gif | --png-dir DIR) [options]`: replay a
preset with no window and no display, drawing offscreen (vispy on EGL, Qt's offscreen
platform) with the window's look, into an H.264 MP4, a GIF or numbered PNG files.
Progress goes to stderr; Ctrl-C cancels. A bad preset or option is one line on stderr and
exit status 2; a failed write is exit 1, a cancel 130, and neither leaves a file under the
final name."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import NoReturn

PANEL_CHOICES = ("embedding", "identity", "kernel", "curves")


class OneLineParser(argparse.ArgumentParser):
    """Argument errors as a single 'error: ...' line (exit status 2), no usage block."""

    def error(self, message: str) -> NoReturn:
        print(f"error: {self.prog}: {message}", file=sys.stderr)
        sys.exit(2)


def size_arg(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT such as 1280x720, got {text!r}") from None
    return w, h


def panels_arg(text: str) -> list[str]:
    names = [p for p in text.replace(",", " ").split() if p]
    bad = [p for p in names if p not in PANEL_CHOICES]
    if bad or not names:
        raise argparse.ArgumentTypeError(f"expected some of {', '.join(PANEL_CHOICES)}, got {text!r}")
    return names


def nl(progress_shown: list) -> str:
    """A line break if a progress line (ending in \\r) is on the terminal."""
    return "\n" if progress_shown else ""


def parser() -> argparse.ArgumentParser:
    p = OneLineParser(
        prog="main.py export",
        description="Replay a preset offscreen and record it as a video or PNG frames (no display needed).",
    )
    p.add_argument("preset", help="a shipped preset's name (see presets/) or a preset file")
    out = p.add_mutually_exclusive_group(required=True)
    out.add_argument("--video", type=Path, help="the video to write: .mp4 (H.264) or .gif")
    out.add_argument("--png-dir", type=Path, help="a new (or empty) folder for frame_00000.png, ...")
    p.add_argument("--frames", type=int, help="frames to write (default: the preset's steps / steps per frame + 1)")
    p.add_argument("--fps", type=float, default=30.0, help="frames per second of the video (default 30)")
    p.add_argument("--size", type=size_arg, default=(1280, 720), help="WIDTHxHEIGHT of a frame (default 1280x720)")
    p.add_argument("--steps-per-frame", type=int, help="training steps between frames (default: the preset's every)")
    p.add_argument(
        "--panels",
        type=panels_arg,
        nargs="+",
        default=[["embedding", "curves"]],
        help=f"panels side by side, from: {', '.join(PANEL_CHOICES)} (default: embedding curves)",
    )
    p.add_argument("--point-arrows", action="store_true", help="draw each point's velocity arrow")
    p.add_argument("--no-cluster-arrows", action="store_true", help="leave out the per-cluster mean arrows")
    p.add_argument("--trails", action="store_true", help="draw fading trails")
    return p


def egl_environment() -> None:
    """Qt's offscreen platform and vispy's EGL backend on Mesa's surfaceless platform, so
    nothing needs a display; before anything makes a QApplication or a canvas (the
    arguments and the preset are checked before, so those errors need no OpenGL)."""
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    os.environ.setdefault("EGL_PLATFORM", "surfaceless")
    import vispy

    vispy.use(app="egl")


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    try:
        return export_command(args)
    except KeyboardInterrupt:
        print("\ncancelled; nothing written", file=sys.stderr)
        return 130


def export_command(args: argparse.Namespace) -> int:
    from gui.export import Cancelled, ExportError, ExportOptions, describe_os_error, export, video_kind
    from sim import Divergence, PresetError, load_preset

    try:
        preset = load_preset(args.preset)
        kind = video_kind(args.video) if args.video else "png"
        steps_per_frame = args.steps_per_frame or preset.every
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
            trails=args.trails,
        )
        options.check(kind)
    except (PresetError, ExportError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    target = args.video or args.png_dir
    option = "--video" if args.video else "--png-dir"
    egl_environment()
    from PySide6.QtWidgets import QApplication
    from vispy import scene

    from gui.colors import BACKGROUND

    app = QApplication.instance() or QApplication(["main.py export"])  # noqa: F841 - Qt widgets need it alive
    start = time.perf_counter()
    shown = []

    def canvas(size: tuple[int, int]) -> scene.SceneCanvas:
        return scene.SceneCanvas(size=size, show=False, bgcolor=BACKGROUND, keys=None)

    def progress(done: int, frame) -> None:
        shown.append(done)
        rate = done / max(time.perf_counter() - start, 1e-9)
        print(f"\rframe {done}/{frames}  step {frame.step}  {rate:.1f} frames/s", end="", file=sys.stderr, flush=True)

    print(
        f"{preset.name}: {frames} frames, {steps_per_frame} steps each, {options.size[0]}x{options.size[1]}, "
        f"panels {' '.join(panels)}",
        file=sys.stderr,
    )
    try:
        export(preset, options, target, kind, canvas, progress)
    except (KeyboardInterrupt, Cancelled):
        print(f"{nl(shown)}cancelled; nothing written to {target}", file=sys.stderr)
        return 130
    except OSError as exc:
        reason = describe_os_error(exc)
        print(f"{nl(shown)}error: {option}: cannot write {target}: {reason}; nothing written", file=sys.stderr)
        return 1
    except PresetError as exc:
        print(f"{nl(shown)}error: {exc}", file=sys.stderr)
        return 2
    except Divergence as exc:
        print(f"{nl(shown)}error: {exc}; nothing written", file=sys.stderr)
        return 1
    except RuntimeError as exc:
        print(f"{nl(shown)}error: offscreen drawing failed: {exc}; nothing written", file=sys.stderr)
        return 1
    size = f"{options.size[0]}x{options.size[1]}"
    print(f"{nl(shown)}wrote {target}: {frames} frames of {size} at {options.fps:g} fps", file=sys.stderr)
    return 0

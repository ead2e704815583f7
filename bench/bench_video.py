"""Video benchmark at 1280x720, side by side in one run: H.264 encoding alone (frames
already drawn, through the exporter's VideoSink) and drawing + encoding (the exporter's
FrameComposer on EGL canvases, as `main.py export` does with no display), on fig5-2d.

    .venv/bin/python bench/bench_video.py [--frames 120]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SIZE = (1280, 720)


def run(frames: int = 120, preset: str = "fig5-2d") -> dict:
    from cli.export import egl_environment

    egl_environment()
    from PySide6.QtWidgets import QApplication
    from vispy import scene

    from gui.colors import BACKGROUND
    from gui.export import ExportOptions, FrameComposer, open_sink, replay
    from sim import load_preset

    app = QApplication.instance() or QApplication(["bench"])  # noqa: F841 - Qt widgets need it alive
    options = ExportOptions(panels=("embedding", "curves"), size=SIZE, frames=frames, steps_per_frame=5)

    def canvas(size: tuple[int, int]) -> scene.SceneCanvas:
        return scene.SceneCanvas(size=size, show=False, bgcolor=BACKGROUND, keys=None)

    runs = list(replay(load_preset(preset), options)[1])
    composer = FrameComposer(options, canvas, preset)
    composer.render(*runs[0])
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        images = [composer.render(*run) for run in runs]
        draw_s = time.perf_counter() - start
        with open_sink(Path(tmp) / "encode.mp4", "mp4", SIZE, 30) as sink:
            start = time.perf_counter()
            for image in images:
                sink.add(image)
        encode_s = time.perf_counter() - start
        with open_sink(Path(tmp) / "both.mp4", "mp4", SIZE, 30) as sink:
            start = time.perf_counter()
            for run in runs:
                sink.add(composer.render(*run))
        both_s = time.perf_counter() - start
    composer.close()
    return {
        "size": f"{SIZE[0]}x{SIZE[1]}",
        "frames": frames,
        "draw_fps": frames / draw_s,
        "encode_fps": frames / encode_s,
        "render_encode_fps": frames / both_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=120)
    args = parser.parse_args()
    r = run(args.frames)
    print(
        f"{r['size']}, {r['frames']} frames: draw {r['draw_fps']:.0f} frames/s, encode {r['encode_fps']:.0f} "
        f"frames/s, draw + encode {r['render_encode_fps']:.0f} frames/s"
    )


if __name__ == "__main__":
    main()

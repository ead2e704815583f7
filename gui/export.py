"""Export: a run replayed from its preset and drawn offscreen, frame by frame, into an MP4
(H.264), a GIF or a folder of PNGs, with the window's look.

Three parts, so the headless command (cli/export.py) and the window's export
(gui/export_job.py) share them:
  replay         steps a run of its own (and its twin, the other kernel, from the same start) through
                 the run driver (sim/driver.py) and hands out the frames of every
                 `steps_per_frame` steps;
  FrameComposer  draws frames into one RGB image: a title bar (preset, step, kernel,
                 cluster colours), then the chosen panels side by side (embedding views
                 drawn by the same EmbeddingScene as the window, on canvases made at the
                 export size, one arrow scale for both panes: each frame's own, or fixed
                 for the whole export from its first frame;
                 the kernel heatmap and metric curves are the window's pyqtgraph widgets,
                 hidden and grabbed), curves in a strip below;
  open_sink      writes images through imageio-ffmpeg's encoder (or PNG files) to a
                 temporary file or folder beside the target, renamed only when complete:
                 a failure, a full disk or a cancel leaves nothing under the final name.
"""

from __future__ import annotations

import contextlib
import errno
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import imageio.plugins.pillow  # noqa: F401 - loaded at import, not first inside an export thread
import imageio.v3 as iio
import imageio_ffmpeg
import numpy as np
from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QImage, QPainter, QPixmap
from PySide6.QtWidgets import QWidget
from vispy import scene

from gui.colors import BACKGROUND, FOREGROUND, MUTED, PANEL, cluster_hex
from gui.curves import X_AXES, Curves
from gui.embedding_scene import ArrowScale, EmbeddingScene
from gui.kernel_view import KernelView
from gui.legend import group_names
from sim import Frame, Preset
from sim.commands import Twin
from sim.driver import KERNEL_NAMES, Events, RunDriver, twin_origin
from sim.files import atomic_dir, atomic_path
from sim.preset import DataSpec

PANELS = ("embedding", "twin", "kernel", "curves")
PANEL_LABELS = {
    "embedding": "embedding (the run's kernel)",
    "twin": "embedding, the other kernel from the same start (identity; NN beside an identity run)",
    "kernel": "kernel heatmap H(theta)",
    "curves": "metric curves",
}
VIDEO_KINDS = {".mp4": "mp4", ".gif": "gif"}
GIF_MAX_FPS = 50  # a GIF's delays are whole hundredths of a second; browsers slow ones under 2 to 10
MIN_SIZE = (160, 120)
MAX_SIZE = (7680, 4320)
CURVES_SHARE = 0.3
H264_OPTIONS = ["-preset", "veryfast", "-crf", "18", "-movflags", "+faststart"]
GIF_FILTER = "split[a][b];[a]palettegen=stats_mode=full[p];[b][p]paletteuse=dither=none"

CanvasFactory = Callable[[tuple[int, int]], scene.SceneCanvas]


class ExportError(ValueError):
    """Options or a target that cannot be used; the message is one line naming the option."""


class Cancelled(Exception):
    """The export was cancelled; nothing is written."""


@dataclass(frozen=True)
class ExportOptions:
    """What to draw and how: panels (from PANELS, drawn in that order), the size of the
    whole image (width, height), frames per second, number of frames, steps between two
    frames, the embedding views' arrows and trails, whether the arrows keep one scale for the
    whole export (taken from its first frame, so lengths compare between frames; the arrows
    shrink to ticks as a run settles) or each frame its own (its longest arrow drawn at a set
    length, the caption giving the factor; the window's default), the curves' x axis ("step"
    or "flow_time", gui/curves.py X_AXES), and the step the twin panel's run is copied from
    the run at (0: the same start; the window's side by side turned on at a later step)."""

    panels: tuple[str, ...] = ("embedding", "curves")
    size: tuple[int, int] = (1280, 720)
    fps: float = 30.0
    frames: int = 100
    steps_per_frame: int = 10
    point_arrows: bool = False
    cluster_arrows: bool = True
    trails: bool = False
    fixed_arrow_scale: bool = False
    x_axis: str = "step"
    twin_from: int = 0

    def check(self, kind: str) -> None:
        """ExportError naming the first option out of range for output `kind` (mp4, gif, png)."""
        unknown = [p for p in self.panels if p not in PANELS]
        if not self.panels or unknown:
            raise ExportError(f"--panels: expected some of {', '.join(PANELS)}, got {', '.join(self.panels) or 'none'}")
        w, h = self.size
        if not (MIN_SIZE[0] <= w <= MAX_SIZE[0] and MIN_SIZE[1] <= h <= MAX_SIZE[1]):
            raise ExportError(
                f"--size: expected from {MIN_SIZE[0]}x{MIN_SIZE[1]} to {MAX_SIZE[0]}x{MAX_SIZE[1]}, got {w}x{h}"
            )
        if kind == "mp4" and (w % 2 or h % 2):
            raise ExportError(f"--size: expected an even width and height for H.264 video, got {w}x{h}")
        if not 0 < self.fps <= 240:
            raise ExportError(f"--fps: expected a number from above 0 to 240, got {self.fps:g}")
        if kind == "gif" and self.fps > GIF_MAX_FPS:
            raise ExportError(
                f"--fps: a GIF holds each frame's delay in 1/100 s and viewers play delays under 2/100 s at about "
                f"10 fps: expected at most {GIF_MAX_FPS} for a .gif, got {self.fps:g}"
            )
        if self.frames < 1:
            raise ExportError(f"--frames: expected an integer >= 1, got {self.frames}")
        if self.x_axis not in X_AXES:
            raise ExportError(f"--x-axis: expected one of {', '.join(X_AXES)}, got {self.x_axis!r}")
        if self.steps_per_frame < 1:
            raise ExportError(f"--steps-per-frame: expected an integer >= 1, got {self.steps_per_frame}")
        if self.twin_from < 0:
            raise ExportError(f"--twin-from: expected a step >= 0, got {self.twin_from}")
        if self.twin_from and "twin" not in self.panels:
            raise ExportError(
                f"--twin-from: starts the twin panel's run; expected --panels with twin, got {','.join(self.panels)}"
            )


def video_kind(path: Path) -> str:
    """'mp4' or 'gif' from a video file's suffix (ExportError for any other)."""
    kind = VIDEO_KINDS.get(path.suffix.lower())
    if kind is None:
        raise ExportError(f"--video: expected a .mp4 or .gif file, got {str(path)!r}")
    return kind


# ----- layout ---------------------------------------------------------------------------
def _even(x: float) -> int:
    return max(2, 2 * round(x / 2))


def layout(panels: tuple[str, ...], size: tuple[int, int]) -> tuple[QRect, dict[str, QRect], dict[str, QRect]]:
    """Where things go in a (width, height) image: the title bar, each panel's content and
    each panel's caption strip (embedding and kernel panels have one, curves do not).
    Panels other than curves share the top row equally; curves take a strip below."""
    w, h = size
    scale = h / 720
    title = QRect(0, 0, w, _even(max(20, 34 * scale)))
    caption_h = _even(max(16, 24 * scale))
    top = [p for p in PANELS if p in panels and p != "curves"]
    y0 = title.height()
    body = h - y0
    content: dict[str, QRect] = {}
    captions: dict[str, QRect] = {}
    curves_h = 0
    if "curves" in panels:
        curves_h = _even(body * CURVES_SHARE) if top else body
        content["curves"] = QRect(0, h - curves_h, w, curves_h)
    row = body - curves_h
    for i, name in enumerate(top):
        x = i * w // len(top)
        width = (i + 1) * w // len(top) - x
        captions[name] = QRect(x, y0, width, caption_h)
        content[name] = QRect(x, y0 + caption_h, width, row - caption_h)
    return title, content, captions


# ----- frames ---------------------------------------------------------------------------
def replay(
    preset: Preset, options: ExportOptions, cancelled: Callable[[], bool] = lambda: False
) -> tuple[RunDriver, Iterator[tuple[tuple[Frame, ...], Events]]]:
    """An export's frames: a run of its own from `preset` through the run driver (and, for
    the twin panel, a twin copied from the run at step `options.twin_from` that runs the
    other kernel (sim.driver.twin_kernel), as the window's side-by-side view does; frames before it hold the run
    alone), `options.frames` frame tuples at steps 0, k, 2k, ... with the events since the
    previous one. Raises Cancelled once `cancelled()` holds, between two steps or between two
    tiles of a long step's loss (large n)."""

    def stop(*_tile: int) -> None:
        if cancelled():
            raise Cancelled

    twin = "twin" in options.panels

    def before_step() -> None:
        stop()
        if twin and len(driver.sims) == 1 and driver.main.step_count == options.twin_from:
            driver.apply(Twin(True))

    driver = RunDriver(preset, twin=twin and options.twin_from == 0, on_tile=stop)
    kernel, every = "kernel" in options.panels, options.steps_per_frame
    return driver, driver.record((options.frames - 1) * every, every, kernel, kernel, before_step=before_step)


def _offscreen(widget: QWidget, size: tuple[int, int]) -> QWidget:
    """A widget sized for grab(), never shown: grab() lays out and paints a hidden widget."""
    widget.resize(*size)
    return widget


def array_image(array: np.ndarray) -> QImage:
    """A QImage copy of an (h, w, 3) uint8 array."""
    array = np.ascontiguousarray(array[..., :3])
    h, w = array.shape[:2]
    return QImage(array.data, w, h, array.strides[0], QImage.Format.Format_RGB888).copy()


def image_array(image: QImage) -> np.ndarray:
    """An (h, w, 3) uint8 array copy of a QImage."""
    image = image.convertToFormat(QImage.Format.Format_RGB888)
    w, h = image.width(), image.height()
    rows = np.frombuffer(image.constBits(), np.uint8).reshape(h, image.bytesPerLine())
    return rows[:, : 3 * w].reshape(h, w, 3).copy()


class FrameComposer:
    """Draws frame tuples into (h, w, 3) uint8 images laid out by `layout`. `make_canvas`
    gives a SceneCanvas of a given size: an EGL one with no display, a hidden Qt one in the
    window's process; either way the embedding is drawn at the export size. `data`, the
    run's data spec, names the groups in the kernel heatmap (gui/legend.py's group_names)."""

    def __init__(self, options: ExportOptions, make_canvas: CanvasFactory, title: str, data: DataSpec | None = None):
        self.options = options
        self.title = title
        self.data = data
        self.size = options.size
        self.title_rect, self.content, self.captions = layout(options.panels, options.size)
        self.scenes: dict[str, EmbeddingScene] = {}
        shared = ArrowScale(fixed=options.fixed_arrow_scale)  # one for both panes, as the window's
        for name in ("embedding", "twin"):
            if name in self.content:
                r = self.content[name]
                drawing = EmbeddingScene(make_canvas((r.width(), r.height())), shared)
                drawing.show_point_arrows = options.point_arrows
                drawing.show_cluster_arrows = options.cluster_arrows
                drawing.show_trails = options.trails
                self.scenes[name] = drawing
        self.kernel: KernelView | None = None
        self.curves: Curves | None = None
        self._widgets: list[QWidget] = []
        if "kernel" in self.content:
            self.kernel = KernelView()
            graphics = self.kernel.graphics
            graphics.setParent(None)
            r = self.content["kernel"]
            self._widgets += [self.kernel, _offscreen(graphics, (r.width(), r.height()))]
        if "curves" in self.content:
            r = self.content["curves"]
            self.curves = Curves(min_cell=(0, 0))
            self.curves.set_step_range(0, (options.frames - 1) * options.steps_per_frame)
            self.curves.set_x_axis(options.x_axis)
            self.curves.x_choice.hide()  # a control, not part of the picture (the axes say which)
            self._widgets.append(_offscreen(self.curves, (r.width(), r.height())))

    def render(self, frames: tuple[Frame, ...], events: Events = ()) -> np.ndarray:
        """The image of one moment: frames[0] the main run, frames[1] its twin."""
        image = QImage(self.size[0], self.size[1], QImage.Format.Format_RGB888)
        image.fill(QColor(BACKGROUND))
        painter = QPainter(image)
        try:
            self.draw_title(painter, frames[0])
            texts = {}
            for name, drawing in self.scenes.items():
                if name == "twin" and len(frames) == 1:  # the twin is copied from the run later
                    self._draw_waiting(painter, self.content[name])
                    texts[name] = (f"the other kernel from step {self.options.twin_from}", "")
                    continue
                frame = frames[0] if name == "embedding" else frames[-1]
                scale_text = drawing.show_frame(frame)
                painter.drawImage(self.content[name], array_image(drawing.render()))
                suffix = f" ({twin_origin(frame)})" if name == "twin" else ""
                texts[name] = (f"{KERNEL_NAMES[frame.kernel]} kernel{suffix}", scale_text)
            if self.kernel is not None:
                if self.data is not None and not self.kernel.names:
                    self.kernel.names = self._group_names(int(frames[0].labels.max()) + 1)
                self.kernel.show_frame(frames[0])
                painter.drawPixmap(self.content["kernel"], self._grab(self.kernel.graphics))
                texts["kernel"] = ("Kernel H(theta)", self.kernel.info.text() if self.kernel.frame else "")
            if self.curves is not None:
                for step, text in events:
                    self.curves.mark(step, text)
                self.curves.add(frames)
                self.curves.redraw()
                painter.drawPixmap(self.content["curves"], self._grab(self.curves))
            for name, (left, right) in texts.items():
                self._draw_caption(painter, self.captions[name], left, right)
        finally:
            painter.end()
        return image_array(image)

    def _draw_waiting(self, painter: QPainter, r: QRect) -> None:
        """The twin panel before its run exists: what it will show, and from when."""
        painter.fillRect(r, QColor(PANEL))
        painter.setFont(self._font(max(18, r.height() // 14)))
        painter.setPen(QColor(MUTED))
        text = f"the other kernel's run starts at step {self.options.twin_from}, copied from the run"
        painter.drawText(r, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, text)

    @staticmethod
    def _grab(widget: QWidget) -> QPixmap:
        if widget.layout() is not None:
            widget.layout().activate()
        return widget.grab()

    def _font(self, height: int, bold: bool = False) -> QFont:
        font = QFont()
        font.setPixelSize(max(9, round(height * 0.52)))
        font.setBold(bold)
        return font

    def _group_names(self, count: int) -> list[str]:
        """The `count` groups' names as the window's legend gives them (the numbers 1..count
        without a data spec)."""
        return group_names(self.data, count) if self.data is not None else [str(k + 1) for k in range(count)]

    def draw_title(self, painter: QPainter, frame: Frame) -> str:
        """The title bar: the run's name, then 'step N    kernel: K', and the cluster colours
        right-aligned (a dot and the group's name each, as the window's legend names them). A name too long for the bar is
        shortened with an ellipsis, and the colours are left out when they do not fit beside
        the step and kernel, so those two are always whole. Returns the text drawn."""
        r = self.title_rect
        pad = r.height() // 2
        painter.fillRect(r, QColor(PANEL))
        plain, bold = self._font(r.height()), self._font(r.height(), bold=True)
        names = self._group_names(int(frame.labels.max()) + 1)  # as the window's legend: digits by their digit
        dot = max(6, r.height() // 3)
        labels = QFontMetrics(plain)
        legend = sum(labels.horizontalAdvance(name) + dot + pad // 2 + 8 for name in names)
        status = f"    step {frame.step}    kernel: {KERNEL_NAMES[frame.kernel]}"
        metrics = QFontMetrics(bold)
        room = r.width() - 2 * pad
        used = metrics.horizontalAdvance(status) + metrics.horizontalAdvance("\N{HORIZONTAL ELLIPSIS}")
        show_legend = used + legend <= room
        title_room = room - metrics.horizontalAdvance(status) - (legend if show_legend else 0)
        text = metrics.elidedText(self.title, Qt.TextElideMode.ElideRight, max(0, title_room)) + status
        flags = Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft
        painter.setFont(bold)
        painter.setPen(QColor(FOREGROUND))
        painter.drawText(r.adjusted(pad, 0, -pad, 0), flags, text)
        if show_legend:
            painter.setFont(plain)
            x = r.right() - pad
            for k in reversed(range(len(names))):
                label = names[k]
                x -= labels.horizontalAdvance(label)
                painter.setPen(QColor(FOREGROUND))
                painter.drawText(QRect(x, r.top(), labels.horizontalAdvance(label) + 2, r.height()), flags, label)
                x -= dot + 4
                painter.setPen(Qt.PenStyle.NoPen)
                painter.setBrush(QColor(cluster_hex(k)))
                painter.drawEllipse(x, r.center().y() - dot // 2, dot, dot)
                x -= pad // 2 + 4
            painter.setBrush(Qt.BrushStyle.NoBrush)
        return text

    def _draw_caption(self, painter: QPainter, r: QRect, left: str, right: str) -> None:
        pad = max(4, r.height() // 4)
        inner = r.adjusted(pad, 0, -pad, 0)
        painter.setFont(self._font(r.height(), bold=True))
        painter.setPen(QColor(FOREGROUND))
        painter.drawText(inner, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, left)
        room = inner.width() - painter.fontMetrics().horizontalAdvance(left) - 2 * pad
        painter.setFont(self._font(round(r.height() * 0.85)))
        painter.setPen(QColor(MUTED))
        right = painter.fontMetrics().elidedText(right, Qt.TextElideMode.ElideRight, max(0, room))
        painter.drawText(inner, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight, right)

    def close(self) -> None:
        for drawing in self.scenes.values():
            drawing.canvas.close()
        for widget in self._widgets:
            widget.close()
            widget.deleteLater()


# ----- writing --------------------------------------------------------------------------
class VideoSink:
    """Frames piped to ffmpeg (imageio-ffmpeg's build, libx264 or GIF with a palette); the
    result is checked by counting its frames, so a disk that filled up at the very end
    is an error and not a truncated file."""

    def __init__(self, path: Path, kind: str, size: tuple[int, int], fps: float):
        self.path, self.count = path, 0
        if kind == "mp4":
            codec, pix_fmt, params = "libx264", "yuv420p", H264_OPTIONS
        else:
            codec, pix_fmt, params = "gif", "pal8", ["-vf", GIF_FILTER, "-loop", "0"]
        self._writer = imageio_ffmpeg.write_frames(
            str(path),
            size,
            fps=fps,
            codec=codec,
            pix_fmt_out=pix_fmt,
            quality=None,
            macro_block_size=1,
            ffmpeg_log_level="error",
            output_params=list(params),
        )
        self._writer.send(None)

    def add(self, image: np.ndarray) -> None:
        try:
            self._writer.send(np.ascontiguousarray(image))
        except OSError as exc:
            raise OSError(errno.EIO, "the encoder stopped writing (disk full?)") from exc
        self.count += 1

    def finish(self) -> None:
        self._writer.close()
        try:
            found, _ = imageio_ffmpeg.count_frames_and_secs(str(self.path))
        except (RuntimeError, OSError) as exc:
            raise OSError(errno.EIO, "the encoder's file is incomplete (disk full?)") from exc
        if found != self.count:
            raise OSError(errno.EIO, f"the encoder wrote {found} of {self.count} frames (disk full?)")

    def abort(self) -> None:
        with contextlib.suppress(Exception):  # the export has already failed; its error is the one to report
            self._writer.close()


class PngSink:
    """Numbered PNG files frame_00000.png, ... in a folder."""

    def __init__(self, folder: Path):
        self.folder, self.count = folder, 0

    def add(self, image: np.ndarray) -> None:
        data = iio.imwrite("<bytes>", image, extension=".png")
        (self.folder / f"frame_{self.count:05d}.png").write_bytes(data)
        self.count += 1


@contextmanager
def open_sink(path: Path, kind: str, size: tuple[int, int], fps: float) -> Iterator[VideoSink | PngSink]:
    """A sink writing to a temporary file (or folder, for kind 'png') beside `path`, which
    gets the final name only when the block ends normally. Missing parent folders are
    made; OSError at once if `path` cannot be written."""
    path = Path(path)
    for folder in (path.parent, *path.parent.parents):
        if folder.exists() and not folder.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, f"{folder} is a file, not a folder", str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind != "png" and path.is_dir():
        raise IsADirectoryError(errno.EISDIR, "is a folder; name a video file", str(path))
    if kind == "png":
        with atomic_dir(path) as tmp:
            yield PngSink(tmp)
        return
    with atomic_path(path) as tmp:
        sink = VideoSink(tmp, kind, size, fps)
        try:
            yield sink
        except BaseException:
            sink.abort()
            raise
        sink.finish()


def describe_os_error(exc: OSError) -> str:
    """A short reason for a failed write."""
    if exc.strerror:
        return exc.strerror
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def export(
    preset: Preset,
    options: ExportOptions,
    path: Path,
    kind: str,
    make_canvas: CanvasFactory,
    progress: Callable[[int, Frame], None] | None = None,
) -> int:
    """Render and write `options.frames` frames of a replay of `preset`; returns the count.
    Raises OSError (cannot write), Cancelled/KeyboardInterrupt (nothing written) or the
    simulation's errors; in every such case nothing is left under `path`."""
    options.check(kind)
    _, frames_of_run = replay(preset, options)
    with open_sink(path, kind, options.size, options.fps) as sink:
        composer = FrameComposer(options, make_canvas, preset.name, preset.data)
        try:
            for i, (frames, events) in enumerate(frames_of_run):
                sink.add(composer.render(frames, events))
                if progress:
                    progress(i + 1, frames[0])
        finally:
            composer.close()
    return options.frames

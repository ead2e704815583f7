"""Export from the window: the dialog that picks the output, panels, size, fps and steps per
frame, and the job that records a replay of the current run while the window stays live.

The job splits the work by thread. A producer in its own QThread owns a Simulation built
from the current run's preset (the live run is untouched), steps it, and writes the
images it gets back (the encoder and PNG files work there). Drawing happens in the
window's thread, where Qt widgets and OpenGL contexts live: for each frame the producer
asks, the window's event loop draws it on hidden canvases made at the export size and
hands the image over, one frame at a time, so the window keeps handling its events
between frames. A progress dialog shows the count and cancels; a cancel, a failure or
closing the window leaves no file under the final name (gui/export.py's sinks)."""

from __future__ import annotations

import queue
import threading
from pathlib import Path

import numpy as np
from PySide6.QtCore import QCoreApplication, QEventLoop, QObject, Qt, QThread, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressDialog,
    QPushButton,
    QVBoxLayout,
    QWidget,
)
from vispy import app as vispy_app
from vispy import scene

from cli.progress import count
from gui.colors import BACKGROUND, MUTED
from gui.controls import int_spin
from gui.curves import X_AXES
from gui.export import (
    GIF_MAX_FPS,
    PANEL_LABELS,
    PANELS,
    Cancelled,
    ExportOptions,
    FrameComposer,
    describe_os_error,
    open_sink,
    replay,
)
from gui.number_box import NumberBox
from sim import Divergence, Preset, PresetError

FORMATS = (("MP4 video (H.264)", "mp4"), ("GIF animation", "gif"), ("PNG frames (a folder)", "png"))


def hidden_canvas(size: tuple[int, int]) -> scene.SceneCanvas:
    """A Qt SceneCanvas of exactly `size` that is never on screen but has its OpenGL context."""
    canvas = scene.SceneCanvas(size=size, show=False, bgcolor=BACKGROUND, keys=None, app=vispy_app.use_app("pyside6"))
    canvas.native.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen)
    canvas.show()
    return canvas


def target_for(path: Path, kind: str) -> Path:
    """`path` renamed for output `kind`: name.mp4, name.gif (the suffix added to a name without
    one of these), or a folder `name` for PNGs."""
    stem = path.with_suffix("") if path.suffix.lower() in (".mp4", ".gif") else path
    return stem if kind == "png" else stem.with_name(f"{stem.name}.{kind}")


class ExportDialog(QDialog):
    """The export settings; `options()` and `target()` read them once accepted."""

    def __init__(self, parent: QWidget, kind: str, defaults: ExportOptions, path: Path):
        super().__init__(parent)
        self.setWindowTitle("Export")
        self.format = QComboBox()
        for text, value in FORMATS:
            self.format.addItem(text, value)
        self.format.setCurrentIndex(self.format.findData(kind))
        self.path = QLineEdit(str(target_for(path, kind)))
        self.path.setToolTip("The video file, or a new (or empty) folder for the PNG frames")
        browse = QPushButton("Browse...")
        browse.clicked.connect(self.browse)
        path_row = QHBoxLayout()
        path_row.addWidget(self.path, 1)
        path_row.addWidget(browse)

        self.twin_from = defaults.twin_from  # the side-by-side twin's step, as in the window
        labels = dict(PANEL_LABELS)
        if self.twin_from:
            labels["twin"] = f"embedding, the other kernel from step {self.twin_from} (as side by side)"
        self.panels = {name: QCheckBox(labels[name]) for name in PANELS}
        for name, box in self.panels.items():
            box.setChecked(name in defaults.panels)
            box.toggled.connect(self._update)
        self.width_box = int_spin(
            "frame width", 160, 7680, "Frame width in pixels (even for H.264)", defaults.size[0], 2
        )
        self.height_box = int_spin(
            "frame height", 120, 4320, "Frame height in pixels (even for H.264)", defaults.size[1], 2
        )
        size_row = QHBoxLayout()
        size_row.addWidget(self.width_box)
        size_row.addWidget(QLabel("x"))
        size_row.addWidget(self.height_box)
        self.fps = NumberBox("fps")
        self.fps.setRange(1, 240)
        self.fps.setDecimals(1)
        self.fps.setValue(defaults.fps)
        self.fps.setKeyboardTracking(False)  # a value when committed (a refusal stays in the summary)
        self.fps.setToolTip("Frames per second of the video")
        self.frames = int_spin("frames", 1, 1_000_000, "Number of frames; the first is step 0", defaults.frames, 1)
        self.steps_per_frame = int_spin(
            "steps per frame", 1, 1_000_000, "Training steps between frames", defaults.steps_per_frame, 1
        )
        self.point_arrows = QCheckBox("per-point arrows")
        self.point_arrows.setChecked(defaults.point_arrows)
        self.cluster_arrows = QCheckBox("per-cluster arrows")
        self.cluster_arrows.setChecked(defaults.cluster_arrows)
        self.trails = QCheckBox("trails")
        self.trails.setChecked(defaults.trails)
        self.fixed_arrow_scale = QCheckBox("fixed arrow scale")
        self.fixed_arrow_scale.setChecked(defaults.fixed_arrow_scale)
        self.fixed_arrow_scale.setToolTip(
            "One arrow scale for the whole export, taken from its first frame, so lengths compare between frames "
            "(the arrows shrink to ticks as the run settles). Off: each frame's own, its factor in the caption"
        )
        self.x_axis = QComboBox()
        for name, label in X_AXES.items():
            self.x_axis.addItem(label, name)
        self.x_axis.setCurrentIndex(list(X_AXES).index(defaults.x_axis))
        self.x_axis.setToolTip("The curves' x axis: the step, or the flow time t (the sum of the step sizes)")
        marks = QHBoxLayout()
        for box in (self.cluster_arrows, self.point_arrows, self.trails, self.fixed_arrow_scale):
            marks.addWidget(box)
        self.summary = QLabel()
        self.summary.setStyleSheet(f"color: {MUTED};")
        self.summary.setWordWrap(True)
        for box in (self.fps, self.frames, self.steps_per_frame):
            box.valueChanged.connect(self._update)
        for box in (self.width_box, self.height_box, self.fps, self.frames, self.steps_per_frame):
            box.refused.connect(self.summary.setText)
        self.format.currentIndexChanged.connect(self._format_changed)
        self.path.textChanged.connect(self._update)

        form = QFormLayout()
        form.addRow("Format", self.format)
        form.addRow("Save to", path_row)
        panel_box = QVBoxLayout()
        for box in self.panels.values():
            panel_box.addWidget(box)
        form.addRow("Panels", panel_box)
        form.addRow("Size", size_row)
        form.addRow("Frames per second", self.fps)
        form.addRow("Frames", self.frames)
        form.addRow("Steps per frame", self.steps_per_frame)
        form.addRow("Draw", marks)
        form.addRow("Curves against", self.x_axis)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Export")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.summary)
        layout.addWidget(self.buttons)
        self._update()

    def kind(self) -> str:
        return self.format.currentData()

    def _format_changed(self) -> None:
        self.path.setText(str(target_for(Path(self.path.text()), self.kind())))
        self.fps.setMaximum(GIF_MAX_FPS if self.kind() == "gif" else 240)  # a GIF's delays: see GIF_MAX_FPS
        self._update()

    def _update(self) -> None:
        frames, spf = self.frames.value(), self.steps_per_frame.value()
        last = (frames - 1) * spf
        late = self.twin_from > last and self.panels["twin"].isChecked()
        self.summary.setText(
            f"steps 0 to {last}, {frames / self.fps.value():.1f} s of video; "
            "a replay of the current run from step 0 (same seed, its data edits, setting changes and kernel switches)"
            + (
                f". The side-by-side panel's run starts at step {self.twin_from}, after the last step exported:"
                " that panel will only say so (more frames or steps per frame reach it)"
                if late
                else ""
            )
        )
        ok = any(box.isChecked() for box in self.panels.values()) and bool(self.path.text().strip())
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(ok)

    def browse(self) -> None:
        current = Path(self.path.text())
        if self.kind() == "png":
            chosen = QFileDialog.getExistingDirectory(self, "Folder for the PNG frames", str(current.parent))
        else:
            chosen, _ = QFileDialog.getSaveFileName(
                self, "Export video", str(current), "MP4 video (*.mp4);;GIF animation (*.gif)"
            )
        if chosen:
            self.path.setText(str(target_for(Path(chosen), self.kind())))

    def options(self) -> ExportOptions:
        w, h = self.width_box.value(), self.height_box.value()
        if self.kind() == "mp4":
            w, h = w - w % 2, h - h % 2
        panels = tuple(name for name, box in self.panels.items() if box.isChecked())
        return ExportOptions(
            panels=panels,
            size=(w, h),
            fps=self.fps.value(),
            frames=self.frames.value(),
            steps_per_frame=self.steps_per_frame.value(),
            point_arrows=self.point_arrows.isChecked(),
            cluster_arrows=self.cluster_arrows.isChecked(),
            trails=self.trails.isChecked(),
            fixed_arrow_scale=self.fixed_arrow_scale.isChecked(),
            x_axis=self.x_axis.currentData(),
            twin_from=self.twin_from if "twin" in panels else 0,
        )

    def target(self) -> tuple[Path, str]:
        """The output and its kind; a video's name typed without the format's suffix gets it
        (ffmpeg could not tell the format of a name without one)."""
        path, kind = Path(self.path.text().strip()).expanduser(), self.kind()
        return (path if kind == "png" or path.suffix.lower() == f".{kind}" else target_for(path, kind)), kind


class _Producer(QObject):
    """Lives in the export thread: steps the replay, asks for each frame's image, writes it."""

    render_wanted = Signal(object, object)
    progressed = Signal(int)
    done = Signal(str, str)

    def __init__(self, preset: Preset, options: ExportOptions, path: Path, kind: str):
        super().__init__()
        self.preset, self.options, self.path, self.kind = preset, options, path, kind
        self._images: queue.Queue[tuple[np.ndarray | None, Exception | None]] = queue.Queue()
        self._cancel = threading.Event()

    def cancel(self) -> None:
        self._cancel.set()

    def deliver(self, image: np.ndarray | None, error: Exception | None = None) -> None:
        """Called from the window's thread with a drawn image (or the error drawing it)."""
        self._images.put((image, error))

    @Slot()
    def run(self) -> None:
        try:
            self._write()
        except Cancelled:
            self.done.emit("cancelled", f"export cancelled; nothing written to {self.path}")
        except OSError as exc:
            self.done.emit("failed", f"cannot write {self.path}: {describe_os_error(exc)}; nothing written")
        except (PresetError, Divergence, RuntimeError) as exc:
            self.done.emit("failed", f"export failed: {exc}; nothing written to {self.path}")
        except Exception as exc:  # noqa: BLE001 - the window must hear of any failure, or it waits forever
            self.done.emit("failed", f"export failed: {type(exc).__name__}: {exc}; nothing written to {self.path}")
        else:
            o = self.options
            size = f"{o.size[0]}x{o.size[1]}"
            rate = "" if self.kind == "png" else f" at {o.fps:g} fps"  # PNG frames have no frame rate
            self.done.emit("done", f"wrote {self.path}: {count(o.frames, 'frame')} of {size}{rate}")

    def _write(self) -> None:
        o = self.options
        _, frames = replay(self.preset, o, cancelled=self._cancel.is_set)
        with open_sink(self.path, self.kind, o.size, o.fps) as sink:
            current = next(frames)
            for i in range(o.frames):
                self.render_wanted.emit(*current)
                upcoming = next(frames, None)  # the run steps on while the window draws
                sink.add(self._image())
                self.progressed.emit(i + 1)
                current = upcoming

    def _image(self) -> np.ndarray:
        while True:
            if self._cancel.is_set():
                raise Cancelled
            try:
                image, error = self._images.get(timeout=0.05)
            except queue.Empty:
                continue
            if error is not None:
                raise RuntimeError(f"drawing a frame failed: {error}") from error
            return image


class ExportJob(QObject):
    """One export in progress: the producer's thread, the drawing here, the progress dialog.
    `finished(status, message)`: status is 'done', 'cancelled' or 'failed'."""

    finished = Signal(str, str)

    def __init__(self, preset: Preset, options: ExportOptions, path: Path, kind: str, parent: QWidget):
        super().__init__(parent)
        options.check(kind)
        self.path, self.options, self.status = path, options, ""
        self.composer = FrameComposer(options, self._canvas, preset.name, preset.data)
        self.frames_drawn = 0
        self._ended = False
        self.producer = _Producer(preset, options, path, kind)
        self.thread = QThread(self)
        self.thread.setObjectName("export")
        self.producer.moveToThread(self.thread)
        self.thread.started.connect(self.producer.run)
        self.producer.render_wanted.connect(self._render)
        self.producer.progressed.connect(self._progressed)
        self.producer.done.connect(self._done)
        self.progress = QProgressDialog(f"Exporting {path.name}...", "Cancel", 0, options.frames, parent)
        self.progress.setWindowTitle("Export")
        self.progress.setWindowModality(Qt.WindowModality.NonModal)
        self.progress.setAutoClose(False)
        self.progress.setAutoReset(False)
        self.progress.setMinimumDuration(0)
        self.progress.canceled.connect(self.cancel)
        self.progress.setValue(0)
        self.progress.show()
        self.thread.start()

    def running(self) -> bool:
        return not self._ended

    @staticmethod
    def _canvas(size: tuple[int, int]) -> scene.SceneCanvas:
        """A hidden canvas for the composer, then one turn of the window's events (no user input
        yet: the job is not set up): making each OpenGL context takes a few tenths of a second
        on a busy machine, and the window keeps drawing between them."""
        canvas = hidden_canvas(size)
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.ExcludeUserInputEvents)
        return canvas

    @Slot()
    def cancel(self) -> None:
        self.progress.setLabelText("Cancelling...")
        self.producer.cancel()

    @Slot(object, object)
    def _render(self, frames: tuple, events: tuple) -> None:
        if self._ended:
            return
        try:
            image = self.composer.render(frames, events)
        except Exception as exc:  # noqa: BLE001 - handed to the producer, which reports it and writes nothing
            self.producer.deliver(None, exc)
            return
        self.frames_drawn += 1
        self.producer.deliver(image)

    @Slot(int)
    def _progressed(self, done: int) -> None:
        if not self._ended:
            self.progress.setValue(done)

    @Slot(str, str)
    def _done(self, status: str, message: str) -> None:
        if self._ended:
            return
        self._finish()
        self.status = status
        self.finished.emit(status, message)

    def abort(self) -> None:
        """Cancel and wait for the producer (the window is closing); nothing is written."""
        if self._ended:
            return
        self.producer.cancel()
        self._finish()

    def _finish(self) -> None:
        self._ended = True
        self.thread.quit()
        self.thread.wait()
        self.composer.close()
        self.progress.close()

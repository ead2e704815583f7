"""Kernel view: the network kernel H(theta) (trace over outputs) on a sample of the data as
an s x s pyqtgraph heatmap, square, filling its plot's shorter side, rows and columns sorted
by cluster with the cluster boundaries drawn and each block's name on the top axis, a colour
bar with explicit levels, and a toggle to the K x K cluster-averaged kernel. It draws what a
Frame carries (Frame.H, Frame.H_index) and says how old it is."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QBoxLayout, QCheckBox, QLabel, QVBoxLayout, QWidget

from gui.colors import BACKGROUND, FOREGROUND, MUTED
from gui.elided_label import ElidedLabel
from sim import Frame
from sim.driver import KERNEL_NAMES

pg.setConfigOptions(imageAxisOrder="row-major")
ROOMY = (320, 240)  # px: a heatmap area smaller than this has no axis titles


def block_means(H: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """K x K matrix of the mean of H over each pair of clusters (labels 0..K-1, sorted or not)."""
    K = int(labels.max()) + 1
    onehot = np.zeros((len(labels), K))
    onehot[np.arange(len(labels)), labels] = 1
    counts = onehot.sum(0)
    sums = onehot.T @ H @ onehot
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums / np.outer(counts, counts)


def boundaries(sorted_labels: np.ndarray) -> np.ndarray:
    """Positions (in rows) between consecutive clusters of sorted labels."""
    return np.flatnonzero(np.diff(sorted_labels)) + 1


def spread(middles: list[float], halves: list[float], low: float, high: float) -> list[float] | None:
    """Centres for labels wanted at `middles` (ascending), each `halves[i]` wide on either side,
    kept in [low, high] and apart, each moved as little as a pass right then left moves it;
    None when they cannot all fit."""
    if 2 * sum(halves) > high - low:
        return None
    at = [min(max(m, low + h), high - h) for m, h in zip(middles, halves, strict=True)]
    for i in range(1, len(at)):  # push right past the one before
        at[i] = max(at[i], at[i - 1] + halves[i - 1] + halves[i])
    for i in range(len(at) - 1, -1, -1):  # and back left inside the edge, past the one after
        limit = high - halves[i] if i == len(at) - 1 else at[i + 1] - halves[i + 1] - halves[i]
        at[i] = min(at[i], limit)
    return at


def sample_tick_step(pixels_per_sample: float, label_width: float) -> float:
    """The sample axes' tick step: the smallest of 1, 2, 5, 10, 20, 50, ... samples whose
    labels (`label_width` px each, the widest's) keep 10 px apart at this scale (pyqtgraph's
    own steps let "50 100150" run together in a small heatmap of 224 samples)."""
    step = 1.0
    while step * pixels_per_sample < label_width + 10:
        step *= 2.5 if str(int(step)).startswith("2") else 2.0
    return step


class KernelView(QWidget):
    """The H(theta) heatmap with its colour bar and the cluster-average toggle."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.average = QCheckBox("cluster means")  # short: the info beside it keeps its room (1366 x 768)
        self.average.setToolTip(
            "Show the K x K means of H over each pair of clusters instead of the sample-level kernel"
        )
        self.average.toggled.connect(self._redraw)
        self.info = ElidedLabel("kernel appears while this panel is visible")
        self.info.setStyleSheet(f"color: {MUTED};")

        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground(BACKGROUND)
        self.plot = self.graphics.addPlot()
        self.plot.invertY(True)
        self.plot.setAspectLocked(True)  # H is square: stretched 4:1 in a short dock its blocks were slivers
        self.plot.hideButtons()
        self.plot.setMenuEnabled(False)
        self.plot.getAxis("left").setLabel("sample", color=MUTED)
        self.graphics.setToolTip("H(theta) summed over outputs; rows and columns sorted by cluster")
        self.plot.getAxis("bottom").setLabel("sample", color=MUTED)
        self.image = pg.ImageItem()
        self.plot.addItem(self.image)
        self.colorbar = pg.ColorBarItem(values=(0, 1), colorMap=pg.colormap.get("viridis"), interactive=False)
        self.colorbar.setImageItem(self.image, insert_in=self.plot)
        self._lines: list[pg.PlotCurveItem] = []
        self.plot.showAxis("top")  # the blocks' names, over the matrix (inside, they covered its first rows)
        self.plot.getAxis("top").setTextPen(FOREGROUND)
        self.plot.getAxis("top").setStyle(tickLength=0)
        view = self.plot.getViewBox()
        view.sigResized.connect(lambda *_: self._name_blocks())  # spacing by the pixels a block has
        view.sigRangeChanged.connect(lambda *_: self._name_blocks())
        self.block_names: list[tuple[float, str]] = []  # (middle of the block, its group's name)
        # one row where the ratio and the step fit beside the toggle (the heatmap keeps the height),
        # else the info on a line under it (_place_info)
        self.top = top = QBoxLayout(QBoxLayout.Direction.LeftToRight)
        top.addWidget(self.average)
        top.addWidget(self.info, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.addLayout(top)
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.setStyleSheet(f"color: {MUTED};")
        self.note.hide()
        layout.addWidget(self.note)
        layout.addWidget(self.graphics, 1)
        self.graphics.setMinimumSize(100, 60)
        self.graphics.installEventFilter(self)
        self.names: list[str] = []
        self.frame: Frame | None = None
        self.shown: np.ndarray | None = None
        self.levels: tuple[float, float] = (0.0, 1.0)
        self.updates = 0

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._place_info()

    def _place_info(self) -> None:
        """The info beside the toggle when its head (the within/between ratio and the step)
        fits there, else on a line of its own under it: at 1366 x 768 the dock's 230 px cut it
        to "within/between ...", hiding the number. What still does not fit ends in an
        ellipsis, the whole text in the tooltip."""
        head = "   ".join(self.info.text().split("   ")[:2])
        room = self.width() - 8 - self.average.sizeHint().width() - self.top.spacing()
        beside = self.info.fontMetrics().horizontalAdvance(head) + 4 <= room
        self.top.setDirection(QBoxLayout.Direction.LeftToRight if beside else QBoxLayout.Direction.TopToBottom)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """A small heatmap (a 1366 x 768 screen's kernel dock) drops its axis titles, which
        took a third of its width and height; they come back with room."""
        if watched is self.graphics and event.type() == QEvent.Type.Resize:
            roomy = self.graphics.width() >= ROOMY[0] and self.graphics.height() >= ROOMY[1]
            for side in ("left", "bottom"):
                self.plot.getAxis(side).showLabel(roomy)
        return False

    def _name_blocks(self) -> None:
        """The blocks' names as the top axis's ticks, each over its block or pushed aside just
        enough to stay apart from its neighbours (a small block's name was dropped); where even
        that cannot fit them (many clusters, a small heatmap), every k-th name."""
        view = self.plot.getViewBox()
        (x0, x1), _ = view.viewRange()
        pixels = max(view.width(), 1.0) / max(x1 - x0, 1e-9)  # per row of the matrix
        metrics = self.graphics.fontMetrics()
        for every in range(1, len(self.block_names) + 1):
            names = self.block_names[::every]
            halves = [(metrics.horizontalAdvance(name) / 2 + 3) / pixels for _, name in names]
            at = spread([middle for middle, _ in names], halves, x0, x1)
            if at is not None:
                break
        else:
            names, at = [], []
        shown = [(a, name) for a, (_, name) in zip(at, names, strict=True)]
        self.plot.getAxis("top").setTicks([shown])
        step = sample_tick_step(pixels, metrics.horizontalAdvance(str(int(max(abs(x0), abs(x1))))))
        for side in ("left", "bottom"):  # K x K: the clusters' names on every axis, at the cells' middles
            axis = self.plot.getAxis(side)
            axis.setTicks([shown] if self.average.isChecked() else None)
            axis.setTickSpacing(step, step)

    def show_frame(self, frame: Frame) -> None:
        """Take the kernel from a frame that carries one (frames without H are ignored)."""
        if frame.H is None or frame.H_index is None:
            return
        self.frame = frame
        self._redraw()

    def _redraw(self) -> None:
        frame = self.frame
        if frame is None:
            return
        labels = frame.labels[frame.H_index]
        if self.average.isChecked():
            matrix = block_means(frame.H, labels)
            edges = np.arange(1, matrix.shape[0])
            starts = np.arange(matrix.shape[0])
        else:
            matrix = frame.H
            edges = boundaries(labels)
            starts = np.concatenate([[0], edges])
        matrix = np.ascontiguousarray(matrix, dtype=np.float32)
        finite = matrix[np.isfinite(matrix)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        if hi <= lo:
            hi = lo + 1e-12
        self.levels = (lo, hi)
        self.image.setImage(matrix, levels=self.levels, autoLevels=False)
        self.colorbar.setLevels(self.levels)
        size = matrix.shape[0]
        self._draw_boundaries(edges, starts, labels if not self.average.isChecked() else np.arange(len(starts)), size)
        self.shown = matrix
        unit = "cluster" if self.average.isChecked() else "sample"
        for side in ("left", "bottom"):
            axis = self.plot.getAxis(side)
            shown = axis.label.isVisible()
            axis.setLabel(unit, color=MUTED)  # setLabel shows the title: as it was
            axis.showLabel(shown)
        self.plot.setRange(xRange=(0, matrix.shape[1]), yRange=(0, matrix.shape[0]), padding=0)
        self._name_blocks()
        ratio = frame.metrics.get("block_ratio", float("nan"))
        n, s = len(frame.labels), len(frame.H_index)
        sample = f"   (an even subsample of {s} of the {n} samples)" if s < n else ""
        self.info.setText(  # the ratio first: a narrow dock cuts the end (the status bar has the step)
            f"within/between = {ratio:.3g}   step {frame.step}   {matrix.shape[0]} x {matrix.shape[1]}{sample}"
        )
        # under another kernel H(theta) is still the network's, but not what moves the points: said
        # on a line of its own, wrapped (at the end of the info a 1366 x 768 dock cut it off)
        self.note.setText(f"the network's kernel; the run moves by the {KERNEL_NAMES[frame.kernel]} kernel")
        self.note.setVisible(frame.kernel != "nn")
        self._place_info()
        self.updates += 1

    def _draw_boundaries(self, edges: np.ndarray, starts: np.ndarray, labels: np.ndarray, size: int) -> None:
        """The blocks' edges as segments across the size x size matrix alone (lines across the
        whole plot ran on into the empty room beside a square heatmap), and each block's name."""
        for item in self._lines:
            self.plot.removeItem(item)
        self._lines = []
        if len(edges):
            e = np.repeat(np.asarray(edges, dtype=float), 2)
            ends = np.tile([0.0, float(size)], len(edges))
            segments = pg.PlotCurveItem(
                np.concatenate([e, ends]), np.concatenate([ends, e]), pen=pg.mkPen(FOREGROUND, width=1), connect="pairs"
            )
            self.plot.addItem(segments)
            self._lines.append(segments)
        ends = np.append(np.asarray(starts, dtype=float)[1:], float(size))
        self.block_names = [
            ((float(s) + end) / 2, self.name(int(labels[s]) if s < len(labels) else 0))
            for s, end in zip(starts, ends, strict=True)
        ]

    def set_names(self, names: list[str]) -> None:
        """The groups' names (gui/legend.py's group_names), shown at each block's corner."""
        self.names = list(names)
        self._redraw()

    def name(self, k: int) -> str:
        """Group k's name: its entry in `names`, else its number counted from 1."""
        return self.names[k] if k < len(self.names) else str(k + 1)

    def wants_updates(self) -> bool:
        """True when some of the panel is on screen."""
        return self.isVisible() and not self.visibleRegion().isEmpty()

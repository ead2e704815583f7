"""Metric curves: loss, alignment, uniformity, silhouette and the per-cluster resultant
lengths R_k against the step, in pyqtgraph plots sharing one time axis. The main run is
drawn solid, the side-by-side twin dashed; kernel switches and data edits are vertical
lines labelled on the time axis."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QVBoxLayout, QWidget

from gui.colors import BACKGROUND, FOREGROUND, MUTED, cluster_hex
from sim import Frame

SCALARS = (
    ("loss", "loss", "NT-Xent loss on the views of the next step"),
    ("alignment", "alignment", "mean |z - z+|^2 between views of one sample (0 = invariant)"),
    ("uniformity", "uniformity", "log mean exp(-2|z_i - z_j|^2) (lower = more uniform)"),
    ("silhouette", "silhouette", "silhouette of the embeddings under the true labels (1 = separated clusters)"),
)
MAX_POINTS = 20000


def _small_font() -> QFont:
    font = QFont()
    font.setPointSize(7)
    return font


class Series:
    """A growable (step, value) record."""

    def __init__(self, width: int = 1):
        self.steps = np.empty(0, dtype=np.int64)
        self.values = np.empty((0, width), dtype=np.float64)
        self.size = 0

    def append(self, step: int, values: np.ndarray) -> None:
        values = np.atleast_1d(np.asarray(values, dtype=np.float64))
        if values.shape[0] != self.values.shape[1]:
            self.values = np.full((len(self.steps), values.shape[0]), np.nan)
        if self.size == len(self.steps):
            grow = max(256, self.size)
            self.steps = np.concatenate([self.steps, np.zeros(grow, np.int64)])
            self.values = np.concatenate([self.values, np.full((grow, self.values.shape[1]), np.nan)])
        if self.size and step <= self.steps[self.size - 1]:
            self.size = int(np.searchsorted(self.steps[: self.size], step))
        self.steps[self.size] = step
        self.values[self.size] = values
        self.size += 1
        if self.size > MAX_POINTS:
            keep = np.arange(0, self.size, 2)
            self.size = len(keep)
            self.steps[: self.size] = self.steps[keep]
            self.values[: self.size] = self.values[keep]

    def view(self) -> tuple[np.ndarray, np.ndarray]:
        return self.steps[: self.size], self.values[: self.size]


class Curves(QWidget):
    """The metric plots. `add(frames)` records one snapshot, `mark(step, text)` an event."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.layout_widget = pg.GraphicsLayoutWidget()
        self.layout_widget.setBackground(BACKGROUND)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.layout_widget)
        self.plots: dict[str, pg.PlotItem] = {}
        names = [(key, title, tip) for key, title, tip in SCALARS] + [
            ("R", "R_k", "per-cluster mean resultant length |mean z| (1 = the cluster collapsed to a point)")
        ]
        first = None
        for i, (key, title, tip) in enumerate(names):
            plot = self.layout_widget.addPlot(row=0, col=i)
            plot.setTitle(title, color=FOREGROUND, size="9pt")
            plot.setToolTip(tip)
            plot.showGrid(x=True, y=True, alpha=0.15)
            plot.setDownsampling(auto=True, mode="peak")
            plot.setClipToView(True)
            for side in ("left", "bottom"):
                axis = plot.getAxis(side)
                axis.setStyle(tickFont=_small_font(), tickLength=-4)
                axis.setTextPen(MUTED)
            plot.getAxis("left").setWidth(44)
            plot.getAxis("left").enableAutoSIPrefix(False)
            if first is None:
                first = plot
            else:
                plot.setXLink(first)
            self.plots[key] = plot
        self.series: dict[tuple[int, str], Series] = {}
        self.lines: dict[tuple[int, str], list[pg.PlotDataItem]] = {}
        self.events: list[tuple[int, str]] = []
        self._markers: list[tuple[pg.PlotItem, pg.InfiniteLine]] = []

    def clear(self) -> None:
        for (_, key), items in self.lines.items():
            for item in items:
                self.plots[key].removeItem(item)
        for plot, line in self._markers:
            plot.removeItem(line)
        self.series.clear()
        self.lines.clear()
        self.events.clear()
        self._markers.clear()

    def add(self, frames: tuple[Frame, ...]) -> None:
        for run, frame in enumerate(frames):
            values = {"loss": frame.loss, **frame.metrics, "R": frame.cluster_metrics["R"]}
            for key in self.plots:
                series = self.series.setdefault((run, key), Series(1 if key != "R" else len(values["R"])))
                series.append(frame.step, values[key])

    def mark(self, step: int, text: str) -> None:
        """A labelled vertical line at `step` on every plot."""
        self.events.append((step, text))
        color = "#f0c05a" if text.startswith("kernel") else "#9aa4ff"
        for key, plot in self.plots.items():
            line = pg.InfiniteLine(
                pos=step,
                angle=90,
                pen=pg.mkPen(color, width=1, style=Qt.PenStyle.DashLine),
                label=text if key == "loss" else None,
                labelOpts={"position": 0.92, "color": color, "rotateAxis": (1, 0), "anchors": [(0, 0), (0, 0)]},
            )
            plot.addItem(line)
            self._markers.append((plot, line))

    def redraw(self) -> None:
        """Push the recorded series to the plot items (one setData per line)."""
        for (run, key), series in self.series.items():
            steps, values = series.view()
            items = self.lines.get((run, key), [])
            width = values.shape[1]
            style = Qt.PenStyle.SolidLine if run == 0 else Qt.PenStyle.DashLine
            while len(items) < width:
                j = len(items)
                color = cluster_hex(j) if key == "R" else ("#e6e6e6" if run == 0 else "#8fb8ff")
                items.append(self.plots[key].plot(pen=pg.mkPen(color, width=1.5, style=style)))
            while len(items) > width:
                self.plots[key].removeItem(items.pop())
            self.lines[(run, key)] = items
            for j, item in enumerate(items):
                item.setData(steps, values[:, j])

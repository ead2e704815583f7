"""Kernel evolution curves (issue 14), under the heatmap in its dock: how far the network
kernel has moved from the run's start, ||H(t) - H(0)||_F / ||H(0)||_F (0 in the lazy, kernel
regime), the centered alignment of H(t) with the cluster-indicator kernel (1: H is all about
the clusters) and the share of its top-K eigenspace in the span of the cluster indicators,
against the step; beside them, the largest eigenvalues of H(t) (log scale). Both come with the frames that carry H, on the
heatmap's subsample of at most 256 samples (sim/kernel_evolution.py), so the curves grow
while the heatmap is on screen."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QHBoxLayout, QVBoxLayout, QWidget

from gui.colors import BACKGROUND, MUTED
from sim import Frame

CURVES = (
    ("distance", "kernel distance ||H - H0|| / ||H0||", "#f0c05a"),
    ("alignment", "alignment with clusters", "#6fd3e0"),
    ("top_share", "top-K share in cluster span", "#c58cf0"),
)
EIGENVALUES = 8  # sim/kernel_evolution.py keeps the 8 largest


class KernelEvolutionView(QWidget):
    """The three curves and the spectrum; `add(frame)` takes a frame's measures, `clear()`
    starts over."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.plot = pg.PlotWidget(background=BACKGROUND)
        self.plot.setMinimumHeight(50)
        self.plot.hideButtons()
        self.plot.setMenuEnabled(False)
        self.plot.getAxis("bottom").setLabel("step", color=MUTED)
        self.plot.addLegend(offset=(4, 4), labelTextColor=MUTED)
        self.lines = {
            key: self.plot.plot([], [], pen=pg.mkPen(color, width=2), name=name) for key, name, color in CURVES
        }
        self.spectrum = pg.PlotWidget(background=BACKGROUND)
        self.spectrum.setMinimumHeight(50)
        self.spectrum.hideButtons()
        self.spectrum.setMenuEnabled(False)
        self.spectrum.setLogMode(y=True)
        self.spectrum.getAxis("bottom").setLabel("step", color=MUTED)
        self.spectrum.setTitle("largest eigenvalues of H", color=MUTED, size="9pt")
        self.eigen_lines = [
            self.spectrum.plot([], [], pen=pg.mkPen(MUTED if i else "#e6e6e6")) for i in range(EIGENVALUES)
        ]
        self.setToolTip("H(theta) against its start, on the heatmap's subsample (while this panel is visible)")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 0, 4, 4)
        plots = QHBoxLayout()
        plots.addWidget(self.plot, 2)
        plots.addWidget(self.spectrum, 1)
        layout.addLayout(plots, 1)
        self.steps: list[int] = []
        self.values: dict[str, list[float]] = {key: [] for key, _, _ in CURVES}
        self.eigenvalues: list[np.ndarray] = []

    def add(self, frame: Frame) -> None:
        """Append a frame's kernel measures (frames without H, or a step already shown, are
        skipped) and redraw both curves."""
        measures = frame.kernel_evolution
        if frame.H is None or not measures or (self.steps and frame.step <= self.steps[-1]):
            return
        self.steps.append(frame.step)
        steps = np.array(self.steps, float)
        for key, values in self.values.items():
            values.append(float(measures[key]))
            self.lines[key].setData(steps, np.array(values), connect="finite")
        self.eigenvalues.append(np.asarray(measures["eigenvalues"], float))
        spectrum = np.array(self.eigenvalues)
        for i, line in enumerate(self.eigen_lines[: spectrum.shape[1]]):
            positive = np.where(spectrum[:, i] > 0, spectrum[:, i], np.nan)
            line.setData(steps, positive, connect="finite")

    def clear(self) -> None:
        """A new run: no points."""
        self.steps.clear()
        self.eigenvalues.clear()
        for key, values in self.values.items():
            values.clear()
            self.lines[key].setData([], [])
        for line in self.eigen_lines:
            line.setData([], [])

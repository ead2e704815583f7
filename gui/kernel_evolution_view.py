"""Kernel evolution curves (issue 14), under the heatmap in its dock: how far the network
kernel has moved from the run's start, ||H(t) - H(0)||_F / ||H(0)||_F (0 in the lazy, kernel
regime), and the centered alignment of H(t) with the cluster-indicator kernel (1: H is all
about the clusters), against the step. Both come with the frames that carry H, on the
heatmap's subsample of at most 256 samples (sim/kernel_evolution.py), so the curves grow
while the heatmap is on screen."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from gui.colors import BACKGROUND, MUTED
from sim import Frame

CURVES = (
    ("distance", "kernel distance ||H - H0|| / ||H0||", "#f0c05a"),
    ("alignment", "alignment with clusters", "#6fd3e0"),
)


class KernelEvolutionView(QWidget):
    """The two curves; `add(frame)` takes a frame's measures, `clear()` starts over."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.plot = pg.PlotWidget(background=BACKGROUND)
        self.plot.setMinimumHeight(90)
        self.plot.hideButtons()
        self.plot.setMenuEnabled(False)
        self.plot.getAxis("bottom").setLabel("step", color=MUTED)
        self.plot.addLegend(offset=(4, 4), labelTextColor=MUTED)
        self.lines = {
            key: self.plot.plot([], [], pen=pg.mkPen(color, width=2), name=name) for key, name, color in CURVES
        }
        note = QLabel("H(theta) against its start, on the heatmap's subsample (while this panel is visible)")
        note.setStyleSheet(f"color: {MUTED};")
        note.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 0, 4, 4)
        layout.addWidget(note)
        layout.addWidget(self.plot, 1)
        self.steps: list[int] = []
        self.values: dict[str, list[float]] = {key: [] for key, _, _ in CURVES}

    def add(self, frame: Frame) -> None:
        """Append a frame's kernel measures (frames without H, or a step already shown, are
        skipped) and redraw both curves."""
        measures = frame.kernel_evolution
        if frame.H is None or not measures or (self.steps and frame.step <= self.steps[-1]):
            return
        self.steps.append(frame.step)
        for key, values in self.values.items():
            values.append(float(measures[key]))
            self.lines[key].setData(np.array(self.steps, float), np.array(values), connect="finite")

    def clear(self) -> None:
        """A new run: no points."""
        self.steps.clear()
        for key, values in self.values.items():
            values.clear()
            self.lines[key].setData([], [])

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
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QBoxLayout, QLabel, QVBoxLayout, QWidget

from gui.colors import MUTED
from gui.curves import COMPACT_HEIGHT, STEP_SPAN, CurvePlot
from gui.plot_grid import shrinkable_title
from sim import Frame

CURVES = (  # key, name (in the key line with room), short name (in it without), colour
    ("distance", "kernel distance ||H - H0|| / ||H0||", "distance", "#f0c05a"),
    ("alignment", "alignment with clusters", "alignment", "#6fd3e0"),
    ("top_share", "top-K share in cluster span", "top-K", "#c58cf0"),
)
SHORT_KEY = " ".join(f'<span style="color:{color}">{short}</span>' for _, _, short, color in CURVES)
FULL_KEY = "&nbsp;&nbsp; ".join(
    f'<span style="color:{color}">&#9632;</span>&nbsp;{name.replace(" ", "&nbsp;").replace("-", "&#8209;")}'
    for _, name, _, color in CURVES
)
EIGENVALUES = 8  # sim/kernel_evolution.py keeps the 8 largest
SPECTRUM_TITLE = "largest eigenvalues of H"
BOTTOM_MARGIN = 4
LEGEND_MIN_WIDTH = 240  # the curves' plot narrower than this gets the short names
PLOT_MIN_HEIGHT = 40  # each plot keeps this much; the key line goes first
TOP_MARGIN = 7  # px over each plot: half a tick label's height


class KernelEvolutionView(QWidget):
    """The three curves and the spectrum; `add(frame)` takes a frame's measures, `clear()`
    starts over."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.plot = CurvePlot()
        self.plot.setMinimumHeight(PLOT_MIN_HEIGHT)
        self.plot.hideButtons()
        self.plot.setMenuEnabled(False)
        self.plot.getAxis("bottom").setLabel("step", color=MUTED)
        self.lines = {key: self.plot.plot([], [], pen=pg.mkPen(color, width=2)) for key, _, _, color in CURVES}
        self.spectrum = CurvePlot()
        self.spectrum.setMinimumHeight(PLOT_MIN_HEIGHT)
        self.spectrum.hideButtons()
        self.spectrum.setMenuEnabled(False)
        self.spectrum.setLogMode(y=True)
        self.spectrum.getAxis("bottom").setLabel("step", color=MUTED)
        self.spectrum.setTitle(SPECTRUM_TITLE, color=MUTED, size="9pt")
        for plot in (self.plot, self.spectrum):
            shrinkable_title(plot)
            # room above the top tick's label: without a title it was cut in half ("1.0")
            plot.getPlotItem().layout.setContentsMargins(1, TOP_MARGIN, 1, 1)
        self.eigen_lines = [
            self.spectrum.plot([], [], pen=pg.mkPen(MUTED if i else "#e6e6e6")) for i in range(EIGENVALUES)
        ]
        key = "<br>".join(f'<span style="color:{color}">&#9632;</span> {name}' for _, name, _, color in CURVES)
        self.setToolTip(
            f"H(theta) against its start, on the heatmap's subsample (while this panel is visible):<br>{key}"
            f"<br>right: the {EIGENVALUES} largest eigenvalues of H (log scale)"
        )
        self.key = QLabel()  # the curves' names in their colours, over the plots (a legend in the plot covered them)
        self.key.setWordWrap(True)
        self.key.setStyleSheet("font-size: 10px;")
        self.key.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 0, 4, BOTTOM_MARGIN)
        layout.setSpacing(0)
        layout.addWidget(self.key)
        self.plots = QBoxLayout(QBoxLayout.Direction.LeftToRight)  # one above the other when narrow
        self.plots.addWidget(self.plot, 2)
        self.plots.addWidget(self.spectrum, 1)
        layout.addLayout(self.plots, 1)
        self.steps: list[int] = []
        self.values: dict[str, list[float]] = {key: [] for key, _, _, _ in CURVES}
        self.eigenvalues: list[np.ndarray] = []

    def resizeEvent(self, event: QResizeEvent) -> None:
        """The curves are named by a key line above both plots (a legend inside the plot lay
        over the curves at 1920 x 1080): with room, their names and the spectrum's title; short
        of it (a 1366 x 768 screen), short names and where the eigenvalues are, no title (plot
        titles took 20 px of each plot, so that below 80 px the curves went unnamed); lower
        still, where each plot would keep less than PLOT_MIN_HEIGHT, the key goes too (the
        tooltip names the curves in full). A narrow panel stacks the two plots."""
        super().resizeEvent(event)
        narrow = self.width() < 1.2 * self.height()
        self.plots.setDirection(QBoxLayout.Direction.TopToBottom if narrow else QBoxLayout.Direction.LeftToRight)
        tall = self.height() - BOTTOM_MARGIN >= COMPACT_HEIGHT * (2 if narrow else 1)  # each plot's height
        roomy = tall and self.width() * (1 if narrow else 2 / 3) >= LEGEND_MIN_WIDTH  # the curves' plot's width
        self.spectrum.setTitle(SPECTRUM_TITLE if roomy else None, color=MUTED, size="9pt")
        where = "below" if narrow else "right"
        # no break inside "· eigenvalues below": a wrapped line ended in a lone "·"
        short = f'{SHORT_KEY} <span style="color:{MUTED}">&middot;&nbsp;eigenvalues&nbsp;{where}</span>'
        self.key.setText(f'<span style="color:{MUTED}">{FULL_KEY}</span>' if roomy else short)
        line = self.key.heightForWidth(max(1, self.width() - 8))
        each = (self.height() - BOTTOM_MARGIN - line) / (2 if narrow else 1)
        self.key.setVisible(each >= PLOT_MIN_HEIGHT)

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
        for plot in (self.plot, self.spectrum):  # one step: the steps ahead, not -100..100 about it
            if len(steps) == 1:
                plot.setXRange(steps[0], steps[0] + STEP_SPAN, padding=0.03)
            else:
                plot.enableAutoRange(x=True)

    def clear(self) -> None:
        """A new run: no points."""
        self.steps.clear()
        self.eigenvalues.clear()
        for key, values in self.values.items():
            values.clear()
            self.lines[key].setData([], [])
        for line in self.eigen_lines:
            line.setData([], [])

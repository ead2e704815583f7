"""Cluster-level dynamics panel (Theorem 4.5, Remark 4.4): per cluster, its share n_k / n,
the size of its summed gradient G_k, the predicted velocity -H_bar G split into the
cluster's own term -H_bar_kk G_k (Remark 4.4: it carries n_k / n) and the other clusters'
terms through H, the network's measured velocity, and the spread of the network's per-point
velocities inside the cluster (Theorem 4.5: 0 up to O(eps)); the within-cluster deviation of
H(theta) from its block means; and, on request, that deviation and the velocity spread
against the cluster radius eps (a sweep of fresh runs off the GUI thread: by Theorem 4.5
both grow like eps; clustered data only). The three parts sit in a gui/plot_grid.py grid,
which scrolls below a readable size; groups are named as everywhere else (gui/legend.py's
group_names: the digits by their own labels)."""

from __future__ import annotations

import threading

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, QThread, Signal, Slot
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gui.colors import BACKGROUND, FOREGROUND, MUTED, cluster_hex
from gui.embedding_scene import at_rest
from gui.plot_grid import PlotGrid, shrinkable_title
from sim import Preset, Simulation
from sim.cluster_dynamics import ClusterFlow, cluster_flow
from sim.preset import with_changes

BARS_TITLE = "cluster speed per step: predicted (faint) and measured"
SWEEP_EPS = (0.05, 0.1, 0.2, 0.3, 0.4)
SWEEP_MAX_PER_CLUSTER = 64  # samples a cluster in the eps sweep's runs
COLUMNS = ("cluster", "n_k/n", "|G_k|", "|own|", "|others|", "|v| pred.", "|v| meas.", "angle°", "spread")
SWEEP_LINES = (("deviation", "deviation of H", 0), ("spread", "velocity spread", 2))  # (key, label, colour)
TABLE_MIN_ROWS = 3
ROW_HEIGHT = 20


class _Sweep(QObject):
    """The eps sweep, in its own thread: a fresh run per radius (at most SWEEP_MAX_PER_CLUSTER
    samples a cluster: Theorem 4.5's measures depend on eps, and a 25,000-sample cluster would
    fit its start for seconds per radius); `progress` before each radius; `stop()` ends it
    between two radii (`done` is not emitted then)."""

    done = Signal(object)
    progress = Signal(str)

    def __init__(self, preset: Preset):
        super().__init__()
        self.preset = preset
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    @Slot()
    def run(self) -> None:
        rows = []
        clusters = self.preset.data.clusters
        counts = {f"data.clusters[{k}].count": min(c.count, SWEEP_MAX_PER_CLUSTER) for k, c in enumerate(clusters)}
        for i, eps in enumerate(SWEEP_EPS):
            if self._stop.is_set():
                return
            self.progress.emit(f"measuring eps = {eps:g} ({i + 1} of {len(SWEEP_EPS)})...")
            radii = {f"data.clusters[{k}].radius": eps for k in range(len(clusters))}
            p = with_changes(self.preset, {**radii, **counts, "device": "cpu"})
            flow = cluster_flow(Simulation(p))
            rows.append((eps, flow.deviation, float(flow.spread.mean())))
        self.done.emit(rows)


def _angle(a: np.ndarray, b: np.ndarray) -> float:
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na == 0 or nb == 0:
        return float("nan")
    return float(np.degrees(np.arccos(np.clip(a @ b / (na * nb), -1, 1))))


class ClusterPanel(QWidget):
    """Shows a ClusterFlow; `sweep(preset)` measures the deviation against eps."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.flow: ClusterFlow | None = None
        self.sweep_rows: list[tuple[float, float, float]] | None = None
        self.names: list[str] = []
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        # each column as wide as its header and numbers (the table scrolls sideways in a dock
        # too narrow for want_width rather than cut them: Stretch left "v| pred" and "8.7 ..."
        # at 1366 x 768); the last one not stretched, which may leave it narrower than its text
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(ROW_HEIGHT)
        self.table.setToolTip(
            "Per cluster: its share of the samples; the size of its summed loss gradient G_k; one NN step's "
            "cluster velocity predicted by -H_bar G, split into the cluster's own term -H_bar_kk G_k (Remark 4.4: "
            "it carries the share) and the other clusters' terms through H; the network's measured velocity and "
            "the angle between the two; the spread of the network's per-point velocities inside the cluster over "
            "their size (Theorem 4.5: 0 up to O(eps))."
        )
        self.deviation = QLabel("")
        self.deviation.setWordWrap(True)
        self.deviation.setStyleSheet(f"color: {FOREGROUND};")
        self.bars = pg.PlotWidget(background=BACKGROUND)
        self.bars.setTitle(BARS_TITLE, color=FOREGROUND, size="9pt")
        self.bars.setLabel("bottom", "cluster", color=MUTED)
        self.bars.setLabel("left", "|v| per step", color=MUTED)
        self.bars.setToolTip(
            "Bar heights: |v| predicted by the cluster-level flow (faint, left) and measured from the network "
            "(outlined, right)"
        )
        self.eps_plot = pg.PlotWidget(background=BACKGROUND)
        self.eps_plot.setTitle("deviation of H and velocity spread against eps", color=FOREGROUND, size="9pt")
        self.eps_plot.setLabel("bottom", "cluster radius eps", color=MUTED)
        self.eps_plot.setLabel("left", "relative RMS", color=MUTED)
        self.eps_plot.setToolTip(
            "Theorem 4.5: the kernel is constant on clusters, and every point of a cluster moves with the same "
            "velocity, up to O(eps): both lines grow like eps"
        )
        self.eps_plot.addLegend(offset=(5, 5), labelTextColor=FOREGROUND)
        for plot in (self.bars, self.eps_plot):
            plot.getPlotItem().hideButtons()
            shrinkable_title(plot)
            for side in ("left", "bottom"):
                plot.getAxis(side).enableAutoSIPrefix(False)
        self.sweep_button = QPushButton("Measure against eps")
        self.sweep_tip = (
            f"Build fresh runs of this preset (at most {SWEEP_MAX_PER_CLUSTER} samples a cluster) with every "
            f"cluster radius set to each of {SWEEP_EPS} and measure "
            "the deviation of H(theta) from its block means and the velocity spread (in the background)"
        )
        self.sweep_button.setToolTip(self.sweep_tip)
        header = QWidget()  # on top, so that a short dock (1366 x 768) still shows them
        row = QHBoxLayout(header)
        row.setContentsMargins(4, 0, 4, 0)
        row.addWidget(self.deviation, 1)
        row.addWidget(self.sweep_button)
        self.grid = PlotGrid([self.table, self.bars, self.eps_plot], header=header, min_cell=(260, 130), aspect=1.4)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.grid)
        self._fit_table(0)
        self._thread: QThread | None = None

    def set_names(self, names: list[str], word: str = "cluster") -> None:
        """The groups' names (gui/legend.py's group_names) and what one is called."""
        self.names = list(names)
        self.table.setHorizontalHeaderItem(0, QTableWidgetItem(word))
        self.bars.setLabel("bottom", word, color=MUTED)
        if self.flow is not None:
            self.show_flow(self.flow)

    def name(self, k: int) -> str:
        """Group k's name: its entry in `names`, else its number counted from 1."""
        return self.names[k] if k < len(self.names) else str(k + 1)

    def _fit_table(self, rows: int) -> None:
        """Room for the header and TABLE_MIN_ROWS rows at least; more rows scroll."""
        header = self.table.horizontalHeader().sizeHint().height()
        self.table.setMinimumHeight(header + ROW_HEIGHT * min(max(rows, 1), TABLE_MIN_ROWS) + 4)

    def _table_width(self) -> int:
        """The width that shows every column of the table whole without scrolling sideways."""
        table, header = self.table, self.table.horizontalHeader()
        columns = sum(max(table.sizeHintForColumn(j), header.sectionSizeHint(j)) for j in range(table.columnCount()))
        bar = table.verticalScrollBar()
        return columns + 2 * table.frameWidth() + (bar.sizeHint().width() if bar.isVisible() else 0)

    def show_flow(self, flow: ClusterFlow) -> None:
        self.flow = flow
        k = len(flow.share)
        self.table.setRowCount(k)
        self._fit_table(k)
        still = at_rest(flow.measured) and at_rest(flow.predicted)  # a stationary state: round-off only
        pred, meas = np.linalg.norm(flow.predicted, axis=1), np.linalg.norm(flow.measured, axis=1)
        grad = np.linalg.norm(flow.gradient, axis=1)
        own, others = np.linalg.norm(flow.own, axis=1), np.linalg.norm(flow.others, axis=1)
        for i in range(k):
            values = (
                self.name(i),
                f"{flow.share[i]:.3f}",
                f"{grad[i]:.3g}",
                f"{own[i]:.3g}",
                f"{others[i]:.3g}",
                f"{pred[i]:.3g}",
                f"{meas[i]:.3g}",
                "-" if still else f"{_angle(flow.predicted[i], flow.measured[i]):.1f}",
                f"{flow.spread[i]:.3f}",
            )
            for j, text in enumerate(values):
                self.table.setItem(i, j, QTableWidgetItem(text))
        self.grid.want_width(self.table, self._table_width())
        if still:
            versus = "both at rest (round-off), nothing to compare"
        else:
            err = np.linalg.norm(flow.predicted - flow.measured) / max(np.linalg.norm(flow.measured), 1e-30)
            versus = f"relative error {err:.3f}"
        self.deviation.setText(
            f"Within-cluster deviation of H(theta) from its block means: {flow.deviation:.3f} (relative RMS; "
            f"O(eps) by Theorem 4.5). Cluster-level flow vs network: {versus}."
        )
        self.bars.clear()
        self.bars.setTitle(BARS_TITLE + (": at rest (round-off)" if still else ""), color=FOREGROUND, size="9pt")
        if still:  # round-off drawn as full bars read as motion
            pred, meas = np.zeros(k), np.zeros(k)
        x = np.arange(k)
        faint = [pg.mkBrush(cluster_hex(i) + "80") for i in range(k)]
        solid = [cluster_hex(i) for i in range(k)]
        self.bars.addItem(pg.BarGraphItem(x=x - 0.18, height=pred, width=0.34, brushes=faint, pen=None))
        self.bars.addItem(pg.BarGraphItem(x=x + 0.18, height=meas, width=0.34, brushes=solid, pen=FOREGROUND))
        self.bars.getAxis("bottom").setTicks([[(i, self.name(i)) for i in range(k)]])
        self.bars.setXRange(-0.6, k - 0.4, padding=0)

    def set_data_kind(self, kind: str) -> None:
        """The eps sweep resizes clusters in balls: the button is off for other data, and says why."""
        clusters = kind == "clusters"
        self.sweep_button.setEnabled(clusters and self._thread is None)
        self.sweep_button.setToolTip(
            self.sweep_tip if clusters else f"Only clusters in balls have a radius eps to sweep, not {kind!r} data"
        )

    def sweep(self, preset: Preset) -> None:
        """Start the eps sweep in the background (one at a time; clustered data only)."""
        if self._thread is not None or preset.data.kind != "clusters":
            return
        self.sweep_button.setEnabled(False)
        self.sweep_button.setText("measuring...")
        self._thread = QThread(self)
        self._job = _Sweep(preset)
        self._job.moveToThread(self._thread)
        self._thread.started.connect(self._job.run)
        self._job.done.connect(self.show_sweep)
        self._job.progress.connect(self.sweep_button.setText)
        self._thread.start()

    @Slot(object)
    def show_sweep(self, rows: list[tuple[float, float, float]]) -> None:
        """rows: (eps, deviation of H, mean velocity spread) per radius."""
        table = np.array(rows)
        self.eps_plot.clear()
        for column, (_, label, colour) in enumerate(SWEEP_LINES, start=1):
            pen, brush = pg.mkPen(cluster_hex(colour), width=2), cluster_hex(colour)
            self.eps_plot.plot(table[:, 0], table[:, column], pen=pen, symbol="o", symbolBrush=brush, name=label)
        self.sweep_rows = rows
        self.shutdown()
        self.sweep_button.setEnabled(True)
        self.sweep_button.setText("Measure against eps")

    def shutdown(self) -> None:
        """Stop the eps sweep (after the radius it is measuring) and wait for its thread."""
        if self._thread is not None:
            self._job.stop()
            self._thread.quit()
            self._thread.wait()
            self._thread = None

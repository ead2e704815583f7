"""Cluster-level dynamics panel (Theorem 4.5, Remark 4.4): per cluster, its share n_k / n,
the size of its summed gradient G_k, and the cluster velocity the cluster-level flow
-H_bar G predicts next to the one the network produces; the within-cluster deviation of
H(theta) from its block means; and, on request, that deviation against the cluster radius
eps (a sweep of fresh runs off the GUI thread: by Theorem 4.5 it grows like eps)."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, QThread, Signal, Slot
from PySide6.QtWidgets import QGridLayout, QHeaderView, QLabel, QPushButton, QTableWidget, QTableWidgetItem, QWidget

from gui.colors import BACKGROUND, FOREGROUND, MUTED, cluster_hex
from sim import Preset, Simulation
from sim.cluster_dynamics import ClusterFlow, cluster_flow
from sim.preset import with_changes

SWEEP_EPS = (0.05, 0.1, 0.2, 0.3, 0.4)
COLUMNS = ("cluster", "share n_k/n", "|G_k|", "|v| predicted", "|v| measured", "angle")


class _Sweep(QObject):
    done = Signal(object)

    def __init__(self, preset: Preset):
        super().__init__()
        self.preset = preset

    @Slot()
    def run(self) -> None:
        rows = []
        for eps in SWEEP_EPS:
            radii = {f"data.clusters[{k}].radius": eps for k in range(len(self.preset.data.clusters))}
            p = with_changes(self.preset, {**radii, "device": "cpu"})
            rows.append((eps, cluster_flow(Simulation(p)).deviation))
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
        self.sweep_rows: list[tuple[float, float]] | None = None
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setVisible(False)
        self.table.setToolTip(
            "Per cluster: its share of the samples, the size of its summed loss gradient G_k (Remark 4.4: "
            "proportional to the share), and one NN step's cluster velocity predicted by -H_bar G against the "
            "network's own; 'angle' is the angle between the two."
        )
        self.deviation = QLabel("")
        self.deviation.setWordWrap(True)
        self.deviation.setStyleSheet(f"color: {FOREGROUND};")
        self.bars = pg.PlotWidget(background=BACKGROUND)
        self.bars.setTitle("cluster speed per step: predicted (left) vs measured", color=FOREGROUND, size="9pt")
        self.bars.setLabel("bottom", "cluster", color=MUTED)
        self.bars.setToolTip("Bar heights: |v| predicted by the cluster-level flow and measured from the network")
        self.eps_plot = pg.PlotWidget(background=BACKGROUND)
        self.eps_plot.setTitle("within-cluster deviation of H against eps", color=FOREGROUND, size="9pt")
        self.eps_plot.setLabel("bottom", "cluster radius eps", color=MUTED)
        self.eps_plot.setToolTip("Theorem 4.5: the kernel is constant on clusters up to O(eps)")
        self.sweep_button = QPushButton("Measure against eps")
        self.sweep_button.setToolTip(
            f"Build fresh runs of this preset with every cluster radius set to each of {SWEEP_EPS} and measure "
            "the deviation of H(theta) from its block means (in the background)"
        )
        self.table.verticalHeader().setDefaultSectionSize(20)
        layout = QGridLayout(self)
        layout.addWidget(self.table, 0, 0)
        layout.addWidget(self.deviation, 1, 0)
        layout.addWidget(self.bars, 0, 1, 2, 1)
        layout.addWidget(self.eps_plot, 0, 2)
        layout.addWidget(self.sweep_button, 1, 2)
        layout.setColumnStretch(0, 5)
        layout.setColumnStretch(1, 3)
        layout.setColumnStretch(2, 3)
        self._thread: QThread | None = None

    def show_flow(self, flow: ClusterFlow) -> None:
        self.flow = flow
        k = len(flow.share)
        self.table.setRowCount(k)
        pred, meas = np.linalg.norm(flow.predicted, axis=1), np.linalg.norm(flow.measured, axis=1)
        grad = np.linalg.norm(flow.gradient, axis=1)
        for i in range(k):
            values = (
                str(i + 1),
                f"{flow.share[i]:.3f}",
                f"{grad[i]:.3g}",
                f"{pred[i]:.3g}",
                f"{meas[i]:.3g}",
                f"{_angle(flow.predicted[i], flow.measured[i]):.1f} deg",
            )
            for j, text in enumerate(values):
                self.table.setItem(i, j, QTableWidgetItem(text))
        err = np.linalg.norm(flow.predicted - flow.measured) / max(np.linalg.norm(flow.measured), 1e-30)
        self.deviation.setText(
            f"Within-cluster deviation of H(theta) from its block means: {flow.deviation:.3f} (relative RMS; "
            f"O(eps) by Theorem 4.5). Cluster-level flow vs network: relative error {err:.3f}."
        )
        self.bars.clear()
        x = np.arange(1, k + 1)
        brushes = [cluster_hex(i) for i in range(k)]
        self.bars.addItem(pg.BarGraphItem(x=x - 0.18, height=pred, width=0.34, brushes=brushes))
        self.bars.addItem(pg.BarGraphItem(x=x + 0.18, height=meas, width=0.34, brushes=brushes, pen=FOREGROUND))

    def sweep(self, preset: Preset) -> None:
        """Start the eps sweep in the background (one at a time)."""
        if self._thread is not None or preset.data.kind != "clusters":
            return
        self.sweep_button.setEnabled(False)
        self.sweep_button.setText("measuring...")
        self._thread = QThread(self)
        self._job = _Sweep(preset)
        self._job.moveToThread(self._thread)
        self._thread.started.connect(self._job.run)
        self._job.done.connect(self.show_sweep)
        self._thread.start()

    @Slot(object)
    def show_sweep(self, rows: list[tuple[float, float]]) -> None:
        eps, dev = np.array(rows).T
        self.eps_plot.clear()
        self.eps_plot.plot(eps, dev, pen=pg.mkPen(cluster_hex(0), width=2), symbol="o", symbolBrush=cluster_hex(0))
        self.sweep_rows = rows
        self.shutdown()
        self.sweep_button.setEnabled(True)
        self.sweep_button.setText("Measure against eps")

    def shutdown(self) -> None:
        if self._thread is not None:
            self._thread.quit()
            self._thread.wait()
            self._thread = None

"""Theory panel (paper section 3, Figure 3) and the `theory` command.

Three pyqtgraph plots of data-blind symmetric embeddings: the loss of K points evenly spaced
on S^1 against K, the same loss against the minimum squared distance between points, and
the threshold of that distance against tau with its linear fit and R^2; below them, the
Theorem 3.2 check (the largest tangential gradient at those configurations and at the
Platonic sets on S^2). The tables come from sim.theory, computed off the GUI thread.
`write_png` draws the panel offscreen for `python main.py theory` (cli/theory.py).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, QThread, Signal, Slot
from PySide6.QtWidgets import QGridLayout, QLabel, QWidget

from gui.colors import BACKGROUND, FOREGROUND, MUTED, cluster_hex
from sim.theory import figure3_tables

Tables = dict[str, list[dict[str, float | str]]]


class _Compute(QObject):
    done = Signal(object)

    @Slot()
    def run(self) -> None:
        self.done.emit(figure3_tables())


def _plot(title: str, x_label: str, y_label: str) -> pg.PlotWidget:
    plot = pg.PlotWidget(background=BACKGROUND)
    plot.setTitle(title, color=FOREGROUND, size="10pt")
    plot.setLabel("bottom", x_label, color=MUTED)
    plot.setLabel("left", y_label, color=MUTED)
    plot.showGrid(x=True, y=True, alpha=0.15)
    for axis in ("bottom", "left"):
        plot.getAxis(axis).enableAutoSIPrefix(False)
    plot.addLegend(offset=(-10, 10), labelTextColor=FOREGROUND, labelTextSize="8pt")
    return plot


class TheoryPanel(QWidget):
    """The Figure 3 plots; `compute()` fills them in the background, `show_tables` directly."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.tables: Tables | None = None
        self.loss_k = _plot("loss of K evenly spaced points on S^1", "K", "loss")
        self.loss_d2 = _plot("loss against the minimum squared distance", "min |z_i - z_j|^2", "loss")
        self.threshold = _plot("threshold of the minimum squared distance", "tau", "threshold d^2")
        self.check = QLabel("computing...")
        self.check.setWordWrap(True)
        self.check.setStyleSheet(f"color: {FOREGROUND};")
        self.check.setToolTip(
            "Theorem 3.2: evenly spaced points on the circle and the Platonic solids on the sphere are "
            "stationary for the loss of an invariant map; their tangential gradient is zero to round-off."
        )
        for plot, tip in (
            (self.loss_k, "The loss falls as K grows and levels off at the uniform law's value"),
            (self.loss_d2, "The loss plateaus once the points are closer than a tau-dependent threshold"),
            (self.threshold, "Where the plateau starts, against tau, with a least-squares line"),
        ):
            plot.setToolTip(tip)
        layout = QGridLayout(self)
        layout.addWidget(self.loss_k, 0, 0)
        layout.addWidget(self.loss_d2, 0, 1)
        layout.addWidget(self.threshold, 0, 2)
        layout.addWidget(self.check, 1, 0, 1, 3)
        self._thread: QThread | None = None

    def compute(self) -> None:
        """Compute the tables in a background thread (once); the panel fills when done."""
        if self._thread is not None or self.tables is not None:
            return
        self._thread = QThread(self)
        self._job = _Compute()
        self._job.moveToThread(self._thread)
        self._thread.started.connect(self._job.run)
        self._job.done.connect(self.show_tables)
        self._job.done.connect(self._thread.quit)
        self._thread.start()

    def shutdown(self) -> None:
        if self._thread is not None:
            self._thread.quit()
            self._thread.wait()

    @Slot(object)
    def show_tables(self, tables: Tables) -> None:
        self.tables = tables
        rows = tables["loss_vs_k"]
        for i, tau in enumerate(sorted({r["tau"] for r in rows})):
            mine = [r for r in rows if r["tau"] == tau]
            pen = pg.mkPen(cluster_hex(i), width=2)
            k = np.array([r["K"] for r in mine], dtype=float)
            loss = np.array([r["loss"] for r in mine])
            d2 = np.array([r["min_sq_distance"] for r in mine])
            self.loss_k.plot(k, loss, pen=pen, symbol="o", symbolSize=4, symbolBrush=cluster_hex(i), name=f"tau {tau}")
            self.loss_d2.plot(
                d2, loss, pen=pen, symbol="o", symbolSize=4, symbolBrush=cluster_hex(i), name=f"tau {tau}"
            )
        found = tables["threshold_vs_tau"]
        fit = tables["threshold_fit"][0]
        tau = np.array([r["tau"] for r in found])
        self.threshold.plot(
            tau, [r["threshold_d2"] for r in found], pen=None, symbol="o", symbolBrush=cluster_hex(0), name="threshold"
        )
        self.threshold.plot(
            tau,
            [r["fit_d2"] for r in found],
            pen=pg.mkPen(cluster_hex(1), width=2),
            name=f"{fit['slope']:.3f} tau + {fit['intercept']:.3f}, R^2 = {fit['r2']:.4f}",
        )
        circle = max(r["tangential_gradient_max"] for r in rows)
        sets = tables["sphere_sets"]
        sphere = max(r["tangential_gradient_max"] for r in sets)
        names = ", ".join(sorted({str(r["set"]) for r in sets}))
        self.check.setText(
            f"Theorem 3.2: largest tangential gradient at K = 2..{int(max(r['K'] for r in rows))} evenly spaced "
            f"points on S^1: {circle:.1e}; at the sets on S^2 ({names}): {sphere:.1e} (zero to round-off). "
            f"Threshold fit: d^2 = {fit['slope']:.3f} tau + {fit['intercept']:.3f}, R^2 = {fit['r2']:.4f}."
        )


def write_png(tables: Tables, path: Path, width: int, height: int) -> None:
    """Draw the panel, never shown, at width x height pixels into a PNG written atomically
    (OSError if it cannot be). Uses the running QApplication or makes one on the platform
    Qt is given (the `theory` command gives the offscreen one, so no display is needed)."""
    from PySide6.QtWidgets import QApplication

    from gui.colors import apply_dark_theme
    from sim.files import atomic_path

    app = QApplication.instance() or QApplication(["theory"])
    apply_dark_theme(app)
    panel = TheoryPanel()
    panel.resize(width, height)
    panel.show_tables(tables)
    panel.layout().activate()
    image = panel.grab()
    panel.deleteLater()
    with atomic_path(path) as tmp:
        if not image.save(str(tmp), "PNG"):
            raise OSError(f"could not encode {path.name}")

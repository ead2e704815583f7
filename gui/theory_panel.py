"""Theory panel (paper section 3, Figure 3) and the `theory` command.

Three pyqtgraph plots of data-blind symmetric embeddings: the loss of K points evenly spaced
on S^1 against K, the same loss against the minimum squared distance between points, and
the threshold of that distance against tau with its linear fit and R^2; below them, the
Theorem 3.2 check (the largest tangential gradient at those configurations and at the
Platonic sets on S^2). The tables come from sim.theory, computed off the GUI thread. The
plots sit in a gui/plot_grid.py grid (readable cells, scrolling below them), each legend in
the corner of its plot that the curves leave free, or beside the plot when none is. `write_png` draws the panel offscreen for
`python main.py theory` (cli/theory.py).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot, qInstallMessageHandler
from PySide6.QtWidgets import QGraphicsWidget, QLabel, QVBoxLayout, QWidget

from gui.colors import BACKGROUND, FOREGROUND, MUTED, cluster_hex
from gui.plot_grid import MIN_CELL, PlotGrid, shrinkable_title
from sim.theory import figure3_tables

Tables = dict[str, list[dict[str, float | str]]]
LEGEND_OFFSET = 8


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
    plot.getPlotItem().hideButtons()
    shrinkable_title(plot)
    plot.addLegend(offset=(-LEGEND_OFFSET, LEGEND_OFFSET), labelTextColor=FOREGROUND, labelTextSize="8pt")
    beside = QGraphicsWidget()  # a column right of the view, as wide as the legend when it sits there
    beside.setMaximumWidth(0)
    layout, title = plot.getPlotItem().layout, plot.getPlotItem().titleLabel
    layout.addItem(beside, 2, 3)
    layout.removeItem(title)  # the title spans the view and that column (its text sets its minimum width)
    layout.addItem(title, 0, 1, 1, 3)
    plot.legend_column = beside
    return plot


def curve_points(plot: pg.PlotWidget, per_segment: int = 16) -> np.ndarray:
    """(n, 2) points along every data item of the plot: its points and, for items drawn with
    lines, `per_segment` points on each segment between two."""
    found = []
    for item in plot.getPlotItem().listDataItems():
        x, y = (np.asarray(a, dtype=float) for a in item.getData())
        if x.size == 0:
            continue
        if item.opts["pen"] is not None and x.size > 1:
            t = np.linspace(0, x.size - 1, (x.size - 1) * per_segment + 1)
            x, y = np.interp(t, np.arange(x.size), x), np.interp(t, np.arange(y.size), y)
        found.append(np.stack([x, y], axis=1))
    return np.concatenate(found) if found else np.zeros((0, 2))


def legend_spot(
    points: np.ndarray, share: tuple[float, float], bounds: np.ndarray | None = None
) -> tuple[tuple[float, float], int]:
    """Where a legend covering `share` (width, height) of the view covers the fewest of the
    (n, 2) points, the view showing `bounds` ((x0, x1), (y0, y1); default: the points'
    extent): an anchor (ax, ay) with ax 0 at the left, 1 at the right, ay 0 at the top,
    1 at the bottom and in between; among equally free places the top right comes first, then
    the top left, the bottom right, the bottom left, then places down the right and left.
    Returns the anchor and the number of points the legend covers there."""
    fw, fh = (min(1.0, f) for f in share)
    order = [(1.0, 0.0), (0.0, 0.0), (1.0, 1.0), (0.0, 1.0)]
    order += [(ax, float(ay)) for ay in np.linspace(0.1, 0.9, 9) for ax in (1.0, 0.0)]
    if not len(points):
        return order[0], 0
    lo, hi = (points.min(0), points.max(0)) if bounds is None else (bounds[:, 0], bounds[:, 1])
    u = (points - lo) / np.where(hi > lo, hi - lo, 1.0)
    across, down = u[:, 0], 1 - u[:, 1]

    def covered(spot: tuple[float, float]) -> int:
        left, top = spot[0] * (1 - fw), spot[1] * (1 - fh)
        inside = (across >= left) & (across <= left + fw) & (down >= top) & (down <= top + fh)
        return int(np.count_nonzero(inside))

    spot = min(order, key=covered)
    return spot, covered(spot)


def place_legend(plot: pg.PlotWidget) -> None:
    """Move the plot's legend where its curves leave the most room inside the view
    (legend_spot), sized by the legend and view as laid out now (a guess before the first
    layout); where every place inside covers some curve, into a column right of the view."""
    item = plot.getPlotItem()
    legend, view, beside = item.legend, item.getViewBox(), plot.legend_column
    view.prepareForPaint()  # the range auto-ranging gives the curves, brought up to date
    room, points, bounds = view.boundingRect(), curve_points(plot), np.array(view.viewRange())
    width = room.width() + beside.maximumWidth()  # the view's width with the legend inside
    best = None
    for columns in sorted({1, 2, max(1, len(legend.items))}):  # taller or wider, whichever fits free
        legend.setColumnCount(columns)
        legend.layout.activate()
        size = legend.layout.geometry()
        if width > 1 and room.height() > 1:
            share = (size.width() / width + 0.05, size.height() / room.height() + 0.06)
        else:
            share = (0.5, 0.35)
        spot, covered = legend_spot(points, share, bounds)
        if best is None or covered < best[0]:
            best = (covered, columns, spot)
    covered, columns, (ax, ay) = best
    if covered and width > 1:
        legend.setColumnCount(1)
        legend.layout.activate()
        _set_column(beside, legend.layout.effectiveSizeHint(Qt.SizeHint.PreferredSize).width() + LEGEND_OFFSET)
        legend.setParentItem(beside)
        legend.anchor(itemPos=(0, 0), parentPos=(0, 0), offset=(LEGEND_OFFSET // 2, 0))
        return
    _set_column(beside, 0)
    legend.setParentItem(view)
    legend.setColumnCount(columns)
    offset = (LEGEND_OFFSET * (1 - 2 * ax), LEGEND_OFFSET * (1 - 2 * ay))
    legend.anchor(itemPos=(ax, ay), parentPos=(ax, ay), offset=offset)


def _set_column(column: QGraphicsWidget, width: float) -> None:
    if column.maximumWidth() != width:
        column.setMinimumWidth(width)
        column.setMaximumWidth(width)


POPULATION_LOSS = "L(rho) = mean_i log mean_j exp((z_i . z_j - 1) / tau), the population loss of an invariant map (its constant attraction term left out, so below 0)"


class TheoryPanel(QWidget):
    """The Figure 3 plots; `compute()` fills them in the background, `show_tables` directly."""

    def __init__(self, parent: QWidget | None = None, min_cell: tuple[int, int] = MIN_CELL):
        super().__init__(parent)
        self.tables: Tables | None = None
        # the population loss of an invariant map (sim/theory.py): the attraction term is constant
        # and left out, so it is negative; the run's NT-Xent (5-6 for fig5-2d) includes it
        self.loss_k = _plot("population loss of K even points on S^1", "K", "L(rho)")
        self.loss_d2 = _plot("population loss vs min squared distance", "min |z_i - z_j|^2", "L(rho)")
        self.threshold = _plot("threshold of min squared distance", "tau", "threshold d^2")
        self.check = QLabel("computing...")
        self.check.setWordWrap(True)
        self.check.setStyleSheet(f"color: {FOREGROUND};")
        self.check.setIndent(8)  # off the panel's edge, as the plots' axes are
        self.check.setToolTip(
            "Theorem 3.2: evenly spaced points on the circle and the Platonic solids on the sphere are "
            "stationary for the loss of an invariant map; their tangential gradient is zero to round-off."
        )
        for plot, tip in (
            (
                self.loss_k,
                "Loss of K evenly spaced points on S^1: it falls as K grows and levels off at the uniform law's value. "
                + POPULATION_LOSS,
            ),
            (
                self.loss_d2,
                "Loss against the minimum squared distance between the points: it plateaus once they are closer than a "
                "tau-dependent threshold. " + POPULATION_LOSS,
            ),
            (
                self.threshold,
                "The threshold of the minimum squared distance where the plateau starts, against tau, with a least-squares line",
            ),
        ):
            plot.setToolTip(tip)
        for plot in (self.loss_k, self.loss_d2, self.threshold):
            plot.getPlotItem().getViewBox().sigResized.connect(lambda _, plot=plot: place_legend(plot))
        self.grid = PlotGrid([self.loss_k, self.loss_d2, self.threshold], footer=self.check, min_cell=min_cell)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.grid)
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
            name="linear fit",
        )
        for plot in (self.loss_k, self.loss_d2, self.threshold):
            place_legend(plot)
        circle = max(r["tangential_gradient_max"] for r in rows)
        sets = tables["sphere_sets"]
        sphere = max(r["tangential_gradient_max"] for r in sets)
        names = ", ".join(sorted({str(r["set"]) for r in sets}))
        self.check.setText(
            f"Theorem 3.2: largest tangential gradient at K = 2..{int(max(r['K'] for r in rows))} evenly spaced "
            f"points on S^1: {circle:.1e}; at the sets on S^2 ({names}): {sphere:.1e} (zero to round-off). "
            f"Threshold fit: d^2 = {fit['slope']:.3f} tau + {fit['intercept']:.3f}, R^2 = {fit['r2']:.4f}."
        )


def offscreen_panel(tables: Tables, width: int, height: int) -> TheoryPanel:
    """The panel at width x height pixels with `tables` drawn, shown nowhere on a screen but laid
    out as a shown one (never shown, its plots kept pyqtgraph's default 640 x 480 views while
    the legends were placed, and a legend moved beside a small view was not drawn). Needs a
    QApplication."""
    from PySide6.QtWidgets import QApplication

    panel = TheoryPanel(min_cell=(0, 0))
    panel.resize(width, height)
    panel.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen)
    panel.show()
    QApplication.processEvents()
    panel.show_tables(tables)
    for _ in range(3):  # a legend moved into a column beside its view: the layouts that follow
        QApplication.processEvents()
    return panel


def write_png(tables: Tables, path: Path, width: int, height: int) -> None:
    """Draw the panel, never shown, at width x height pixels into a PNG written atomically
    (OSError if it cannot be). Uses the running QApplication or makes one on the platform
    Qt is given (the `theory` command gives the offscreen one, so no display is needed)."""
    from PySide6.QtWidgets import QApplication

    from gui.colors import apply_dark_theme
    from sim.files import atomic_path

    app = QApplication.instance() or QApplication(["theory"])
    apply_dark_theme(app)
    previous = None

    def quiet(kind, context, message: str) -> None:
        """Qt's messages, less the offscreen platform's note that it cannot propagate size
        hints, which showing the panel prints there (stderr holds the command's own lines)."""
        if "propagateSizeHints" in message:
            return
        if previous is not None:
            previous(kind, context, message)
        else:
            print(message, file=sys.stderr)

    previous = qInstallMessageHandler(quiet)
    try:
        panel = offscreen_panel(tables, width, height)
        image = panel.grab()
        panel.deleteLater()
    finally:
        qInstallMessageHandler(previous)
    with atomic_path(path) as tmp:
        if not image.save(str(tmp), "PNG"):
            raise OSError(f"could not encode {path.name}")

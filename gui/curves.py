"""Metric curves: loss, alignment, uniformity, silhouette, the per-cluster resultant
lengths R_k (within-cluster spread) and each cluster's angle to its nearest other cluster
(between-cluster separation) against the step or the flow time t (paper eq 10-15: t is the sum of the step
sizes, the same unit for every kernel), in pyqtgraph plots sharing one x axis and laid out by
gui/plot_grid.py (readable cells, scrolling below a minimum height). The main run is drawn
solid, the side-by-side twin dashed, and a key above the plots says which kernel each runs
and offers the x axis; kernel switches and data edits are vertical lines labelled on the x
axis. A run with one recorded step shows it as a dot on an axis of STEP_SPAN steps."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QSignalBlocker, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from gui.colors import BACKGROUND, FOREGROUND, MUTED, cluster_hex
from gui.plot_grid import MIN_CELL, PlotGrid, shrinkable_title
from sim import Frame
from sim.driver import KERNEL_NAMES, twin_origin

PLOTS = (
    ("loss", "loss", "loss", "NT-Xent loss on the views of the next step"),
    ("alignment", "alignment", "|z - z+|^2", "mean |z - z+|^2 between views of one sample (0 = invariant)"),
    ("uniformity", "uniformity", "log E exp", "log mean exp(-2|z_i - z_j|^2) (lower = more uniform)"),
    ("silhouette", "silhouette", "silhouette", "silhouette of the embeddings under the true labels (1 = separated)"),
    ("R", "R_k", "|mean z|", "per-cluster mean resultant length |mean z| (1 = the cluster collapsed to a point)"),
    (
        "separation",
        "separation",
        "degrees",
        "per cluster, the angle to the nearest other cluster's mean (0 = merged; 360/K: evenly spaced on the circle)",
    ),
)
PER_CLUSTER = ("R", "separation")  # plots with a line per cluster, in its colour
MAX_POINTS = 20000
STEP_SPAN = 10
RUN_COLORS = ("#e6e6e6", "#8fb8ff")
RUN_STYLES = (Qt.PenStyle.SolidLine, Qt.PenStyle.DashLine)
TICK_POINTS = 8
X_AXES = {"step": "step", "flow_time": "flow time t"}  # Curves.x_axis -> the axis label
LABEL_ROWS = 3  # event labels on the loss plot take these rows from the top in turn
LABEL_SHARE = 0.5  # of the loss plot's height, at most, for those rows (the curve keeps the rest)
MIN_TICK_PIXELS = (40, 16)  # px between labelled ticks: on the x axis, on the y axis
COMPACT_WIDTH, COMPACT_HEIGHT = 170, 100  # px: a plot narrower or lower than this drops its axis titles


def _font(points: int) -> QFont:
    font = QFont()
    font.setPointSize(points)
    return font


def flat(values: np.ndarray) -> bool:
    """Whether the finite values are all equal up to round-off (relative 1e-9): an auto range
    then zooms into the round-off, with tick labels of 17 digits that squeezed the plot to a
    sliver (uniform-start's stationary run)."""
    finite = values[np.isfinite(values)]
    if not finite.size:
        return False
    lo, hi = float(finite.min()), float(finite.max())
    return hi - lo < 1e-9 * max(1.0, abs(hi))


def value_range(values: np.ndarray) -> tuple[float, float]:
    """A y range showing every finite value, padded when they are (nearly) all equal so a
    single value sits in the middle of a readable range; (0, 1) when none is finite."""
    finite = values[np.isfinite(values)]
    if not finite.size:
        return 0.0, 1.0
    lo, hi = float(finite.min()), float(finite.max())
    pad = max(0.05 * max(abs(lo), abs(hi)), 0.01)
    if flat(finite):
        return lo - pad, hi + pad
    return lo, hi


class SparseAxis(pg.AxisItem):
    """An axis whose ticks are at least MIN_TICK_PIXELS (its orientation's) apart: pyqtgraph
    keeps at least 2.25 intervals on any axis, which at small sizes (a 640 x 360 export)
    writes the labels over each other ("100200300"), and labels every 2..9 x 10^k on a log
    axis. While `compact`, its title stays hidden
    (setLabel shows it otherwise)."""

    compact = False

    def showLabel(self, show: bool = True) -> None:
        super().showLabel(show and not self.compact)

    def set_compact(self, compact: bool) -> None:
        self.compact = compact
        self.showLabel(bool(self.labelText or self.labelUnits))

    def tickValues(self, minVal: float, maxVal: float, size: float) -> list:
        """On a log axis, pyqtgraph labels every 2..9 x 10^k between the decades: in a small
        plot (the eigenvalues' strip) they overlapped in a smear. Kept there: the decades,
        then the others at least MIN_TICK_PIXELS from every tick kept before them."""
        levels = super().tickValues(minVal, maxVal, size)
        if not self.logMode or maxVal <= minVal or size <= 0:
            return levels
        per_unit, least = size / (maxVal - minVal), MIN_TICK_PIXELS[self.orientation in ("left", "right")]
        kept: list[float] = []
        thinned = []
        for spacing, values in levels:
            chosen = []
            for v in values:
                if all(abs(v - k) * per_unit >= least for k in kept):
                    chosen.append(v)
                    kept.append(v)
            thinned.append((spacing, chosen))
        return thinned

    def tickSpacing(self, minVal: float, maxVal: float, size: float) -> list[tuple[float, float]]:
        levels = super().tickSpacing(minVal, maxVal, size)
        span, least = abs(maxVal - minVal), MIN_TICK_PIXELS[self.orientation in ("left", "right")]
        if not levels or span == 0 or size <= 0:
            return levels
        kept = [level for level in levels if level[0] / span * size >= least]
        if kept:
            return kept
        spacing = levels[0][0]
        while spacing / span * size < least:
            spacing *= 2
        return [(spacing, 0.0)]


class CurvePlot(pg.PlotWidget):
    """One metric's plot; narrower than COMPACT_WIDTH or lower than COMPACT_HEIGHT it drops its
    axis titles (the plot's title names the metric) so that the curve keeps the room."""

    def __init__(self) -> None:
        super().__init__(background=BACKGROUND, axisItems={side: SparseAxis(side) for side in ("bottom", "left")})

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        compact, plot = self.width() < COMPACT_WIDTH or self.height() < COMPACT_HEIGHT, self.getPlotItem()
        if plot is None:  # the base class resizes before it has its plot
            return
        for side in ("left", "bottom"):
            axis = plot.getAxis(side)
            if axis.compact != compact:
                axis.set_compact(compact)


class LineSample(QWidget):
    """A short line in a run's colour and dash style, for the key above the plots."""

    def __init__(self, run: int, parent: QWidget | None = None):
        super().__init__(parent)
        self.run = run
        self.setFixedSize(30, 12)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setPen(QPen(QColor(RUN_COLORS[self.run]), 2, RUN_STYLES[self.run]))
        painter.drawLine(QPointF(1, 6), QPointF(29, 6))
        painter.end()


class Series:
    """A growable (step, flow time, values) record; a step at or before the last recorded
    one (a replay after an undo) drops the records from there on."""

    def __init__(self, width: int = 1):
        self.steps = np.empty(0, dtype=np.int64)
        self.times = np.empty(0, dtype=np.float64)
        self.values = np.empty((0, width), dtype=np.float64)
        self.size = 0

    def append(self, step: int, values: np.ndarray, flow_time: float = np.nan) -> None:
        """Record `values` at `step`; more values than before add columns (nan before), fewer
        start the record over."""
        values = np.atleast_1d(np.asarray(values, dtype=np.float64))
        if values.shape[0] > self.values.shape[1]:
            grown = np.full((len(self.steps), values.shape[0]), np.nan)
            grown[:, : self.values.shape[1]] = self.values
            self.values = grown
        elif values.shape[0] < self.values.shape[1]:
            self.values = np.full((len(self.steps), values.shape[0]), np.nan)
        if self.size == len(self.steps):
            grow = max(256, self.size)
            self.steps = np.concatenate([self.steps, np.zeros(grow, np.int64)])
            self.times = np.concatenate([self.times, np.full(grow, np.nan)])
            self.values = np.concatenate([self.values, np.full((grow, self.values.shape[1]), np.nan)])
        if self.size and step <= self.steps[self.size - 1]:
            self.size = int(np.searchsorted(self.steps[: self.size], step))
        self.steps[self.size] = step
        self.times[self.size] = flow_time
        self.values[self.size] = values
        self.size += 1
        if self.size > MAX_POINTS:
            keep = np.arange(0, self.size, 2)
            self.size = len(keep)
            self.steps[: self.size] = self.steps[keep]
            self.times[: self.size] = self.times[keep]
            self.values[: self.size] = self.values[keep]

    def view(self, x_axis: str = "step") -> tuple[np.ndarray, np.ndarray]:
        """(x, values): x the recorded steps, or their flow times for x_axis "flow_time"."""
        x = self.steps if x_axis == "step" else self.times
        return x[: self.size], self.values[: self.size]

    def flow_time_at(self, step: int) -> float:
        """The flow time at `step`, interpolated between the recorded steps (held at the ends)."""
        if not self.size:
            return 0.0
        return float(np.interp(step, self.steps[: self.size], self.times[: self.size]))


class Curves(QWidget):
    """The metric plots. `add(frames)` records one snapshot, `mark(step, text)` an event.
    `min_cell` is the least (width, height) of a plot; (0, 0) to fit any size (exports)."""

    def __init__(self, parent: QWidget | None = None, min_cell: tuple[int, int] = MIN_CELL):
        super().__init__(parent)
        self.plots: dict[str, pg.PlotItem] = {}
        widgets = []
        first = None
        for key, title, y_label, tip in PLOTS:
            widget = CurvePlot()
            plot = widget.getPlotItem()
            plot.setTitle(title, color=FOREGROUND, size="9pt")
            shrinkable_title(widget)
            plot.setToolTip(tip)
            plot.showGrid(x=True, y=True, alpha=0.15)
            plot.setDownsampling(auto=True, mode="peak")
            plot.hideButtons()
            for side, text in (("left", y_label), ("bottom", X_AXES["step"])):
                axis = plot.getAxis(side)
                axis.setStyle(tickFont=_font(TICK_POINTS), tickLength=-4)
                axis.setTextPen(MUTED)
                axis.setLabel(text, color=MUTED, **{"font-size": f"{TICK_POINTS}pt"})
                axis.enableAutoSIPrefix(False)
            if first is None:
                first = plot
            else:
                plot.setXLink(first)
            self.plots[key] = plot
            widgets.append(widget)
        self.key_labels: list[QLabel] = []
        self.key_samples: list[LineSample] = []
        key = QWidget()
        row = QHBoxLayout(key)
        row.setContentsMargins(6, 0, 6, 0)
        row.setSpacing(6)
        for run in range(2):
            sample, label = LineSample(run), QLabel()
            label.setStyleSheet(f"color: {FOREGROUND};")
            row.addWidget(sample)
            row.addWidget(label)
            row.addSpacing(16)
            self.key_samples.append(sample)
            self.key_labels.append(label)
        note = QLabel("R_k, separation: one line per cluster, in its colour")
        note.setStyleSheet(f"color: {MUTED};")
        self.x_choice = QComboBox()
        for name, label in X_AXES.items():
            self.x_choice.addItem(f"x: {label}", name)
        self.x_choice.setToolTip(
            "The curves' x axis: the step count, or the flow time t (the sum of the step sizes: runs of "
            "different kernels, or with the step rule's cut steps, compare at equal t)"
        )
        self.x_choice.currentIndexChanged.connect(lambda _: self.set_x_axis(self.x_choice.currentData()))
        row.addStretch(1)
        row.addWidget(note)
        row.addWidget(self.x_choice)
        self.grid = PlotGrid(widgets, header=key, min_cell=min_cell)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.grid)
        self.series: dict[tuple[int, str], Series] = {}
        self.lines: dict[tuple[int, str], list[pg.PlotDataItem]] = {}
        self.events: list[tuple[int, str]] = []
        self.kernels: dict[int, str] = {}
        self.origins: dict[int, str] = {}
        self.columns: dict[int, dict[int, int]] = {}  # run -> cluster id -> column of the per-cluster series
        self.places: dict[int, dict[int, int]] = {}  # run -> column -> the cluster's last place (its colour)
        self.step_range: tuple[int, int] | None = None
        self.x_axis = "step"
        self._markers: list[tuple[pg.PlotItem, pg.InfiniteLine, int]] = []
        self._label_rows = 0  # rows of event labels shown on the loss plot (_place_labels)
        self.plots["loss"].getViewBox().sigXRangeChanged.connect(self._place_labels)
        self.plots["loss"].getViewBox().sigResized.connect(self._place_labels)
        self._show_key()

    def clear(self) -> None:
        for (_, key), items in self.lines.items():
            for item in items:
                self.plots[key].removeItem(item)
        for plot, line, _ in self._markers:
            plot.removeItem(line)
        self.series.clear()
        self.lines.clear()
        self.events.clear()
        self.kernels.clear()
        self.origins.clear()
        self.columns.clear()
        self.places.clear()
        self._markers.clear()
        self._show_key()

    def set_step_range(self, first: int, last: int) -> None:
        """Fix the step axis to first..last (an export knows its steps ahead; the flow time
        axis, not known ahead, follows the run)."""
        self.step_range = (first, max(last, first + 1))

    def set_x_axis(self, x_axis: str) -> None:
        """Draw against "step" or "flow_time" (keys of X_AXES); ValueError for anything else."""
        if x_axis not in X_AXES:
            raise ValueError(f"x axis: expected one of {', '.join(X_AXES)}, got {x_axis!r}")
        self.x_axis = x_axis
        with QSignalBlocker(self.x_choice):
            self.x_choice.setCurrentIndex(list(X_AXES).index(x_axis))
        for plot in self.plots.values():
            plot.getAxis("bottom").setLabel(X_AXES[x_axis], color=MUTED, **{"font-size": f"{TICK_POINTS}pt"})
        self.redraw()

    def add(self, frames: tuple[Frame, ...]) -> None:
        """Record the frames' measures (the run, then its twin); a cluster's lines follow it by
        its id through edits (an added cluster gets a line of its own, a removed one's line
        ends, and the others keep their history), in the colour of its place now."""
        for run, frame in enumerate(frames):
            clusters = {key: self._by_cluster(run, frame, values) for key, values in (
                ("R", frame.cluster_metrics["R"]), ("separation", frame.cluster_metrics["neighbour_angle"]))}  # fmt: skip
            values = {"loss": frame.loss, **frame.metrics, **clusters}
            for key in self.plots:
                width = len(values[key]) if key in PER_CLUSTER else 1
                series = self.series.setdefault((run, key), Series(width))
                series.append(frame.step, values[key], frame.flow_time)
            self.kernels[run] = frame.kernel
            self.origins[run] = twin_origin(frame)
        self._show_key()

    def _by_cluster(self, run: int, frame: Frame, values: np.ndarray) -> np.ndarray:
        """`values` (K,) placed in the run's columns by cluster id (a new id takes the next
        column), nan where a cluster of an earlier frame is gone; the colour of each column is
        its cluster's place in this frame."""
        ids = frame.cluster_ids if frame.cluster_ids is not None else np.arange(len(values))
        columns = self.columns.setdefault(run, {})
        for cid in ids:
            columns.setdefault(int(cid), len(columns))
        row = np.full(len(columns), np.nan)
        places = self.places.setdefault(run, {})
        for k, cid in enumerate(ids):
            row[columns[int(cid)]] = values[k]
            places[columns[int(cid)]] = k
        return row

    def _show_key(self) -> None:
        """Which kernel the solid and the dashed lines run (the dashed only with a twin); a run
        that switched kernels is named by its kernel now, the switches being marked (its whole
        line was named after the kernel it switched to)."""
        switched = any(text.startswith("kernel: ") for _, text in self.events)
        for run, (sample, label) in enumerate(zip(self.key_samples, self.key_labels, strict=True)):
            kernel = self.kernels.get(run, "nn" if run == 0 else None)
            shown = kernel is not None
            sample.setVisible(shown)
            label.setVisible(shown)
            if shown and run == 0 and switched:
                label.setText(f"solid: this run, {KERNEL_NAMES[kernel]} kernel since the last switch (marked)")
            elif shown:
                what = "this run" if run == 0 else f"side by side, {self.origins.get(run, 'same start')}"
                label.setText(f"{'solid' if run == 0 else 'dashed'}: {KERNEL_NAMES[kernel]} kernel ({what})")

    def mark(self, step: int, text: str) -> None:
        """A vertical line at `step` (or its flow time) on every plot, labelled on the loss plot
        at its top, right of the line, inside the plot (a kernel switch: the kernel's name, the
        line's colour saying what it is)."""
        self.events.append((step, text))
        kernel = text.startswith("kernel: ")
        color = "#f0c05a" if kernel else "#9aa4ff"
        for key, plot in self.plots.items():
            line = pg.InfiniteLine(
                pos=step,
                angle=90,
                pen=pg.mkPen(color, width=1, style=Qt.PenStyle.DashLine),
                label=(text.removeprefix("kernel: ") if kernel else text) if key == "loss" else None,
                labelOpts={"position": 1.0, "color": color, "anchors": [(0, 0), (0, 0)], "fill": (0, 0, 0, 150)},
            )
            line.names_what_follows = kernel  # a kernel's name: its label goes right of the line only
            plot.addItem(line)
            self._markers.append((plot, line, step))
        self._place_labels()

    def _place_labels(self) -> None:
        """The events' labels on the loss plot, newest first, each in the first of LABEL_ROWS
        rows from the top (as many as fit in half the plot, at least one) where it overlaps no
        label placed before, on the side of its line with more room and whole inside the plot
        (else on the other side); a kernel switch's label only right of its line, over the
        stretch its kernel ran (on the left it read as the kernel before). A label with no such
        place is hidden (its line stays, the newer labels keep theirs; a switch's label shows
        once the run has gone on past it). The rows used are kept for _label_band."""
        view = self.plots["loss"].getViewBox()
        (x0, x1), _ = view.viewRange()
        width = max(view.width(), 1.0)
        labels = [line.label for _, line, _ in self._markers if getattr(line, "label", None) is not None]
        row_height = labels[0].boundingRect().height() if labels else 1.0
        rows = max(1, min(LABEL_ROWS, int(LABEL_SHARE * view.height() // max(row_height, 1.0))))
        taken: list[list[tuple[float, float]]] = [[] for _ in range(rows)]
        self._label_rows = 0
        for label in reversed(labels):
            at = (label.line.value() - x0) / max(x1 - x0, 1e-12) * width
            size = label.boundingRect().width()
            sides = [((at, at + size), (0, 0)), ((at - size, at), (1, 0))]
            if label.line.names_what_follows:
                del sides[1:]
            elif at > width / 2:
                sides.reverse()
            spots = [
                (row, span, anchor)
                for row in range(rows)
                for span, anchor in sides
                if 0 <= span[0] and span[1] <= width and all(span[1] <= a or span[0] >= b for a, b in taken[row])
            ]
            label.setVisible(bool(spots) and 0 <= at <= width)
            if not label.isVisible():
                continue
            row, span, anchor = spots[0]
            taken[row].append(span)
            self._label_rows = max(self._label_rows, row + 1)
            label.anchors = [anchor, anchor]
            label.setPosition(max(1.0 - row * label.boundingRect().height() / max(view.height(), 1.0), 0.0))

    def redraw(self) -> None:
        """Push the recorded series to the plot items (one setData per line) against the
        chosen x axis, a dot on a series of one step, the event lines at their steps' x, and
        the axes' ranges where pyqtgraph's own would be degenerate."""
        for (run, key), series in self.series.items():
            steps, values = series.view(self.x_axis)
            items = self.lines.get((run, key), [])
            width = values.shape[1]
            while len(items) < width:
                items.append(self.plots[key].plot(symbolPen=None, symbolSize=6))
            while len(items) > width:
                self.plots[key].removeItem(items.pop())
            self.lines[(run, key)] = items
            for j, item in enumerate(items):
                place = self.places.get(run, {}).get(j, j)
                color = cluster_hex(place) if key in PER_CLUSTER else RUN_COLORS[min(run, 1)]
                if getattr(item, "colour", None) != color:  # set once, and again when its cluster's place changes
                    item.setPen(pg.mkPen(color, width=1.5, style=RUN_STYLES[min(run, 1)]))
                    item.setSymbolBrush(color)
                    item.colour = color
                alone = len(steps) == 1 and np.isfinite(
                    values[0, j]
                )  # a dot for a lone value (a gone cluster has none)
                item.setSymbol("o" if alone else None)
                item.setData(steps, values[:, j])
        main = self.series.get((0, "loss"))
        for _, line, step in self._markers:
            line.setValue(step if self.x_axis == "step" or main is None else main.flow_time_at(step))
        self._place_labels()
        self._set_ranges()

    def _label_band(self, values: np.ndarray) -> tuple[float, float] | None:
        """The loss plot's y range for its `values` with a band on top as deep as the rows of
        event labels shown (_place_labels uses only the rows that fit in LABEL_SHARE of the
        plot), so the curve stays under the labels (they covered it); None without labels shown
        or finite values (the auto range serves)."""
        values = values[np.isfinite(values)]
        labels = [line.label for _, line, _ in self._markers if getattr(line, "label", None) is not None]
        if not self._label_rows or not values.size or not labels:
            return None
        height = max(self.plots["loss"].getViewBox().height(), 1.0)
        share = min(self._label_rows * labels[0].boundingRect().height() / height + 0.03, LABEL_SHARE + 0.03)
        low, high = float(values.min()), float(values.max())
        spread = max(high - low, 0.01 * max(1.0, abs(high)))
        return low - 0.03 * spread, high + spread * share / (1.0 - share)

    def _set_ranges(self) -> None:
        """The x axis: steps fixed by set_step_range, else from the first recorded x to the
        last (STEP_SPAN steps, or flow time 1, while there is one); the value axes auto-range
        once the runs have two steps, before that (and while the values are equal up to
        round-off) a padded range around the one value."""
        recorded = [s.view(self.x_axis) for s in self.series.values() if s.size]
        if not recorded:
            return
        xs = np.concatenate([x for x, _ in recorded])
        xs = xs[np.isfinite(xs)] if np.isfinite(xs).any() else np.zeros(1)
        few = np.ptp(xs) == 0
        width = STEP_SPAN if self.x_axis == "step" else 1.0
        span = (float(xs.min()), float(xs.max()) if not few else float(xs.min()) + width)
        first, last = self.step_range if self.step_range and self.x_axis == "step" else span
        for key, plot in self.plots.items():
            plot.setXRange(first, last, padding=0.03)
            parts = [s.view()[1].ravel() for (_, k), s in self.series.items() if k == key]
            values = np.concatenate(parts) if parts else np.zeros(0)
            band = self._label_band(values) if key == "loss" and not few else None
            if few or flat(values):
                plot.setYRange(*value_range(values), padding=0.05)
            elif band is not None:
                plot.setYRange(*band, padding=0)
            else:
                plot.enableAutoRange(y=True)

"""The phase diagram of a sweep: a heatmap of one outcome measure over two grid axes (the
mean over seeds, each cell also printing the mean and, over two or more seeds, their spread,
+- one standard deviation, with the number of runs), drawn with QPainter so the same widget serves the
window's Sweep dock and, offscreen, the PNGs of `main.py sweep` (`write_png`). A click on a
cell emits `cell_clicked(ix, iy)`.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QMouseEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import QWidget

from gui.colors import BACKGROUND, FOREGROUND, MUTED
from sim.sweep import PhaseGrid

MARGINS = (110, 46, 90, 56)  # left, top, right (colour bar), bottom
EMPTY = QColor("#2a2d31")


def _label(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _number(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.3g}"


def fitted(field: str, room: float, metrics: QFontMetricsF) -> str:
    """An axis title in `room` pixels: the dotted field name whole, else its last part
    ('network.width' -> 'width'), else that cut with an ellipsis (the tooltip names it whole)."""
    for text in (field, field.rsplit(".", 1)[-1]):
        if metrics.horizontalAdvance(text) <= room:
            return text
    return metrics.elidedText(field.rsplit(".", 1)[-1], Qt.TextElideMode.ElideRight, room)


def cell_text(grid: PhaseGrid, iy: int, ix: int) -> str:
    """A cell's text: its mean, seed spread (with two or more values: one value has none) and
    number of runs with a value (of the finished ones, when some finished without: "n=1 of
    2"); for finished runs without a value, "never captured" (the capture measures: the
    clusters were not captured within the runs' steps) or "no value", and how many finished."""
    count, finished = int(grid.count[iy, ix]), int(grid.finished[iy, ix])
    if count:
        runs = f"n={count}" + (f" of {finished}" if finished > count else "")
        spread = f"\n± {_number(grid.spread[iy, ix])}" if count > 1 else ""
        return f"{_number(grid.mean[iy, ix])}{spread}\n{runs}"
    why = "never captured" if grid.measure.startswith("capture") else "no value"
    return f"{why}\n{finished} run{'s' if finished != 1 else ''} done"


def diagram_title(grid: PhaseGrid) -> str:
    """The diagram's title: the measure, and what a cell shows (the mean over seeds and their
    spread, or with one run a cell, that run's value)."""
    if grid.finished.max(initial=0) <= 1:
        return f"{grid.measure}: one run a cell"
    return f"{grid.measure}: mean over seeds, ± seed spread (std)"


def fitted_lines(text: str, height: float, width: float, metrics: QFontMetricsF) -> str:
    """`text`'s lines as they fit a cell `height` px tall: all of them, or joined two or all
    to a line (a 1366 x 768 dock's cells cut "400 / ± 0 / n=1" at the top and bottom), each
    line ending in an ellipsis where it is wider than `width`."""
    lines = text.split("\n")
    while len(lines) > 1 and len(lines) * metrics.lineSpacing() > height:
        lines = [" ".join(lines[:2]), *lines[2:]] if len(lines) > 2 else [", ".join(lines)]
    return "\n".join(metrics.elidedText(line, Qt.TextElideMode.ElideRight, width) for line in lines)


class PhaseDiagram(QWidget):
    """Draws a PhaseGrid (sim/sweep.py); `set_grid` redraws. Cells with no value are grey (with
    cell_text's words when their runs finished); the colour bar spans the cells' means
    (viridis), and is left out when no cell has one. Means that read the same at the digits
    the cells show are one value, drawn in one colour (three cells of -0.0509 were yellow,
    green and purple over differences in the fifth digit)."""

    cell_clicked = Signal(int, int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.grid: PhaseGrid | None = None
        self.colormap = pg.colormap.get("viridis")
        self.setMinimumSize(320, 160)

    def set_grid(self, grid: PhaseGrid | None) -> None:
        self.grid = grid
        self.setToolTip("" if grid is None else f"x: {grid.x_field}, y: {grid.y_field}; click a cell to open its run")
        self.update()

    def _plot_rect(self) -> QRectF:
        left, top, right, bottom = MARGINS
        return QRectF(left, top, max(1, self.width() - left - right), max(1, self.height() - top - bottom))

    def cell_at(self, x: float, y: float) -> tuple[int, int] | None:
        """(ix, iy) of the cell under widget point (x, y), row 0 at the bottom; None outside."""
        if self.grid is None:
            return None
        rect = self._plot_rect()
        ny, nx = self.grid.mean.shape
        if not rect.contains(x, y):
            return None
        ix = min(nx - 1, int((x - rect.left()) / rect.width() * nx))
        iy = min(ny - 1, int((rect.bottom() - y) / rect.height() * ny))
        return ix, iy

    def mousePressEvent(self, event: QMouseEvent) -> None:
        cell = self.cell_at(event.position().x(), event.position().y())
        if cell is not None:
            self.cell_clicked.emit(*cell)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(self.rect(), QColor(BACKGROUND))
        if self.grid is not None:
            self._draw(painter, self.grid)
        painter.end()

    def _colour(self, value: float, low: float, high: float) -> QColor:
        if math.isnan(value):
            return EMPTY
        share = 0.5 if high <= low else (value - low) / (high - low)
        return self.colormap.map(np.array([share]), mode="qcolor")[0]

    def _draw(self, painter: QPainter, grid: PhaseGrid) -> None:
        rect = self._plot_rect()
        ny, nx = grid.mean.shape
        values = grid.mean[~np.isnan(grid.mean)]
        low, high = (float(values.min()), float(values.max())) if values.size else (0.0, 1.0)
        if _number(low) == _number(high):
            high = low
        w, h = rect.width() / nx, rect.height() / ny
        font = QFont(self.font())
        metrics = QFontMetricsF(font)
        for iy in range(ny):
            for ix in range(nx):
                cell = QRectF(rect.left() + ix * w, rect.bottom() - (iy + 1) * h, w, h)
                colour = self._colour(float(grid.mean[iy, ix]), low, high)
                painter.fillRect(cell.adjusted(1, 1, -1, -1), colour)
                if grid.count[iy, ix] or grid.finished[iy, ix]:
                    on_colour = "#000000" if colour.lightnessF() > 0.55 else "#ffffff"
                    painter.setPen(QColor(on_colour if grid.count[iy, ix] else MUTED))
                    text = fitted_lines(cell_text(grid, iy, ix), h - 2, w - 6, metrics)
                    painter.drawText(cell, Qt.AlignmentFlag.AlignCenter, text)
        painter.setPen(QColor(FOREGROUND))
        font.setBold(True)
        painter.setFont(font)
        painter.drawText(QRectF(0, 6, self.width(), 30), Qt.AlignmentFlag.AlignHCenter, diagram_title(grid))
        font.setBold(False)
        painter.setFont(font)
        painter.setPen(QColor(MUTED))
        for ix, value in enumerate(grid.x_values):
            cell = QRectF(rect.left() + ix * w, rect.bottom() + 2, w, 20)
            painter.drawText(cell, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop, _label(value))
        for iy, value in enumerate(grid.y_values):
            cell = QRectF(0, rect.bottom() - (iy + 1) * h, rect.left() - 6, h)
            painter.drawText(cell, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, _label(value))
        painter.setPen(QColor(FOREGROUND))
        metrics = QFontMetricsF(font)
        x_title = fitted(grid.x_field, rect.width(), metrics)
        painter.drawText(
            QRectF(rect.left(), rect.bottom() + 24, rect.width(), 24), Qt.AlignmentFlag.AlignHCenter, x_title
        )
        painter.save()
        painter.translate(14, rect.center().y())
        painter.rotate(-90)
        y_title = fitted(grid.y_field, rect.height(), metrics)
        painter.drawText(QRectF(-rect.height() / 2, -10, rect.height(), 20), Qt.AlignmentFlag.AlignCenter, y_title)
        painter.restore()
        if values.size:  # no bar without a value to scale
            self._colour_bar(painter, rect, low, high)

    def _colour_bar(self, painter: QPainter, rect: QRectF, low: float, high: float) -> None:
        bar = QRectF(rect.right() + 16, rect.top(), 16, rect.height())
        steps = 64
        for i in range(steps):
            part = QRectF(bar.left(), bar.bottom() - (i + 1) * bar.height() / steps, bar.width(), bar.height() / steps)
            painter.fillRect(part, self.colormap.map(np.array([i / (steps - 1)]), mode="qcolor")[0])
        painter.setPen(QColor(MUTED))
        if high <= low:  # one value: said once, at the middle, where _colour puts it
            painter.drawText(
                QRectF(bar.right() + 4, bar.center().y() - 8, 60, 16), Qt.AlignmentFlag.AlignLeft, _number(low)
            )
            return
        painter.drawText(QRectF(bar.right() + 4, bar.top() - 8, 60, 16), Qt.AlignmentFlag.AlignLeft, _number(high))
        painter.drawText(QRectF(bar.right() + 4, bar.bottom() - 8, 60, 16), Qt.AlignmentFlag.AlignLeft, _number(low))


def write_png(grid: PhaseGrid, path: Path, width: int = 720, height: int = 480) -> None:
    """Draw `grid` at width x height pixels into a PNG, written atomically (OSError if it
    cannot be). Uses the running QApplication or makes one on the platform Qt is given (the
    `sweep` command gives the offscreen one, so no display is needed)."""
    from PySide6.QtWidgets import QApplication

    from sim.files import atomic_path

    _app = QApplication.instance() or QApplication(["sweep"])  # kept alive while drawing
    diagram = PhaseDiagram()
    diagram.resize(width, height)
    diagram.set_grid(grid)
    image = diagram.grab()
    diagram.deleteLater()
    with atomic_path(path) as tmp:
        if not image.save(str(tmp), "PNG"):
            raise OSError(f"could not encode {path.name}")

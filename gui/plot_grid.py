"""Plot grid: a panel's plots laid out in as many columns as gives each plot the largest
readable cell, with optional rows of widgets above and below them, in a scroll area. Cells
never shrink below a minimum height: a dock shorter than that scrolls instead, so a panel's
content never sets the window's minimum size. Without a minimum (exports, offscreen
figures) the plots share whatever size they are given."""

from __future__ import annotations

import math

from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QFrame, QGridLayout, QScrollArea, QSizePolicy, QVBoxLayout, QWidget

from gui.colors import BACKGROUND

MIN_CELL = (200, 140)
ASPECT = 1.6
MIN_AREA = (120, 80)


def columns_for(count: int, size: tuple[int, int], min_cell: tuple[int, int], aspect: float) -> int:
    """The number of columns (1..count) that gives `count` cells of about width:height =
    `aspect` the largest size in an area of `size` (width, height) pixels, no cell narrower
    than min_cell[0] (unless one column is) and each at least min_cell[1] tall (the area then
    scrolls): the score of a layout is the size min(cell width / aspect, cell height), and
    of two layouts with one score the one with fewer rows wins."""
    width, height = size
    best, best_score = 1, -1.0
    for cols in range(1, count + 1):
        rows = math.ceil(count / cols)
        cell_w = width / cols
        if cols > 1 and cell_w < min_cell[0]:
            break
        cell_h = max(height / rows, min_cell[1])
        score = min(cell_w / aspect, cell_h)
        if score >= best_score - 1e-9:  # equal sizes: fewer rows, less to scroll
            best, best_score = cols, score
    return best


def shrinkable_title(plot: QWidget) -> None:
    """Let a pyqtgraph PlotWidget's title be narrower than its text (it is clipped then):
    pyqtgraph makes a title's width the plot's minimum, which would push the plot past its
    cell and cut off its right side. pyqtgraph sets that minimum again on every resize of the
    title (LabelItem.resizeEvent calls updateMin), so the label's updateMin clears it after."""
    label = plot.getPlotItem().titleLabel
    measure = type(label).updateMin

    def update_min() -> None:
        measure(label)
        label.setMinimumWidth(0)

    label.updateMin = update_min
    label.setMinimumWidth(0)


class PlotGrid(QWidget):
    """`plots` in a grid below `header` and above `footer` (widgets or None), re-laid out
    whenever the grid's size changes; each plot cell at least `min_cell` (width, height),
    in a scroll area. With min_cell (0, 0) nothing scrolls: the plots share the size given."""

    def __init__(
        self,
        plots: list[QWidget],
        header: QWidget | None = None,
        footer: QWidget | None = None,
        min_cell: tuple[int, int] = MIN_CELL,
        aspect: float = ASPECT,
        parent: QWidget | None = None,
    ):
        super().__init__(parent)
        self.plots = plots
        self.rows_around = [w for w in (header, footer) if w is not None]
        self.min_cell = min_cell
        self.aspect = aspect
        self.columns = 0
        self.wanted: dict[int, int] = {}  # plot index -> the width its content needs (want_width)
        self.content = content = QWidget()
        content.setObjectName("plotGridContent")
        content.setStyleSheet(f"#plotGridContent {{ background: {BACKGROUND}; }}")
        inner = QVBoxLayout(content)
        inner.setContentsMargins(2, 2, 2, 2)
        inner.setSpacing(2)
        self.grid = QGridLayout()
        self.grid.setSpacing(4)
        if header is not None:
            inner.addWidget(header)
        inner.addLayout(self.grid, 1)
        if footer is not None:
            inner.addWidget(footer)
        for plot in plots:  # a minimum of 0 would mean "the widget's own hint", which is larger
            plot.setMinimumSize(max(1, min(min_cell[0], 60)), max(1, min_cell[1]))
            # cells take the room there is, never their (large) size hints: with a word-wrapped
            # label in the content, the scroll area would make the content that tall
            plot.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        self.scroll: QScrollArea | None = None
        if min_cell == (0, 0):
            outer.addWidget(content)
        else:
            self.scroll = QScrollArea()
            self.scroll.setFrameShape(QFrame.Shape.NoFrame)
            self.scroll.setWidgetResizable(True)
            self.scroll.setWidget(content)
            outer.addWidget(self.scroll)
            self.setMinimumSize(*MIN_AREA)
        self.arrange(self.width(), self.height())

    def arrange(self, width: int, height: int) -> None:
        """Put the plots in the columns that suit a (width, height) area (the grid's own
        size, which does not change when a scroll bar comes or goes, so this never loops)."""
        height -= sum(w.sizeHint().height() for w in self.rows_around)
        cols = columns_for(len(self.plots), (width, height), self.min_cell, self.aspect)
        self._widen(cols, width)
        if cols == self.columns:
            return
        self.columns = cols
        for plot in self.plots:
            self.grid.removeWidget(plot)
        for i, plot in enumerate(self.plots):
            self.grid.addWidget(plot, i // cols, i % cols)
        for r in range(self.grid.rowCount()):
            self.grid.setRowStretch(r, 1 if r < math.ceil(len(self.plots) / cols) else 0)
        for c in range(self.grid.columnCount()):
            self.grid.setColumnStretch(c, 1 if c < cols else 0)
        self.content.layout().activate()  # now, not at the next event: an offscreen grab paints at once

    def want_width(self, plot: QWidget, pixels: int) -> None:
        """Give `plot`'s column at least `pixels` (a table's columns and frame) when the area
        is wide enough for that and the other columns' minimum width; else as much as that
        leaves."""
        self.wanted[self.plots.index(plot)] = pixels
        self._widen(self.columns, self.width())

    def _widen(self, cols: int, width: int) -> None:
        spare = width - (cols - 1) * (self.min_cell[0] + self.grid.spacing()) - 8  # 8: the content's margins
        for c in range(self.grid.columnCount()):
            need = max((px for i, px in self.wanted.items() if cols > 1 and i % cols == c), default=0)
            self.grid.setColumnMinimumWidth(c, max(0, min(need, spare)))

    def resizeEvent(self, event: QResizeEvent) -> None:
        self.arrange(event.size().width(), event.size().height())
        super().resizeEvent(event)

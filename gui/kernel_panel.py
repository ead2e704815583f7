"""The kernel dock's panel: the H(theta) heatmap (gui/kernel_view.py, square) and how H moved
(gui/kernel_evolution_view.py), side by side when the panel is wide and short (the right
column of a 1366 x 768 screen, where one above the other left each a sliver), one above the
other when it is tall."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QSplitter, QWidget

WIDE = 1.4  # width over height above which the two sit side by side


class KernelPanel(QSplitter):
    """`heatmap` and `evolution` in a splitter that turns with the panel's shape."""

    def __init__(self, heatmap: QWidget, evolution: QWidget, parent: QWidget | None = None):
        super().__init__(Qt.Orientation.Vertical, parent)
        self.setChildrenCollapsible(False)
        self.addWidget(heatmap)
        self.addWidget(evolution)
        self.setStretchFactor(0, 3)
        self.setStretchFactor(1, 2)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        wide = self.width() > WIDE * self.height()
        want = Qt.Orientation.Horizontal if wide else Qt.Orientation.Vertical
        if want != self.orientation():
            self.setOrientation(want)
            length = self.width() if wide else self.height()
            # the square heatmap's share: about its side (plus axes) and at most 0.6 of the panel
            # (one above the other at 1920 x 1080 the curves kept 70 px under a heatmap of spare width)
            first = (
                min(self.height() + 60, int(length * 0.6)) if wide else min(int(length * 0.6), int(self.width() * 0.9))
            )
            self.setSizes([first, length - first])

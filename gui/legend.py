"""Legend: a row of coloured swatches naming each cluster (or class, for data that comes
with labels) and its sample count, in the palette every view shares; it scrolls sideways
rather than widen the window. `group_names` gives every panel the same names: the dataset's
own labels for the digits (digit 0 is label 0), the cluster's number from 1 otherwise."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QScrollArea, QWidget

from gui.colors import MUTED, cluster_hex
from sim.preset import DataSpec


def group_names(data: DataSpec, count: int) -> list[str]:
    """Names of the `count` groups whose labels are 0..count-1: the digit each class holds
    for digits data (data.classes, in label order), else the numbers 1..count."""
    if data.kind == "digits" and len(data.classes) == count:
        return [str(c) for c in data.classes]
    return [str(k + 1) for k in range(count)]


def group_word(data: DataSpec) -> str:
    """What one group is called: 'digit', 'class' (labelled data from a file) or 'cluster'."""
    return {"digits": "digit", "file": "class"}.get(data.kind, "cluster")


class Legend(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        content = QWidget()
        self.row = QHBoxLayout(content)
        self.row.setContentsMargins(8, 2, 8, 2)
        self.row.setSpacing(14)
        self.labels: list[QLabel] = []
        self.title = QLabel("clusters")
        self.title.setStyleSheet(f"color: {MUTED};")
        self.row.addWidget(self.title)
        self.row.addStretch(1)
        self.scroll = QScrollArea()
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setWidgetResizable(True)
        self.scroll.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroll.setWidget(content)
        content.installEventFilter(self)
        outer = QHBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.scroll)
        self.setMinimumWidth(60)
        self.setToolTip("Cluster colours, shared by every view; n = samples in the cluster")
        self._fit_height()

    def set_groups(self, names: list[str], counts: list[int], title: str | None = None) -> None:
        """One swatch per group k: its colour, `names[k]` and `counts[k]` samples; when every
        group has the same count it is said once, after `title` (five digits of 100 each did
        not fit a 1366-wide window with the count repeated)."""
        same = len(counts) > 1 and len(set(counts)) == 1
        if title is not None:
            self.title.setText(f"{title} (n={counts[0]} each)" if same else title)
        texts = [
            f'<span style="color:{cluster_hex(k)}; font-size:15px">&#9679;</span> {name}'
            + ("" if same else f' <span style="color:{MUTED}">(n={count})</span>')
            for k, (name, count) in enumerate(zip(names, counts, strict=True))
        ]
        while len(self.labels) > len(texts):
            self.labels.pop().deleteLater()
        while len(self.labels) < len(texts):
            label = QLabel()
            self.row.insertWidget(len(self.labels) + 1, label)
            self.labels.append(label)
        for label, text in zip(self.labels, texts, strict=True):
            label.setText(text)
        self._fit_height()

    def _fit_height(self) -> None:
        """As tall as the row, plus the scroll bar when the row is wider than the legend."""
        content = self.scroll.widget()
        height = content.sizeHint().height()
        if content.minimumSizeHint().width() > self.width():
            height += self.scroll.horizontalScrollBar().sizeHint().height()
        self.setFixedHeight(height)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Fit again whenever the row's layout is redone: labels added in set_groups are shown
        (and counted by the layout) only on a later turn of the event loop."""
        if event.type() == QEvent.Type.LayoutRequest:
            self._fit_height()
        return False

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit_height()

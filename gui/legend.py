"""Legend: a row of coloured swatches naming each cluster (or class, for data that comes
with labels) and its sample count, in the palette every view shares."""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLabel, QWidget

from gui.colors import MUTED, cluster_hex


class Legend(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.row = QHBoxLayout(self)
        self.row.setContentsMargins(8, 2, 8, 2)
        self.row.setSpacing(14)
        self.labels: list[QLabel] = []
        self.title = QLabel("clusters")
        self.title.setStyleSheet(f"color: {MUTED};")
        self.row.addWidget(self.title)
        self.row.addStretch(1)
        self.setToolTip("Cluster colours, shared by every view; n = samples in the cluster")

    def set_groups(self, names: list[str], counts: list[int]) -> None:
        """One swatch per group k: its colour, `names[k]` and `counts[k]` samples."""
        texts = [
            f'<span style="color:{cluster_hex(k)}; font-size:15px">&#9679;</span> {name} '
            f'<span style="color:{MUTED}">(n={count})</span>'
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

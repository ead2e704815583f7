"""Legend: a row of coloured swatches naming each cluster (number and sample count), in the
palette every view shares."""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLabel, QWidget

from gui.colors import MUTED, cluster_hex
from sim.preset import ClusterSpec


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

    def set_clusters(self, clusters: list[ClusterSpec]) -> None:
        texts = [
            f'<span style="color:{cluster_hex(k)}; font-size:15px">&#9679;</span> {k + 1} '
            f'<span style="color:{MUTED}">(n={c.count})</span>'
            for k, c in enumerate(clusters)
        ]
        while len(self.labels) > len(texts):
            self.labels.pop().deleteLater()
        while len(self.labels) < len(texts):
            label = QLabel()
            self.row.insertWidget(len(self.labels) + 1, label)
            self.labels.append(label)
        for label, text in zip(self.labels, texts, strict=True):
            label.setText(text)

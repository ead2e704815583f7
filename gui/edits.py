"""Data edits the user can undo: move, add and remove a cluster, change its count or radius
(QUndoCommands that send the matching worker command both ways), and the cluster table
that lists each cluster's colour, count, radius and center and emits the edits."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QUndoCommand
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDoubleSpinBox,
    QHBoxLayout,
    QHeaderView,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gui.colors import cluster_hex
from sim.preset import ClusterSpec

Send = Callable[..., None]


class MoveCluster(QUndoCommand):
    def __init__(self, send: Send, k: int, old: list[float], new: list[float]):
        super().__init__(f"move cluster {k + 1}")
        self.send, self.k, self.old, self.new = send, k, list(old), list(new)

    def redo(self) -> None:
        self.send("move", self.k, self.new, True)

    def undo(self) -> None:
        self.send("move", self.k, self.old, True)


class AddCluster(QUndoCommand):
    def __init__(self, send: Send, spec: ClusterSpec, index: int):
        super().__init__(f"add cluster {index + 1}")
        self.send, self.spec, self.index = send, spec, index

    def redo(self) -> None:
        self.send("add", list(self.spec.center), self.spec.count, self.spec.radius, self.index)

    def undo(self) -> None:
        self.send("remove", self.index)


class RemoveCluster(QUndoCommand):
    def __init__(self, send: Send, spec: ClusterSpec, index: int):
        super().__init__(f"remove cluster {index + 1}")
        self.send, self.spec, self.index = send, spec, index

    def redo(self) -> None:
        self.send("remove", self.index)

    def undo(self) -> None:
        self.send("add", list(self.spec.center), self.spec.count, self.spec.radius, self.index)


class EditCluster(QUndoCommand):
    """Change `field` ('count' or 'radius') of cluster k."""

    def __init__(self, send: Send, k: int, field: str, old: Any, new: Any):
        super().__init__(f"cluster {k + 1}: {field} {old} -> {new}")
        self.send, self.k, self.field, self.old, self.new = send, k, field, old, new

    def redo(self) -> None:
        self.send(self.field, self.k, self.new)

    def undo(self) -> None:
        self.send(self.field, self.k, self.old)


class ClusterTable(QWidget):
    """One row per cluster: colour and number, count, radius, center."""

    count_edited = Signal(int, int, int)
    radius_edited = Signal(int, float, float)
    add_requested = Signal()
    remove_requested = Signal(int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["cluster", "count", "radius", "center"])
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.table.setToolTip("Each cluster's sample count and radius; edits apply to the running simulation")
        self.add_button = QPushButton("Add cluster")
        self.add_button.setToolTip("Add a cluster (at the origin, 64 samples, radius 0.3); drag it in the input view")
        self.add_button.clicked.connect(self.add_requested)
        self.remove_button = QPushButton("Remove")
        self.remove_button.setToolTip("Remove the selected cluster and its samples")
        self.remove_button.clicked.connect(self._remove)
        buttons = QHBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        self.clusters: list[ClusterSpec] = []

    def set_clusters(self, clusters: list[ClusterSpec], editable: bool) -> None:
        """Show these clusters; spin boxes are updated in place (signals blocked)."""
        self.clusters = [ClusterSpec(list(c.center), c.count, c.radius) for c in clusters]
        if self.table.rowCount() != len(clusters):
            self.table.setRowCount(len(clusters))
            for k in range(len(clusters)):
                self._make_row(k)
        for k, spec in enumerate(clusters):
            count, radius = self.table.cellWidget(k, 1), self.table.cellWidget(k, 2)
            for box, value in ((count, spec.count), (radius, spec.radius)):
                if not box.hasFocus():
                    box.blockSignals(True)
                    box.setValue(value)
                    box.blockSignals(False)
                box.setEnabled(editable)
            self.table.item(k, 3).setText("(" + ", ".join(f"{c:.2f}" for c in spec.center) + ")")
        self.add_button.setEnabled(editable)
        self.remove_button.setEnabled(len(clusters) > 1)

    def _make_row(self, k: int) -> None:
        name = QTableWidgetItem(f"  {k + 1}")
        name.setForeground(QColor(cluster_hex(k)))
        name.setBackground(QColor(cluster_hex(k)).darker(260))
        name.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
        self.table.setItem(k, 0, name)
        count = QSpinBox()
        count.setRange(1, 1_000_000)
        count.setKeyboardTracking(False)
        count.setToolTip(f"Number of samples in cluster {k + 1}")
        count.valueChanged.connect(lambda v, k=k: self._count_changed(k, v))
        radius = QDoubleSpinBox()
        radius.setRange(0.0, 100.0)
        radius.setDecimals(3)
        radius.setSingleStep(0.05)
        radius.setKeyboardTracking(False)
        radius.setToolTip(f"Radius of cluster {k + 1}'s ball (samples are uniform in it)")
        radius.valueChanged.connect(lambda v, k=k: self._radius_changed(k, v))
        self.table.setCellWidget(k, 1, count)
        self.table.setCellWidget(k, 2, radius)
        center = QTableWidgetItem("")
        center.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
        center.setToolTip("Drag the cluster's handle in the input view to move it")
        self.table.setItem(k, 3, center)

    def _count_changed(self, k: int, value: int) -> None:
        old = self.clusters[k].count
        if value != old:
            self.clusters[k].count = value
            self.count_edited.emit(k, old, value)

    def _radius_changed(self, k: int, value: float) -> None:
        old = self.clusters[k].radius
        if value != old:
            self.clusters[k].radius = value
            self.radius_edited.emit(k, old, value)

    def _remove(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        k = rows[0].row() if rows else len(self.clusters) - 1
        if len(self.clusters) > 1:
            self.remove_requested.emit(k)

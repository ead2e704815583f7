"""The cluster table: each cluster's colour, count, radius and center, with the count and
radius editable (the edits are emitted as (k, old, new); gui/undo.py makes them undoable).
Data that is not generated clusters (digits, a file, points on a curve) has nothing to edit
here, and a line under the table says so."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QColor, QKeyEvent, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gui.colors import MUTED, cluster_hex
from gui.controls import model_range
from gui.number_box import CountBox, NumberBox
from gui.run_state import RunState, quiet
from sim.preset import ClusterSpec, Preset

NOT_EDITABLE = {  # data.kind -> why the table has nothing to edit
    "digits": "The digits preset's data are images of a dataset's classes, not generated clusters: "
    "there is nothing to add, remove or resize here.",
    "file": "The data come from a file (data.path), not generated clusters: there is nothing to add, "
    "remove or resize here.",
    "manifold": "The data are points on a curve (data.kind manifold): its pieces are set in the preset file, not here.",
}


class ClusterTable(QWidget):
    """One row per cluster: colour and number, count, radius, center."""

    count_edited = Signal(int, int, int)
    radius_edited = Signal(int, float, float)
    add_requested = Signal()
    remove_requested = Signal(int)
    refused = Signal(str)  # a count or radius typed out of range (gui/number_box.py)
    taken = Signal()  # a count or radius typed and taken: a refusal before it is answered

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
        self.table.setTabKeyNavigation(False)  # Tab leaves the table for the buttons and the other docks
        self.table.setToolTip("Each cluster's sample count and radius; edits apply to the running simulation")
        self.add_button = QPushButton("Add cluster")
        self.add_button.setToolTip("Add a cluster (at the origin, 64 samples, radius 0.3); drag it in the input view")
        self.add_button.clicked.connect(self.add_requested)
        self.remove_button = QPushButton("Remove")
        self.remove_button.setToolTip("Remove the selected cluster and its samples (select its row first)")
        self.remove_button.clicked.connect(self._remove)
        self.remove_button.setEnabled(False)
        self.table.itemSelectionChanged.connect(self._enable_remove)
        buttons = QHBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.setStyleSheet(f"color: {MUTED};")
        self.note.hide()
        layout.addWidget(self.table, 1)
        layout.addWidget(self.note)
        layout.addLayout(buttons)
        self.clusters: list[ClusterSpec] = []

    def follow(self, state: RunState) -> None:
        """Show the run's clusters whenever its data changes."""
        state.data.connect(self._show_data)

    def _show_data(self, _frame: object, preset: Preset) -> None:
        self.set_clusters(preset.data.clusters, preset.data.kind == "clusters")
        self.note.setText(NOT_EDITABLE.get(preset.data.kind, ""))
        self.note.setVisible(preset.data.kind in NOT_EDITABLE)
        # an empty table (digits, file data) took the room and left the note below the dock's edge
        self.table.setVisible(bool(preset.data.clusters))

    def set_clusters(self, clusters: list[ClusterSpec], editable: bool) -> None:
        """Show these clusters; spin boxes are updated in place (signals blocked)."""
        self.clusters = list(clusters)
        if self.table.rowCount() != len(clusters):
            self.table.setRowCount(len(clusters))
            for k in range(len(clusters)):
                self._make_row(k)
        for k, spec in enumerate(clusters):
            count, radius = self.table.cellWidget(k, 1), self.table.cellWidget(k, 2)
            for box, value in ((count, spec.count), (radius, spec.radius)):
                if not box.being_edited():  # a value being typed is not overwritten; a committed one follows the run
                    with quiet(box):
                        box.setValue(value)
                box.setEnabled(editable)
            self.table.item(k, 3).setText("(" + ", ".join(f"{c:.2f}" for c in spec.center) + ")")
        self.add_button.setEnabled(editable)
        self._enable_remove()

    def _selected(self) -> int | None:
        rows = self.table.selectionModel().selectedRows()
        return rows[0].row() if rows else None

    def _enable_remove(self) -> None:
        """Remove acts on the selected row, and never on the last cluster."""
        self.remove_button.setEnabled(self._selected() is not None and len(self.clusters) > 1)

    def _make_row(self, k: int) -> None:
        name = QTableWidgetItem(f"  {k + 1}")
        name.setForeground(QColor(cluster_hex(k)))
        name.setBackground(QColor(cluster_hex(k)).darker(260))
        name.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
        self.table.setItem(k, 0, name)
        count = CountBox(f"cluster {k + 1} count")
        count.setRange(*map(int, model_range(ClusterSpec, "count")))
        count.setKeyboardTracking(False)
        count.setToolTip(f"Number of samples in cluster {k + 1}")
        count.valueChanged.connect(lambda v, k=k: self._count_changed(k, v))
        radius = NumberBox(f"cluster {k + 1} radius")
        radius.setDecimals(3)
        radius.setRange(*model_range(ClusterSpec, "radius", 3))
        radius.setSingleStep(0.05)
        radius.setKeyboardTracking(False)
        radius.setToolTip(f"Radius of cluster {k + 1}'s ball (samples are uniform in it)")
        radius.valueChanged.connect(lambda v, k=k: self._radius_changed(k, v))
        for box in (count, radius):
            box.installEventFilter(self)
            box.refused.connect(self.refused)
            box.taken.connect(self.taken)
        self.table.setCellWidget(k, 1, count)
        self.table.setCellWidget(k, 2, radius)
        center = QTableWidgetItem("")
        center.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
        center.setToolTip("Drag the cluster's handle in the input view to move it")
        self.table.setItem(k, 3, center)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Ctrl+Z / Ctrl+Shift+Z in a count or radius box that holds no half-typed value are
        the window's Undo and Redo (the box's own text undo took them: an edit just committed
        from the box could not be undone from it)."""
        return (  # True: filtered out, so not accepted by the box, and the shortcut fires
            event.type() == QEvent.Type.ShortcutOverride
            and isinstance(event, QKeyEvent)
            and (event.matches(QKeySequence.StandardKey.Undo) or event.matches(QKeySequence.StandardKey.Redo))
            and not watched.being_edited()
        )

    def _count_changed(self, k: int, value: int) -> None:
        old = self.clusters[k].count
        if value != old:
            self.clusters[k] = self.clusters[k].model_copy(update={"count": value})
            self.count_edited.emit(k, old, value)

    def _radius_changed(self, k: int, value: float) -> None:
        old = self.clusters[k].radius
        if value != old:
            self.clusters[k] = self.clusters[k].model_copy(update={"radius": value})
            self.radius_edited.emit(k, old, value)

    def _remove(self) -> None:
        k = self._selected()
        if k is not None and len(self.clusters) > 1:
            self.remove_requested.emit(k)

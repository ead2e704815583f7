"""Input view: the clean data in input space (a pyqtgraph plane; for 3-D data an orbit view,
gui/input_orbit.py, or a chosen pair of axes; above 3-D the first two principal components)
with each cluster's center as a draggable handle (fixed in a PCA projection). While a handle
is dragged it emits `dragging(k, center)` (the run follows live); on release
`dragged(k, old, new)`, which the window turns into an undoable edit. The plane follows the
data (a cluster dragged or typed out of view brings the view after it) until the user pans or
zooms it; a double click fits it to the data again. It only draws; the window owns the edits."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QStackedWidget, QVBoxLayout, QWidget

from gui.colors import BACKGROUND, MUTED, cluster_hex, label_rgba
from gui.input_orbit import InputOrbit
from sim.preset import ClusterSpec

ORBIT = "3-D orbit"
AXIS_PAIRS = {"x - y": (0, 1), "x - z": (0, 2), "y - z": (1, 2)}
SCATTER_MAX_POINTS = 50000


def principal_axes(X: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Mean, the top two principal directions (2, d) and the share of variance they hold."""
    mean = X.mean(0)
    _, sing, vt = np.linalg.svd(X - mean, full_matrices=False)
    total = float((sing**2).sum())
    return mean, vt[:2], float((sing[:2] ** 2).sum() / total) if total > 0 else 1.0


class InputView(QWidget):
    """Samples coloured by cluster and one handle per cluster center."""

    dragging = Signal(int, list)
    dragged = Signal(int, list, list)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.axes_box = QComboBox()
        self.axes_box.addItems([ORBIT, *AXIS_PAIRS])
        self.axes_box.setToolTip(
            "3-D data: an orbit view (handles move parallel to the screen) or the plane of two input "
            "coordinates (handles move in that plane)"
        )
        self.axes_box.currentTextChanged.connect(self._show_axes)
        self.hint = QLabel("drag a center to move its cluster")
        self.hint.setStyleSheet(f"color: {MUTED};")
        self.hint.setWordWrap(True)
        top = QHBoxLayout()
        top.addWidget(self.hint, 1)
        top.addWidget(self.axes_box)

        self.plot_widget = pg.PlotWidget(background=BACKGROUND)
        self.plot_widget.setMinimumSize(120, 120)
        self.plot = self.plot_widget.getPlotItem()
        self.plot.setAspectLocked(True)
        self.plot.showGrid(x=True, y=True, alpha=0.12)
        self.plot.hideButtons()
        self.plot.setMenuEnabled(False)
        self.plot_widget.setToolTip("wheel or right-drag zooms, drag pans; a double click fits the view to the data")
        self.following = True  # the plane keeps all samples in view, until panned or zoomed by hand
        self.plot.vb.sigRangeChangedManually.connect(self._stop_following)
        self.plot_widget.scene().sigMouseClicked.connect(self._on_click)
        self.scatter = pg.ScatterPlotItem(size=5, pen=None, pxMode=True)
        self.plot.addItem(self.scatter)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        # the plane and the orbit view on one stack: its size hints are both's, so switching
        # between them leaves the docks around where they are
        self.stack = QStackedWidget()
        self.stack.addWidget(self.plot_widget)
        layout.addWidget(self.stack, 1)
        self.orbit: InputOrbit | None = None

        self.X = np.zeros((0, 2), np.float32)
        self.labels = np.zeros(0, np.int64)
        self.clusters: list[ClusterSpec] = []
        self.movable = True
        self.handles: list[pg.TargetItem] = []
        self._drag_start: dict[int, list[float]] = {}
        self._fitted = False
        self.pca: tuple[np.ndarray, np.ndarray, float] | None = None

    @property
    def axes(self) -> tuple[int, int]:
        if self.X.shape[1] < 3:
            return (0, 1)
        return AXIS_PAIRS.get(self.axes_box.currentText(), (0, 1))

    @property
    def orbiting(self) -> bool:
        """Whether the 3-D orbit view shows the data (3-D data, orbit chosen)."""
        return self.X.shape[1] == 3 and self.axes_box.currentText() == ORBIT

    def set_data(self, X: np.ndarray, labels: np.ndarray, clusters: list[ClusterSpec], movable: bool) -> None:
        """New clean data and cluster specs; handles being dragged keep their place."""
        refit = X.shape[1] != self.X.shape[1] or not self._fitted
        self.pca = principal_axes(X) if X.shape[1] > 3 else None
        self.X, self.labels, self.clusters, self.movable = X, labels, clusters, movable and self.pca is None
        self.axes_box.setVisible(X.shape[1] == 3)
        self._redraw()
        dragging = any(handle.moving for handle in self.handles)
        if refit or (self.following and not dragging and not self.orbiting and not self._all_in_view()):
            self.fit()

    def _all_in_view(self) -> bool:
        (x0, x1), (y0, y1) = self.plot.vb.viewRange()
        plane = self.shown(self.X)
        return bool(((plane[:, 0] >= x0) & (plane[:, 0] <= x1) & (plane[:, 1] >= y0) & (plane[:, 1] <= y1)).all())

    def _show_axes(self) -> None:
        self._redraw()
        self.fit()

    def _stop_following(self, *_) -> None:
        self.following = False

    def _on_click(self, event) -> None:
        if event.double() and not self.orbiting:
            self.fit()

    def shown(self, points: np.ndarray) -> np.ndarray:
        """(n, 2) plane coordinates of input points: two axes, or the PCA projection."""
        if self.pca is not None:
            mean, components, _ = self.pca
            return (points - mean) @ components.T
        i, j = self.axes
        return points[:, [i, j]]

    def fit(self) -> None:
        if self.orbit is not None and self.orbiting:
            self.orbit.fit()
        if len(self.X):
            i, j = 0, 1
            pad = 0.5
            plane = self.shown(self.X)
            lo, hi = plane.min(0).astype(float), plane.max(0).astype(float)
            self.plot.setRange(
                xRange=(float(lo[i]) - pad, float(hi[i]) + pad), yRange=(float(lo[j]) - pad, float(hi[j]) + pad)
            )
            self._fitted = self.following = True

    def _redraw(self) -> None:
        if self.X.shape[1] < 2:
            return
        if self.pca is not None:
            share = self.pca[2]
            self.hint.setText(f"PCA of {self.X.shape[1]}-D data: PC1-PC2 ({100 * share:.0f}% of variance)")
        elif self.orbiting:
            self.hint.setText("drag a center to move its cluster; drag elsewhere to orbit")
        else:
            self.hint.setText("drag a center to move its cluster")
        if self.orbiting and self.orbit is None:
            self.orbit = InputOrbit()
            self.orbit.dragging.connect(self.dragging)
            self.orbit.dragged.connect(self.dragged)
            self.stack.addWidget(self.orbit)
        self.stack.setCurrentWidget(self.orbit if self.orbiting else self.plot_widget)
        if self.orbiting:
            self.orbit.set_data(self.X, self.labels, self.clusters, self.movable)
            return
        step = max(1, len(self.X) // SCATTER_MAX_POINTS)
        plane, labels = self.shown(self.X[::step]), self.labels[::step]
        # one brush object per cluster, shared by its points: pyqtgraph renders a symbol per
        # distinct brush (a brush per point took 4 s for 50k points)
        palette = [pg.mkBrush(*(c * 255).astype(int)) for c in label_rgba(np.arange(int(labels.max()) + 1), 0.85)]
        self.scatter.setData(x=plane[:, 0], y=plane[:, 1], brush=[palette[k] for k in labels.tolist()])
        self._sync_handles()

    def _sync_handles(self) -> None:
        while len(self.handles) > len(self.clusters):
            self.plot.removeItem(self.handles.pop())
        while len(self.handles) < len(self.clusters):
            k = len(self.handles)
            handle = pg.TargetItem(size=18, symbol="o", movable=True)
            handle.setZValue(10)
            handle.sigPositionChanged.connect(lambda h, k=k: self._on_move(k, h))
            handle.sigPositionChangeFinished.connect(lambda h, k=k: self._on_finish(k))
            self.plot.addItem(handle)
            self.handles.append(handle)
        for k, (handle, spec) in enumerate(zip(self.handles, self.clusters, strict=True)):
            color = cluster_hex(k)
            handle.setPen(pg.mkPen("#ffffff", width=2))
            handle.setBrush(pg.mkBrush(color))
            handle.hoverBrush = pg.mkBrush(color)
            handle.hoverPen = pg.mkPen("#ffffff", width=3)
            handle.movable = self.movable and len(spec.center) == self.X.shape[1]
            handle.setToolTip(f"cluster {k + 1}: drag to move its {spec.count} samples (Ctrl+Z undoes)")
            if not handle.moving and len(spec.center) == self.X.shape[1]:
                x, y = self.shown(np.asarray([spec.center], dtype=np.float64))[0]
                handle.blockSignals(True)
                handle.setPos(float(x), float(y))
                handle.blockSignals(False)

    def _center_at(self, k: int, handle: pg.TargetItem) -> list[float]:
        center = list(self.clusters[k].center)
        i, j = self.axes
        pos = handle.pos()
        center[i], center[j] = float(pos.x()), float(pos.y())
        return center

    def _on_move(self, k: int, handle: pg.TargetItem) -> None:
        if not handle.moving or k >= len(self.clusters):
            return
        self._drag_start.setdefault(k, list(self.clusters[k].center))
        self.dragging.emit(k, self._center_at(k, handle))

    def _on_finish(self, k: int) -> None:
        if k >= len(self.clusters):
            return
        old = self._drag_start.pop(k, list(self.clusters[k].center))
        new = self._center_at(k, self.handles[k])
        if new != old:
            self.clusters[k] = self.clusters[k].model_copy(update={"center": new})
            self.dragged.emit(k, old, new)

    def handle_scene_pos(self, k: int) -> tuple[float, float]:
        """Where handle k is, in the plot widget's viewport pixels (for tests and tours)."""
        point = self.plot.vb.mapViewToScene(self.handles[k].pos())
        view_point = self.plot_widget.mapFromScene(point)
        return float(view_point.x()), float(view_point.y())

    def handle_canvas_pos(self, k: int) -> tuple[float, float]:
        """Where handle k is in the orbit view, in its canvas (native widget) pixels."""
        return self.orbit.handle_canvas_pos(k)

    def close_canvas(self) -> None:
        if self.orbit is not None:
            self.orbit.close_canvas()

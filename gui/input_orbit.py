"""Input orbit: 3-D input data in a vispy SceneCanvas with an orbit camera, for the input
view (gui/input_view.py). Samples are coloured by cluster inside a light box whose x, y, z
edges are labelled; each cluster's center is a bigger marker (cluster colour, white edge)
drawn over the points. A left press within GRAB_PX of a center grabs it and moving the
mouse slides it in the plane parallel to the screen through it (`dragging(k, center)`;
`dragged(k, old, new)` on release); any other press orbits the camera, the wheel zooms."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QVBoxLayout, QWidget
from vispy import scene

from gui.colors import BACKGROUND, FOREGROUND, GUIDE, PALETTE, label_rgba
from gui.embedding_scene import FittingTurntableCamera, marker_size
from gui.offscreen_canvas import CanvasImage
from sim.preset import ClusterSpec

GRAB_PX = 12.0
HANDLE_PX = 17.0
BOX_RGBA = (*GUIDE[:3], 0.22)
AXIS_RGBA = (*GUIDE[:3], 0.85)


def box_segments(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """(24, 3) endpoints of the 12 edges of the axis-aligned box [lo, hi]."""
    corners = np.array([[hi[i] if (c >> i) & 1 else lo[i] for i in range(3)] for c in range(8)], np.float32)
    edges = [(a, a | (1 << i)) for a in range(8) for i in range(3) if not (a >> i) & 1]
    return corners[np.array(edges).ravel()]


class InputOrbit(QWidget):
    """3-D samples and center handles under a TurntableCamera."""

    dragging = Signal(int, list)
    dragged = Signal(int, list, list)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.canvas = scene.SceneCanvas(keys=None, bgcolor=BACKGROUND, size=(360, 360), show=False)
        self.image = CanvasImage(self.canvas)  # drawn offscreen: gui/offscreen_canvas.py says why
        self.image.setMinimumSize(200, 200)
        self.image.setToolTip(
            "drag a center to move its cluster parallel to the screen; drag elsewhere to orbit, wheel to zoom"
        )
        self.view = self.canvas.central_widget.add_view()
        self.view.camera = FittingTurntableCamera(fov=30, elevation=22, azimuth=35)
        self.box = scene.visuals.Line(parent=self.view.scene, connect="segments", color=BOX_RGBA)
        self.axis_lines = scene.visuals.Line(parent=self.view.scene, connect="segments", color=AXIS_RGBA)
        self.axis_labels = scene.visuals.Text(
            ["x", "y", "z"], pos=np.zeros((3, 3)), color=FOREGROUND, font_size=9, parent=self.view.scene
        )
        self.axis_labels.set_gl_state("translucent", depth_test=False)
        self.axis_labels.order = 5
        self.points = scene.visuals.Markers(parent=self.view.scene, antialias=0.5)
        self.handles = scene.visuals.Markers(parent=self.view.scene, antialias=1.0)
        self.handles.set_gl_state("translucent", depth_test=False)
        self.handles.order = 10
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.image)

        self.X = np.zeros((0, 3), np.float32)
        self.labels = np.zeros(0, np.int64)
        self.clusters: list[ClusterSpec] = []
        self.centers = np.zeros((0, 3), np.float64)
        self.movable = True
        self.grabbed: int | None = None
        self._old: list[float] = []
        self._depth = 0.0
        for name in ("mouse_press", "mouse_move", "mouse_release"):
            getattr(self.canvas.events, name).connect(getattr(self, "_" + name), position="first")

    # ----- data -----------------------------------------------------------------------
    def set_data(self, X: np.ndarray, labels: np.ndarray, clusters: list[ClusterSpec], movable: bool) -> None:
        """New samples and centers; a handle being dragged keeps its place."""
        refit = not len(self.X)
        self.X, self.labels, self.clusters, self.movable = X, labels, clusters, movable
        centers = np.array([c.center if len(c.center) == 3 else [np.nan] * 3 for c in clusters], np.float64)
        if self.grabbed is not None and self.grabbed < len(centers):
            centers[self.grabbed] = self.centers[self.grabbed]
        elif self.grabbed is not None:
            self.grabbed = None
        self.centers = centers.reshape(-1, 3)
        if len(X):
            self.points.set_data(
                X.astype(np.float32), face_color=label_rgba(labels, 0.85), edge_width=0, size=marker_size(len(X))
            )
        self._draw_handles()
        if refit:
            self.fit()

    def fit(self) -> None:
        """Frame the data: box around it, camera centred on it."""
        if not len(self.X):
            return
        lo, hi = self.X.min(0).astype(float), self.X.max(0).astype(float)
        pad = 0.15 + np.maximum(0.0, 0.35 * (hi - lo).max() - (hi - lo)) / 2  # no side much thinner than the rest
        lo, hi = lo - pad, hi + pad
        self.box.set_data(pos=box_segments(lo, hi))
        ends = np.array([lo, lo, lo, lo, lo, lo], np.float32)
        for i in range(3):
            ends[2 * i + 1, i] = hi[i]
        self.axis_lines.set_data(pos=ends)
        label_pos = ends[1::2].copy()
        label_pos[np.arange(3), np.arange(3)] += 0.06 * float((hi - lo).max())
        self.axis_labels.pos = label_pos
        self.view.camera.center = tuple((lo + hi) / 2)
        self.view.camera.scale_factor = 0.95 * float(np.linalg.norm(hi - lo))
        self.canvas.update()

    def _draw_handles(self) -> None:
        shown = np.all(np.isfinite(self.centers), axis=1)
        if not shown.any():
            self.handles.visible = False
            return
        colors = np.ones((len(self.centers), 4), np.float32)
        colors[:, :3] = PALETTE[np.arange(len(self.centers)) % len(PALETTE)]
        self.handles.set_data(
            self.centers[shown].astype(np.float32),
            face_color=colors[shown],
            edge_color="white",
            edge_width=2.0,
            size=HANDLE_PX,
        )
        self.handles.visible = True
        self.canvas.update()

    # ----- projection -----------------------------------------------------------------
    def _to_canvas(self) -> scene.transforms.BaseTransform:
        return self.handles.get_transform("visual", "canvas")

    def handle_canvas_pos(self, k: int) -> tuple[float, float]:
        """Where center k is drawn, in canvas pixels (the shown image's coordinates)."""
        p = self._to_canvas().map(self.centers[k])
        return float(p[0] / p[3]), float(p[1] / p[3])

    def handle_at(self, pos: tuple[float, float]) -> int | None:
        """The movable handle nearest to canvas pixel `pos` within GRAB_PX, if any."""
        if not self.movable or not len(self.centers):
            return None
        p = self._to_canvas().map(self.centers)
        xy = p[:, :2] / p[:, 3:4]
        distance = np.linalg.norm(xy - np.asarray(pos, np.float64)[:2], axis=1)
        distance[~np.isfinite(distance)] = np.inf
        k = int(np.argmin(distance))
        return k if distance[k] <= GRAB_PX else None

    # ----- mouse ----------------------------------------------------------------------
    def _mouse_press(self, event) -> None:
        if event.button != 1:
            return
        k = self.handle_at(event.pos)
        if k is None:
            return
        self.grabbed, self._old = k, [float(v) for v in self.centers[k]]
        p = self._to_canvas().map(self.centers[k])
        self._depth = float(p[2] / p[3])
        event.blocked = True

    def _mouse_move(self, event) -> None:
        k = self.grabbed
        if k is None:
            return
        event.blocked = True
        q = self._to_canvas().imap([float(event.pos[0]), float(event.pos[1]), self._depth, 1.0])
        center = q[:3] / q[3]
        if not np.all(np.isfinite(center)):
            return
        self.centers[k] = center
        self._draw_handles()
        self.dragging.emit(k, [float(v) for v in center])

    def _mouse_release(self, event) -> None:
        k = self.grabbed
        if k is None:
            return
        event.blocked = True
        self.grabbed = None
        new = [float(v) for v in self.centers[k]]
        if new != self._old and k < len(self.clusters):
            self.clusters[k] = self.clusters[k].model_copy(update={"center": new})
            self.dragged.emit(k, self._old, new)

    def close_canvas(self) -> None:
        self.canvas.close()

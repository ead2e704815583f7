"""Embedding view: one titled vispy SceneCanvas in the window showing a simulation's
embeddings. The drawing itself (circle or sphere, points coloured by cluster, velocity and
cluster arrows, trails) is gui/embedding_scene.py's EmbeddingScene, shared with the
offscreen exporter; this widget adds the title and the arrow-scale label around it."""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget
from vispy import app as vispy_app
from vispy import scene

from gui.colors import BACKGROUND, MUTED
from gui.embedding_scene import EmbeddingScene
from sim import Frame

vispy_app.use_app("pyside6")


def _forward(name: str) -> property:
    """An attribute of the view that is the scene's attribute of the same name."""
    return property(
        lambda self: getattr(self.scene, name),
        lambda self, value: setattr(self.scene, name, value),
        doc=f"EmbeddingScene.{name}",
    )


class EmbeddingView(QWidget):
    """A titled canvas for one simulation's embeddings, drawn by an EmbeddingScene."""

    show_point_arrows = _forward("show_point_arrows")
    show_cluster_arrows = _forward("show_cluster_arrows")
    show_trails = _forward("show_trails")
    latent_dim = _forward("latent_dim")
    last_frame = _forward("last_frame")
    points = _forward("points")
    trails = _forward("trails")
    point_arrows = _forward("point_arrows")
    cluster_arrows = _forward("cluster_arrows")
    view = _forward("view")
    guide = _forward("guide")

    def __init__(self, title: str = "", parent: QWidget | None = None):
        super().__init__(parent)
        self.title = QLabel(title)
        self.title.setMinimumWidth(10)
        self.title.setStyleSheet("font-weight: 600; font-size: 13px;")
        self.scale_label = QLabel("")
        self.scale_label.setStyleSheet(f"color: {MUTED}; font-size: 11px;")
        self.scale_label.setMinimumWidth(10)
        self.scale_label.setToolTip(
            "Arrow length scale: the longest per-cluster arrow is drawn at 35% of the radius, the longest "
            "per-point arrow at 18%; the factor shown is displacement-per-step to drawn length."
        )
        header = QHBoxLayout()
        header.setContentsMargins(6, 2, 6, 0)
        header.addWidget(self.title)
        header.addStretch(1)
        header.addWidget(self.scale_label)

        self.canvas = scene.SceneCanvas(keys=None, bgcolor=BACKGROUND, size=(520, 520), show=False)
        self.canvas.native.setMinimumSize(240, 240)
        self.scene = EmbeddingScene(self.canvas)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(header)
        layout.addWidget(self.canvas.native, 1)

    def set_latent(self, m: int) -> None:
        self.scene.set_latent(m)

    def clear_trails(self) -> None:
        self.scene.clear_trails()

    def show_frame(self, frame: Frame) -> None:
        """Draw one frame and show the arrows' length scale in the header."""
        self.scale_label.setText(self.scene.show_frame(frame))

    def show_points(self, Z: np.ndarray, labels: np.ndarray) -> None:
        """Points only (for benchmarks and previews)."""
        self.scene.show_points(Z, labels)

    def grab_pixels(self) -> np.ndarray:
        """The canvas as an (h, w, 3) uint8 image, drawn now with OpenGL."""
        return self.scene.render()

    def close_canvas(self) -> None:
        self.canvas.close()

"""Embedding view: one titled vispy SceneCanvas (drawn offscreen, shown as an image) showing a simulation's
embeddings. The drawing itself (circle or sphere, points coloured by cluster, velocity and
cluster arrows, trails) is gui/embedding_scene.py's EmbeddingScene, shared with the
offscreen exporter; this widget adds the title, the arrow-scale label and a "fixed scale"
switch around it: beside the title when both fit, else on a line of their own under it (a
pane side by side is narrow and tall, so the title, which says which run it shows, stays
whole); a title too long even alone is cut with an ellipsis. Views made with one ArrowScale
(the two panes side by side) fix and share one scale."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget
from vispy import app as vispy_app
from vispy import scene

from gui.colors import BACKGROUND, MUTED
from gui.elided_label import ElidedLabel
from gui.embedding_scene import ArrowScale, EmbeddingScene
from gui.offscreen_canvas import CanvasImage
from sim import Frame

vispy_app.use_app("pyside6")


def _forward(name: str) -> property:
    """An attribute of the view that is the scene's attribute of the same name."""
    return property(
        lambda self: getattr(self.scene, name),
        lambda self, value: setattr(self.scene, name, value),
        doc=f"EmbeddingScene.{name}",
    )


SPARE = 40  # px a line needs to spare before the arrow scale goes back beside the title


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

    def __init__(self, title: str = "", parent: QWidget | None = None, arrow_scale: ArrowScale | None = None):
        super().__init__(parent)
        self.title = ElidedLabel(title)
        self.title.setStyleSheet("font-weight: 600; font-size: 13px;")
        self.scale_label = QLabel("")
        self.scale_label.setStyleSheet(f"color: {MUTED}; font-size: 11px;")
        self.scale_label.setToolTip(
            "Arrow length scale, displacement per step to drawn length. Free: each frame's longest per-cluster "
            "arrow is drawn at 35% of the radius, the longest per-point arrow at 18%. Fixed: the scale of the "
            "run's first frame, kept (and shared by the panes side by side) so lengths compare."
        )
        self.fixed_scale = QCheckBox("fixed")
        self.fixed_scale.setStyleSheet(f"color: {MUTED}; font-size: 11px;")
        self.fixed_scale.setToolTip(
            "Keep one arrow scale for the whole run (and both panes side by side), taken from its first frame, "
            "so arrow lengths compare between frames and panes; very long arrows are capped"
        )
        self.extras = QWidget()  # the arrow scale and its switch, beside the title or under it
        extras = QHBoxLayout(self.extras)
        extras.setContentsMargins(0, 0, 0, 0)
        extras.addWidget(self.scale_label)
        extras.addWidget(self.fixed_scale)
        self.header = QHBoxLayout()
        self.header.setContentsMargins(6, 2, 6, 0)
        self.header.addWidget(self.title, 1)
        self.header.addWidget(self.extras)
        self.under = QHBoxLayout()
        self.under.setContentsMargins(6, 0, 6, 0)
        self.under.addStretch(1)

        self.canvas = scene.SceneCanvas(keys=None, bgcolor=BACKGROUND, size=(520, 520), show=False)
        self.image = CanvasImage(self.canvas)  # drawn offscreen: gui/offscreen_canvas.py says why
        self.image.setMinimumSize(240, 240)
        self.scene = EmbeddingScene(self.canvas, arrow_scale)
        self.arrow_scale = self.scene.arrow_scale
        self.partner: EmbeddingView | None = None  # the other pane side by side: headers laid out alike
        self.arrow_scale.listeners.append(self._scale_changed)
        self.fixed_scale.setChecked(self.arrow_scale.fixed)
        self.fixed_scale.toggled.connect(self.arrow_scale.set_fixed)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(self.header)
        layout.addLayout(self.under)
        layout.addWidget(self.image, 1)

    def _scale_changed(self) -> None:
        """The shared scale was fixed or freed (here or in the other pane): show it, redraw."""
        self.fixed_scale.blockSignals(True)
        self.fixed_scale.setChecked(self.arrow_scale.fixed)
        self.fixed_scale.blockSignals(False)
        if self.last_frame is not None:
            self.show_frame(self.last_frame)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._place_extras()

    def _crowded(self, margin: int = 0) -> bool:
        """Whether the title and the arrow scale do not fit on one line with `margin` px to spare."""
        room = self.width() - 12 - self.header.spacing() - margin
        return self.title.fontMetrics().horizontalAdvance(self.title.text()) + self.extras.sizeHint().width() > room

    def _place_extras(self) -> None:
        """The arrow scale beside the title when both fit on the line, else under it; with a
        visible partner (the other pane side by side) both panes alike, so their pictures line up."""
        shown = [view for view in (self, self.partner) if view is not None and view.isVisible()] or [self]
        # back beside the title only with room to spare: a scale label a few characters longer
        # or shorter from frame to frame moved both pictures up and down by a line
        margin = SPARE if self.under.indexOf(self.extras) >= 0 else 0
        under = any(view._crowded(margin) for view in shown)
        for view in shown:
            here, there = (view.under, view.header) if under else (view.header, view.under)
            if here.indexOf(view.extras) < 0:
                there.removeWidget(view.extras)
                here.addWidget(view.extras)

    def set_latent(self, m: int) -> None:
        self.scene.set_latent(m)

    def clear_trails(self) -> None:
        self.scene.clear_trails()

    def show_frame(self, frame: Frame) -> None:
        """Draw one frame and show the arrows' length scale in the header, laid out at once: a
        scale a digit longer than the last was drawn in the last one's width until the next
        layout pass ("x2000(" for x20000)."""
        self.scale_label.setText(self.scene.show_frame(frame))
        self._place_extras()
        if self.scale_label.isVisible() and self.scale_label.width() < self.scale_label.sizeHint().width():
            self.extras.layout().activate()  # the label's box first, so the header sees its new width
            self.layout().activate()

    def show_points(self, Z: np.ndarray, labels: np.ndarray) -> None:
        """Points only (for benchmarks and previews)."""
        self.scene.show_points(Z, labels)

    def grab_pixels(self) -> np.ndarray:
        """The canvas as an (h, w, 3) uint8 image, drawn now with OpenGL."""
        return self.scene.render()

    def close_canvas(self) -> None:
        self.canvas.close()

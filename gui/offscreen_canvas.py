"""A vispy SceneCanvas drawn offscreen and shown in the window as an image.

Why: a window that holds a QOpenGLWidget is composed by Qt through OpenGL on every update of
any of its widgets; on software OpenGL (Mesa llvmpipe, what these machines and many laptops
without a GPU driver have) that composition of the whole window cost 0.4 of a core while a
run played (bench_gui, per-thread CPU), and with it the stepping thread lost about a tenth of
its steps. Drawn offscreen, the canvas's own drawing costs llvmpipe a few hundredths of a
core, and the window stays a plain raster one.

`CanvasImage` keeps the canvas's native widget off screen (it still has its OpenGL context),
renders the scene whenever vispy asks for an update (data, camera; several requests before
the next turn of the event loop give one render; none while hidden), paints the last image, and hands mouse
and wheel events to the canvas at the same local positions, so cameras pan, zoom and orbit
as on a canvas in the window.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QSize, Qt, QTimer
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QSizePolicy, QWidget
from vispy import scene


class CanvasImage(QWidget):
    """Shows `canvas` (a SceneCanvas made with show=False) rendered offscreen; the canvas
    follows this widget's size. `frames_rendered` counts the renders."""

    def __init__(self, canvas: scene.SceneCanvas, parent: QWidget | None = None):
        super().__init__(parent)
        self.canvas = canvas
        self.frames_rendered = 0
        self._image: QImage | None = None
        self._pixels: np.ndarray | None = None
        self._rendering = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self.render_now)
        native = canvas.native
        native.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen)
        native.show()
        canvas.update = self._request  # vispy's update requests (visuals, cameras) render here
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)

    def sizeHint(self) -> QSize:
        return QSize(*self.canvas.size)

    def _request(self, node=None) -> None:
        if not self._rendering:
            self._timer.start()

    def showEvent(self, event) -> None:
        """A view hidden while its data changed (the side-by-side pane, a closed dock) draws
        what it holds now."""
        self._request()
        super().showEvent(event)

    def render_now(self) -> None:
        """Draw the scene now and show it (nothing while hidden: see showEvent)."""
        self._timer.stop()
        if not self.isVisible():
            return
        self._rendering = True
        try:
            # (h, w, 4) read bottom row first: one copy of whole rows puts it in order
            pixels = np.ascontiguousarray(self.canvas.render(alpha=True))
        finally:
            self._rendering = False
        pixels[..., 3] = 255  # opaque, as Qt's RGBX format asks (translucent visuals leave alpha < 1)
        h, w = pixels.shape[:2]
        image = QImage(pixels.data, w, h, 4 * w, QImage.Format.Format_RGBX8888)
        image.setDevicePixelRatio(w / max(1, self.canvas.size[0]))
        self._image, self._pixels = image, pixels  # the image reads the array's memory: kept together
        self.frames_rendered += 1
        self.update()

    def paintEvent(self, event) -> None:
        if self._image is not None:
            painter = QPainter(self)
            painter.drawImage(0, 0, self._image)
            painter.end()

    def resizeEvent(self, event) -> None:
        size = (max(1, self.width()), max(1, self.height()))
        if tuple(self.canvas.size) != size:
            self.canvas.size = size
        self._request()
        super().resizeEvent(event)

    # the canvas's own handlers (vispy's Qt backend) take the events at the same local positions
    def mousePressEvent(self, event) -> None:
        self.canvas.native.mousePressEvent(event)

    def mouseReleaseEvent(self, event) -> None:
        self.canvas.native.mouseReleaseEvent(event)

    def mouseMoveEvent(self, event) -> None:
        self.canvas.native.mouseMoveEvent(event)

    def mouseDoubleClickEvent(self, event) -> None:
        self.canvas.native.mouseDoubleClickEvent(event)

    def wheelEvent(self, event) -> None:
        self.canvas.native.wheelEvent(event)

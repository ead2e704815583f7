"""Point splatting: a large point cloud drawn as one image in a vispy view.

A software OpenGL (Mesa's llvmpipe, what a machine without a GPU draws with) spends about
half a microsecond setting up each point primitive whatever its size, so 100k Markers draw
at ~20 frames/s there. Writing the points' pixels with numpy and drawing one textured quad
takes a few milliseconds instead. The embedding scene splats beyond SPLAT_MIN_POINTS points,
where its markers are 2-3 px squares without antialiasing anyway, on every machine, so the
picture does not depend on the renderer. This module owns the projection of the points to
the view's pixels, the pixel writing (far points first on the sphere, so near ones cover
them) and keeping the image in step with the camera."""

from __future__ import annotations

import numpy as np
from vispy import scene
from vispy.visuals.transforms import MatrixTransform

SPLAT_MIN_POINTS = 20000


def pack_rgba(colors: np.ndarray) -> np.ndarray:
    """(n, 4) float colours in [0, 1] as n uint32 words whose bytes are R, G, B, A."""
    rgba8 = np.ascontiguousarray(np.clip(colors, 0.0, 1.0) * 255.0 + 0.5, dtype=np.float32).astype(np.uint8)
    return rgba8.view(np.uint32).reshape(-1)


def splat(xy: np.ndarray, packed: np.ndarray, size: int, shape: tuple[int, int]) -> np.ndarray:
    """An (h, w, 4) uint8 image with each point a size x size square of its colour, centred
    on its pixel coordinates xy (x right, y down); later points cover earlier ones, points not
    wholly inside are left out, the rest of the image is transparent."""
    h, w = shape
    image = np.zeros(h * w, dtype=np.uint32)
    x0 = np.floor(xy[:, 0] - size / 2 + 0.5)
    y0 = np.floor(xy[:, 1] - size / 2 + 0.5)
    inside = (x0 >= 0) & (y0 >= 0) & (x0 <= w - size) & (y0 <= h - size)
    corner = (y0[inside] * w + x0[inside]).astype(np.intp)
    offsets = (np.arange(size)[:, None] * w + np.arange(size)[None, :]).reshape(-1)
    # one assignment in point order, so where squares overlap the later point wins
    image[(corner[:, None] + offsets[None, :]).reshape(-1)] = np.repeat(packed[inside], size * size)
    return image.view(np.uint8).reshape(h, w, 4)


def projective_matrix(transform) -> np.ndarray:
    """The 4 x 4 matrix M of a vispy transform that is linear in homogeneous coordinates
    (p -> p @ M for row vectors), read off by mapping the unit vectors."""
    return np.asarray(transform.map(np.eye(4)), dtype=np.float64)


class PointSplat:
    """An Image visual in `view.scene` whose pixels are the view's pixels: its transform is
    the inverse of the camera's, and on every camera change (pan, zoom, orbit, resize) both
    that inverse and the picture are redone from the last points."""

    def __init__(self, view: scene.widgets.ViewBox, order: int):
        self.view = view
        self.image = scene.visuals.Image(
            np.zeros((1, 1, 4), np.uint8), parent=view.scene, interpolation="nearest", texture_format="auto"
        )
        self.image.set_gl_state("translucent", depth_test=False, cull_face=False)
        self.image.clim = (0, 255)
        self.image.order = order
        self.image.visible = False
        self._inverse = MatrixTransform()
        self.image.transform = self._inverse
        self._last: tuple[np.ndarray, np.ndarray, int] | None = None
        view.scene.events.transform_change.connect(self._camera_changed)

    @property
    def visible(self) -> bool:
        return self.image.visible

    def show(self, Z: np.ndarray, colors: np.ndarray, size: int) -> None:
        """Draw the points Z (n, 2 or 3) with (n, 4) float colours as size-pixel squares."""
        self._last = (np.asarray(Z, dtype=np.float32), pack_rgba(colors), int(size))
        self.image.visible = True
        self._draw()

    def hide(self) -> None:
        self._last = None
        self.image.visible = False

    def _camera_changed(self, event=None) -> None:
        if self._last is not None:
            self._draw()

    def _draw(self) -> None:
        Z, packed, size = self._last
        width, height = (max(1, round(s)) for s in self.view.size)
        M = projective_matrix(self.view.scene.transform)
        self._inverse.matrix = np.linalg.inv(M)
        m = Z.shape[1]
        p = Z @ M[:m].astype(np.float32) + M[3].astype(np.float32)  # (Z, 0.., 1) @ M
        xy = p[:, :2] / p[:, 3:4]
        if Z.shape[1] == 3:  # the far side of the sphere first (w grows with distance from the eye)
            far = p[:, 3] > M[3, 3]
            order = np.concatenate([np.flatnonzero(far), np.flatnonzero(~far)])
            xy, packed = xy[order], packed[order]
        self.image.set_data(splat(xy, packed, size, (height, width)))
        self.image.update()

"""Point splatting (gui/point_splat.py): the pixel writer against a loop reference, the
camera's matrix against vispy's own mapping, and big clouds drawn where they belong (read
back from OpenGL), following zoom, with near points covering far ones on the sphere."""

from __future__ import annotations

import numpy as np
import pytest
from vispy import scene

from gui.colors import PALETTE, label_rgba
from gui.embedding_scene import EmbeddingScene
from gui.point_splat import SPLAT_MIN_POINTS, pack_rgba, projective_matrix, splat


def reference_splat(xy, rgba8, size, shape):
    h, w = shape
    image = np.zeros((h, w, 4), np.uint8)
    for (x, y), color in zip(xy, rgba8):
        left, top = int(np.floor(x - size / 2 + 0.5)), int(np.floor(y - size / 2 + 0.5))
        if left < 0 or top < 0 or left + size > w or top + size > h:
            continue
        image[top : top + size, left : left + size] = color
    return image


@pytest.mark.parametrize("size", [1, 2, 3])
def test_splat_paints_squares_in_order_like_a_loop(size) -> None:
    rng = np.random.default_rng(size)
    shape = (23, 31)
    xy = rng.uniform(-3, 34, (400, 2))
    xy[:50] = xy[50:100].round() + 0.5  # exact ties and overlaps: the later point must win
    colors = rng.uniform(0, 1, (400, 4))
    rgba8 = (colors * 255 + 0.5).astype(np.uint8)
    got = splat(xy, pack_rgba(colors), size, shape)
    np.testing.assert_array_equal(got, reference_splat(xy, rgba8, size, shape))


@pytest.fixture
def canvas(qtbot):
    canvas = scene.SceneCanvas(size=(300, 260), show=True, bgcolor="black")
    yield canvas
    canvas.close()


def lit_by_palette(image: np.ndarray, k: int) -> np.ndarray:
    color = np.round(np.asarray(PALETTE[k]) * 255).astype(int)
    return np.all(np.abs(image.astype(int) - color) <= 1, axis=2)


def test_projective_matrix_reproduces_the_camera_mapping(canvas) -> None:
    es = EmbeddingScene(canvas)
    rng = np.random.default_rng(0)
    for m in (2, 3):
        es.set_latent(m)
        canvas.render()
        points = rng.normal(size=(20, 3))
        mapped = es.view.scene.transform.map(points)
        homogeneous = np.concatenate([points, np.ones((20, 1))], 1) @ projective_matrix(es.view.scene.transform)
        np.testing.assert_allclose(homogeneous[:, :2] / homogeneous[:, 3:], mapped[:, :2] / mapped[:, 3:], atol=1e-3)


def test_a_big_cloud_on_the_circle_lands_on_the_circle_and_follows_the_zoom(canvas) -> None:
    es = EmbeddingScene(canvas)
    n = SPLAT_MIN_POINTS + 5000
    angle = np.linspace(0, 2 * np.pi, n, endpoint=False)
    Z = np.stack([np.cos(angle), np.sin(angle)], 1).astype(np.float32)
    labels = (np.arange(n) * 4 // n).astype(int)  # four quarter arcs
    es.show_points(Z, labels)
    assert es.splat.visible and not es.points.visible

    def radii_and_quarters():
        image = es.render()
        center = es.view.scene.transform.map([[0, 0]])[0, :2]
        unit = es.view.scene.transform.map([[1, 0]])[0, 0] - center[0]
        found = {}
        for k in range(4):
            rows, cols = np.nonzero(lit_by_palette(image, k))
            assert len(rows) > 100, f"cluster {k} not drawn"
            found[k] = (np.hypot(cols + 0.5 - center[0], rows + 0.5 - center[1]) / unit, cols, rows)
        return found, center

    found, center = radii_and_quarters()
    for k, (radius, cols, rows) in found.items():
        assert np.all(np.abs(radius - 1) < 0.05), k
        # arc k spans angles [k pi / 2, (k + 1) pi / 2): y grows downwards on screen
        theta = np.mod(np.arctan2(center[1] - (rows + 0.5), cols + 0.5 - center[0]), 2 * np.pi)
        assert np.median(theta) == pytest.approx((k + 0.5) * np.pi / 2, abs=0.1)
    unit_before = es.view.scene.transform.map([[1, 0]])[0, 0] - center[0]
    es.view.camera.zoom(2.0)  # zoom out: the circle halves on screen
    found, center = radii_and_quarters()
    unit_after = es.view.scene.transform.map([[1, 0]])[0, 0] - center[0]
    assert unit_after == pytest.approx(unit_before / 2, rel=1e-3)
    for radius, _, _ in found.values():
        assert np.all(np.abs(radius - 1) < 0.05)


def test_on_the_sphere_the_near_point_covers_the_far_one(canvas) -> None:
    es = EmbeddingScene(canvas)
    es.set_latent(3)
    canvas.render()
    M = projective_matrix(es.view.scene.transform)
    center = M[3, :2] / M[3, 3]
    # the eye ray through the sphere's centre: the points whose image is the centre's
    a = M[:3, 0] - center[0] * M[:3, 3]
    b = M[:3, 1] - center[1] * M[:3, 3]
    ray = np.cross(a, b)
    ray /= np.linalg.norm(ray)
    near, far = (ray, -ray) if ray @ M[:3, 3] < 0 else (-ray, ray)
    px = tuple(int(c) for c in center)
    for order in ([near, far], [far, near]):
        colors = label_rgba(np.array([0 if p is near else 1 for p in order]))
        es.splat.show(np.array(order, np.float32), colors, 3)
        image = es.render()
        assert lit_by_palette(image, 0)[px[1], px[0]], "the near point's colour must win"

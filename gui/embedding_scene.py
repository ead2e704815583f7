"""Embedding scene: the vispy drawing of one simulation's embeddings on a given SceneCanvas,
with no Qt in it, so the window (gui/embedding_view.py) and the offscreen exporter
(gui/export.py) draw with the same code. It shows the clean samples on the circle (2-D
pan/zoom) or the translucent sphere (3-D orbit camera), coloured by cluster, with optional
per-point velocity arrows, per-cluster mean arrows (both tangent to the sphere, scaled by
an ArrowScale: per frame, or fixed for a run and shared by the panes side by side) and
fading trails; one set_data per visual per frame."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable

import numpy as np
from vispy import scene

from gui.colors import GUIDE, cluster_rgb, label_rgba
from gui.point_splat import SPLAT_MIN_POINTS, PointSplat
from sim import Frame

POINT_ARROW_FRACTION = 0.18
CLUSTER_ARROW_FRACTION = 0.35
CLUSTER_ARROW_RADIUS = 1.1
MIN_HEAD_PIXELS = 4.0
TRAIL_LENGTH = 24
TRAIL_MAX_POINTS = 4000
ARROW_MAX_POINTS = 4000
FIXED_CAP = 3.0
REST_EPS = 100  # velocities at most this many machine epsilons long are round-off (at_rest)


def marker_size(n: int) -> float:
    """Marker diameter in pixels for n points: big for a few hundred, small for 100k."""
    if n <= 1000:
        return 8.0
    if n <= 20000:
        return 5.0
    return 2.0 if n > 50000 else 3.0


def at_rest(v: np.ndarray) -> bool:
    """Whether the vectors v (rows, at least one) are all round-off: none longer than
    REST_EPS machine epsilons of their dtype (a stationary start, uniform-start's, gave
    velocities of 1e-17 that a free scale drew at full length, "x1.5e+17")."""
    eps = np.finfo(v.dtype).eps if np.issubdtype(v.dtype, np.floating) else np.finfo(np.float64).eps
    return len(v) > 0 and float(np.linalg.norm(v, axis=1).max()) <= REST_EPS * eps


def arrow_scale(v: np.ndarray, fraction: float) -> float:
    """The factor that makes the longest of the vectors v (rows) `fraction` of the radius;
    0 (no arrows) when there are none, they are not finite or they are at rest (round-off)."""
    longest = float(np.linalg.norm(v, axis=1).max()) if len(v) else 0.0
    return fraction / longest if longest > 0 and np.isfinite(longest) and not at_rest(v) else 0.0


class ArrowScale:
    """The factor from a velocity (displacement per step) to a drawn arrow, per kind of
    arrow ('points', 'clusters'). Not fixed: each frame's own, so that its longest arrow is
    the kind's fraction of the radius (lengths compare within a frame only). Fixed: the
    factor taken when the run's first frame is drawn (the smallest over the panes that share
    this object, so the longest arrow in any pane fits) and kept until a new run starts (a
    frame with an earlier step), so lengths compare between frames and panes; an arrow more
    than FIXED_CAP times its kind's fraction is drawn at that length. `listeners` are called
    when `fixed` changes."""

    def __init__(self, fixed: bool = False):
        self.fixed = fixed
        self.factors: dict[str, tuple[float, int]] = {}
        self.last_step: int | None = None
        self.listeners: list[Callable[[], None]] = []

    def set_fixed(self, on: bool) -> None:
        """Fix (from the next frame drawn) or free the scale, and tell the listeners."""
        if on != self.fixed:
            self.fixed = on
            self.factors.clear()
            for listener in self.listeners:
                listener()

    def factor(self, kind: str, v: np.ndarray, fraction: float, step: int) -> float:
        """The factor for the vectors v (rows) of a frame at `step` (0 when there is none)."""
        auto = arrow_scale(v, fraction)
        if not self.fixed:
            return auto
        if self.last_step is not None and step < self.last_step:
            self.factors.clear()
        self.last_step = step
        taken = self.factors.get(kind)
        if auto and (taken is None or (taken[1] == step and auto < taken[0])):
            self.factors[kind] = (auto, step)
        return self.factors[kind][0] if kind in self.factors else auto

    def describe(self, kind: str, factor: float, v: np.ndarray) -> str:
        """'clusters x14' (x0.097, x100, x35000), with ' (fixed)' when fixed; 'clusters at
        rest' when the vectors v are round-off; '' without arrows."""
        if at_rest(v):
            return f"{kind} at rest"
        # two significant digits, written out below a million (x100, not x1e+02)
        return f"{kind} x{float(f'{factor:.2g}'):g}" + (" (fixed)" if self.fixed else "") if factor else ""


def capped(v: np.ndarray, factor: float, longest: float) -> np.ndarray:
    """factor * v (rows), each row no longer than `longest`."""
    drawn = factor * v
    length = np.linalg.norm(drawn, axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(length > longest, drawn * (longest / length), drawn)


def sphere_grid(latitudes: int = 5, meridians: int = 12, samples: int = 96) -> np.ndarray:
    """Segments of latitude circles and meridians on the unit sphere, for the 3-D guide."""
    t = np.linspace(0, 2 * np.pi, samples + 1)
    curves = []
    for lat in np.linspace(-np.pi / 2, np.pi / 2, latitudes + 2)[1:-1]:
        curves.append(np.stack([np.cos(lat) * np.cos(t), np.cos(lat) * np.sin(t), np.full_like(t, np.sin(lat))], 1))
    half = np.linspace(-np.pi / 2, np.pi / 2, samples // 2 + 1)
    for lon in np.linspace(0, 2 * np.pi, meridians, endpoint=False):
        curves.append(np.stack([np.cos(half) * np.cos(lon), np.cos(half) * np.sin(lon), np.sin(half)], 1))
    segments = [np.stack([c[:-1], c[1:]], 1).reshape(-1, 3) for c in curves]
    return np.concatenate(segments).astype(np.float32)


class FittingTurntableCamera(scene.TurntableCamera):
    """A TurntableCamera whose field of view `fov` spans the canvas's smaller side. vispy's
    spans the height, so in a view taller than wide the sides are cut off (a sphere framed
    for the height overflows the width); here a tall view widens its vertical angle instead,
    tan(fov_v / 2) = tan(fov / 2) * h / w, and what fits a square view fits any shape."""

    def _update_projection_transform(self, fx: float, fy: float) -> None:
        super()._update_projection_transform(fx, fy)
        if self._fov and fx < fy:
            fov = 2 * math.degrees(math.atan(math.tan(math.radians(self._fov) / 2) * fy / fx))
            dist, depth = self._actual_distance, math.sqrt(self.depth_value * 10)
            self._projection.set_perspective(fov, fx / fy, dist / depth, dist * depth)


class EmbeddingScene:
    """The visuals of one embedding panel, built on `canvas`; `show_frame` draws a Frame."""

    def __init__(self, canvas: scene.SceneCanvas, arrow_scale: ArrowScale | None = None):
        self.canvas = canvas
        self.arrow_scale = arrow_scale or ArrowScale()
        self.show_point_arrows = False
        self.show_cluster_arrows = True
        self.show_trails = False
        self.latent_dim = 0
        self.partner: EmbeddingScene | None = None  # a scene whose camera this one shares (share_camera)
        self._trail: deque[tuple[int, np.ndarray]] = deque(maxlen=TRAIL_LENGTH)
        self._trail_key: tuple[int, int] | None = None
        self.last_frame: Frame | None = None

        self.view = canvas.central_widget.add_view()
        self.guide: scene.visuals.VisualNode | None = None
        self.trails = scene.visuals.Markers(parent=self.view.scene, antialias=0)
        self.points = scene.visuals.Markers(parent=self.view.scene, antialias=0.5)
        empty = np.zeros((2, 2), np.float32)
        self.trails.set_data(empty, size=1)
        self.points.set_data(empty, size=1)
        for order, visual in ((0, self.trails), (2, self.points)):
            visual.visible = False
            visual.order = order
        self._make_arrows(2)
        self.view.scene.events.transform_change.connect(self._place_cluster_heads)
        self.splat = PointSplat(self.view, order=self.points.order)
        self.set_latent(2)

    # ----- scene setup ----------------------------------------------------------------
    def _make_arrows(self, m: int) -> None:
        """New (empty, hidden) arrow visuals for m-D positions: a vispy line keeps the vertex
        size of its first draw, so another dimension needs new ones."""
        for old in (getattr(self, "point_arrows", None), getattr(self, "cluster_arrows", None)):
            if old is not None:
                old.parent = None
        self.point_arrows = scene.visuals.Line(parent=self.view.scene, connect="segments", width=1)
        self.cluster_arrows = scene.visuals.Arrow(
            parent=self.view.scene, connect="segments", width=3, arrow_size=14, arrow_type="triangle_60"
        )
        self.point_arrows.set_data(pos=np.zeros((2, m), np.float32))
        self.cluster_arrows.set_data(pos=np.zeros((2, m), np.float32), arrows=np.zeros((1, 2 * m), np.float32))
        for order, visual in ((1, self.point_arrows), (3, self.cluster_arrows)):
            visual.visible = False
            visual.order = order
        self._cluster_heads: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def set_latent(self, m: int) -> None:
        """Circle with a pan/zoom camera (m = 2) or translucent sphere with an orbit camera (m = 3)."""
        if m == self.latent_dim:
            return
        if self.latent_dim:
            self._make_arrows(m)
        self.latent_dim = m
        if self.guide is not None:
            self.guide.parent = None
        if m == 2:
            angle = np.linspace(0, 2 * np.pi, 361)
            circle = np.stack([np.cos(angle), np.sin(angle)], axis=1).astype(np.float32)
            self.guide = scene.visuals.Line(circle, color=GUIDE, width=1.5, parent=self.view.scene)
            self.view.camera = scene.PanZoomCamera(aspect=1, rect=(-1.3, -1.3, 2.6, 2.6))
        else:
            self.guide = scene.visuals.Sphere(
                radius=0.985, method="latitude", rows=32, cols=64, color=(0.45, 0.5, 0.58, 0.10), parent=self.view.scene
            )
            self.guide.mesh.set_gl_state("translucent", depth_test=False, cull_face=False)
            scene.visuals.Line(sphere_grid(), color=(0.6, 0.65, 0.72, 0.35), connect="segments", parent=self.guide)
            self.view.camera = FittingTurntableCamera(fov=30, distance=6.5, elevation=25, azimuth=30)
        self.guide.order = -1
        self._link_camera()
        self.clear_trails()

    def share_camera(self, other: EmbeddingScene) -> None:
        """Keep this scene's camera and `other`'s in step (the panes side by side: one turn of
        the sphere turns both, so the same start is seen from the same side), now and after
        either changes its latent dimension."""
        self.partner, other.partner = other, self
        self._link_camera()

    def _link_camera(self) -> None:
        """Link the camera to the partner's when both show the same latent dimension, taking
        the partner's view."""
        other = self.partner
        if other is not None and other.latent_dim == self.latent_dim and self.latent_dim:
            self.view.camera.set_state(other.view.camera.get_state())
            self.view.camera.link(other.view.camera)

    def clear_trails(self) -> None:
        self._trail.clear()
        self.trails.visible = False

    # ----- drawing --------------------------------------------------------------------
    def show_frame(self, frame: Frame) -> str:
        """Draw one frame (points, arrows for the kernel the frame's run uses, trails) and
        return the text that states the arrows' length scale ('' without arrows)."""
        self.last_frame = frame
        Z = frame.Z
        self.set_latent(Z.shape[1])
        colors = label_rgba(frame.labels)
        self._set_points(Z, colors)
        self._draw_trails(frame, colors)
        text = []
        velocity = frame.velocity.get(frame.kernel)
        self.point_arrows.visible = self.cluster_arrows.visible = False  # each draw shows its own
        if self.show_point_arrows and velocity is not None:
            text.append(self._draw_point_arrows(Z, velocity, colors, frame.step))
        cluster_v = frame.cluster_velocity.get(frame.kernel)
        if self.show_cluster_arrows and cluster_v is not None:
            text.append(self._draw_cluster_arrows(frame.centers, cluster_v, frame.step))
        self.canvas.update()
        return ("arrows: " + ", ".join(t for t in text if t)) if any(text) else ""

    def show_points(self, Z: np.ndarray, labels: np.ndarray) -> None:
        """Points only (for benchmarks and previews)."""
        self.set_latent(Z.shape[1])
        self._set_points(Z, label_rgba(labels))
        self.canvas.update()

    def _set_points(self, Z: np.ndarray, colors: np.ndarray) -> None:
        """One set_data for all points: antialiased markers up to SPLAT_MIN_POINTS points,
        beyond that one image of 2-3 px squares (gui/point_splat.py says why)."""
        if len(Z) > SPLAT_MIN_POINTS:
            self.points.visible = False
            self.splat.show(Z, colors, int(marker_size(len(Z))))
            return
        self.splat.hide()
        self.points.set_data(Z, face_color=colors, edge_width=0, size=marker_size(len(Z)))
        self.points.visible = True

    def _draw_point_arrows(self, Z: np.ndarray, v: np.ndarray, colors: np.ndarray, at_step: int) -> str:
        step = max(1, len(Z) // ARROW_MAX_POINTS)
        Z, v, colors = Z[::step], v[::step], colors[::step]
        scale = self.arrow_scale.factor("points", v, POINT_ARROW_FRACTION, at_step)
        self.point_arrows.visible = bool(scale) and not at_rest(v)
        seg = np.empty((2 * len(Z), Z.shape[1]), dtype=np.float32)
        seg[0::2], seg[1::2] = Z, Z + capped(v, scale, FIXED_CAP * POINT_ARROW_FRACTION)
        rgba = np.repeat(colors, 2, axis=0)
        rgba[:, 3] = 0.75
        self.point_arrows.set_data(pos=seg, color=rgba)
        return self.arrow_scale.describe("points", scale, v)

    def _draw_cluster_arrows(self, centers: np.ndarray, v: np.ndarray, at_step: int) -> str:
        ok = np.all(np.isfinite(centers), axis=1) & np.all(np.isfinite(v), axis=1)
        centers, v = centers[ok], v[ok]
        scale = self.arrow_scale.factor("clusters", v, CLUSTER_ARROW_FRACTION, at_step)
        if not scale or at_rest(v):
            return self.arrow_scale.describe("clusters", scale, v)
        self.cluster_arrows.visible = True
        start = centers * CLUSTER_ARROW_RADIUS
        end = start + capped(v, scale, FIXED_CAP * CLUSTER_ARROW_FRACTION)
        seg = np.empty((2 * len(centers), centers.shape[1]), dtype=np.float32)
        seg[0::2], seg[1::2] = start, end
        ks = np.flatnonzero(ok)
        rgb = np.array([cluster_rgb(int(k)) for k in ks], dtype=np.float32)
        rgba = np.concatenate([0.55 + 0.45 * rgb, np.ones((len(rgb), 1), np.float32)], axis=1)
        self.cluster_arrows.set_data(pos=seg, color=np.repeat(rgba, 2, axis=0))
        self._cluster_heads = (start.astype(np.float32), end.astype(np.float32), rgba)
        self._place_cluster_heads()
        return self.arrow_scale.describe("clusters", scale, v)

    def _place_cluster_heads(self, event=None) -> None:
        """Heads on the cluster arrows that have a direction on screen (at least MIN_HEAD_PIXELS
        long there): seen end on, as on the sphere one can be, the head shader would fill its
        whole square. Placed again whenever the camera moves."""
        if self._cluster_heads is None:
            return
        start, end, rgba = self._cluster_heads
        to_canvas = self.cluster_arrows.get_transform("visual", "canvas")
        a, b = to_canvas.map(start), to_canvas.map(end)
        shown = np.linalg.norm(b[:, :2] / b[:, 3:] - a[:, :2] / a[:, 3:], axis=1) >= MIN_HEAD_PIXELS
        heads = np.concatenate([start, end], axis=1)[shown]
        if not len(heads):  # the visual wants one head at least: a transparent one
            heads, rgba, shown = np.concatenate([start, end], axis=1)[:1], np.zeros((1, 4), np.float32), [0]
        self.cluster_arrows.arrow_color = rgba[shown]
        self.cluster_arrows.set_data(arrows=heads)

    def _draw_trails(self, frame: Frame, colors: np.ndarray) -> None:
        key = (len(frame.Z), frame.Z.shape[1])
        if key != self._trail_key or (self._trail and frame.step < self._trail[-1][0]):
            self._trail.clear()
            self._trail_key = key
        if not self.show_trails or len(frame.Z) > TRAIL_MAX_POINTS:
            self.trails.visible = False
            self._trail.clear()
            return
        if self._trail and self._trail[-1][0] == frame.step:
            self._trail.pop()
        if self._trail:
            past = np.concatenate([z for _, z in self._trail])
            count = len(self._trail)
            alpha = np.repeat(np.linspace(0.08, 0.45, count), len(frame.Z)).astype(np.float32)
            rgba = np.tile(colors, (count, 1))
            rgba[:, 3] = alpha
            self.trails.set_data(past, face_color=rgba, edge_width=0, size=3)
            self.trails.visible = True
        self._trail.append((frame.step, frame.Z.copy()))

    def render(self) -> np.ndarray:
        """The canvas as an (h, w, 3) uint8 image, drawn now with OpenGL."""
        return self.canvas.render(alpha=False)

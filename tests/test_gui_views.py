"""What the views draw: a screenshot of the embedding canvas (real OpenGL under Xvfb and
Mesa) shows every cluster's colour on the circle; the side-by-side twin runs the identity
kernel in lockstep from the same start; arrows, trails and the 3-D sphere draw."""

from __future__ import annotations

import numpy as np
import pytest
from gui_support import frame, open_window, show_exposed, wait_for, wait_step
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtOpenGLWidgets import QOpenGLWidget
from test_gui_edits import drag

from gui.colors import PALETTE
from sim.commands import Step


def colour_pixels(image: np.ndarray, rgb: np.ndarray, tol: int = 6) -> np.ndarray:
    """Mask of pixels within `tol` of a palette colour (0-1 floats)."""
    target = np.round(rgb * 255).astype(int)
    return np.all(np.abs(image[..., :3].astype(int) - target) <= tol, axis=-1)


def test_screenshot_shows_every_cluster_colour_on_the_circle(qtbot, tmp_path) -> None:
    window = open_window(qtbot, tmp_path)
    window.send(Step(150))
    f = wait_step(qtbot, window, 150)
    image = window.main_view.grab_pixels()
    h, w = image.shape[:2]
    assert image.shape[2] in (3, 4) and h > 200 and w > 200
    ys, xs = np.mgrid[0:h, 0:w]
    for k in range(int(f.labels.max()) + 1):
        mask = colour_pixels(image, PALETTE[k])
        assert mask.sum() >= 20, f"cluster {k + 1}'s colour is missing from the screenshot"
        # the coloured pixels sit on the circle: at a common distance from the canvas center
        r = np.hypot(xs[mask] - w / 2, ys[mask] - h / 2)
        assert np.ptp(np.percentile(r, [10, 90])) < 0.1 * min(h, w)
        assert 0.25 * min(h, w) < np.median(r) < 0.5 * min(h, w)
    background = colour_pixels(image, np.array([0x15, 0x17, 0x1A]) / 255, tol=2)
    assert background.mean() > 0.5


def test_side_by_side_runs_identity_in_lockstep_from_the_same_start(qtbot, tmp_path) -> None:
    window = open_window(qtbot, tmp_path)
    qtbot.mouseClick(window.controls.side_by_side, Qt.MouseButton.LeftButton)
    wait_for(qtbot, lambda: len(window.snapshot.frames) == 2)
    main, twin = window.snapshot.frames
    assert window.twin_view.isVisible()
    assert (main.kernel, twin.kernel) == ("nn", "identity")
    np.testing.assert_array_equal(main.Z, twin.Z)
    window.set_playing(True)
    wait_for(qtbot, lambda: frame(window).step >= 30)
    window.set_playing(False)
    wait_for(qtbot, lambda: not window.snapshot.playing)
    main, twin = window.snapshot.frames
    assert main.step == twin.step
    assert not np.allclose(main.Z, twin.Z)
    assert window.twin_view.last_frame is twin
    assert window.twin_view.title.text() == "identity kernel (same start)"
    window.set_side_by_side(False)
    wait_for(qtbot, lambda: len(window.snapshot.frames) == 1)
    assert not window.twin_view.isVisible()
    # turned on again during the run, the twin is a copy of the run now, and says so
    window.set_side_by_side(True)
    wait_for(qtbot, lambda: len(window.snapshot.frames) == 2)
    at = window.snapshot.frames[1].started_at
    assert at == main.step and window.twin_view.title.text() == f"identity kernel (from step {at})"
    assert f"side by side, from step {at}" in window.curves.key_labels[1].text()
    options, _ = window.files.export_defaults("mp4")  # an export shows the same comparison
    assert "twin" in options.panels and options.twin_from == at


def test_arrows_and_trails_draw_scaled_tangent_vectors(qtbot, tmp_path) -> None:
    window = open_window(qtbot, tmp_path)
    window.controls.point_arrows.setChecked(True)
    window.controls.trails.setChecked(True)
    for _ in range(3):
        window.step_once()
    f = wait_step(qtbot, window, 3)
    view = window.main_view
    assert view.point_arrows.visible and view.cluster_arrows.visible and view.trails.visible
    seg = view.point_arrows._pos.reshape(-1, 2, 2)
    tips = seg[:, 1] - seg[:, 0]
    np.testing.assert_allclose(seg[:, 0], f.Z, atol=1e-6)
    assert np.abs(np.sum(tips * seg[:, 0], axis=1)).max() < 1e-4  # tangent to the circle
    assert (
        np.linalg.norm(tips, axis=1).max() == np.float32(0.18) or abs(np.linalg.norm(tips, axis=1).max() - 0.18) < 1e-4
    )
    assert "clusters x" in view.scale_label.text()


def test_three_d_preset_draws_on_the_sphere(qtbot, tmp_path) -> None:
    window = open_window(qtbot, tmp_path, preset="appendix-b-3d")
    window.send(Step(100))
    f = wait_step(qtbot, window, 100)
    assert f.Z.shape[1] == 3 and window.main_view.latent_dim == 3
    image = window.main_view.grab_pixels()
    found = [colour_pixels(image, PALETTE[k]).sum() for k in range(4)]
    assert min(found) >= 20
    assert window.input_view.axes_box.isVisibleTo(window.input_view)


def shown_pixels(widget) -> np.ndarray:
    """(h, w, 3) uint8: what `widget` shows on screen, grabbed through Qt."""
    image = widget.grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
    rows = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.bytesPerLine())
    return rows[:, : 3 * image.width()].reshape(image.height(), image.width(), 3).copy()


@pytest.mark.filterwarnings("ignore:Function.*QMouseEvent.pos:DeprecationWarning")
def test_the_views_show_their_canvases_drawn_offscreen_and_a_drag_orbits_the_sphere(qtbot, tmp_path) -> None:
    """Issue 15: a window holding an OpenGL widget is composed through OpenGL on every update,
    0.4 of a core on software OpenGL; the embedding views draw offscreen and show the image.
    The window holds no OpenGL widget; what a view shows is what its canvas draws (by
    pixels); a drag on the 3-D view orbits its camera, as on a canvas in the window."""
    window = open_window(qtbot, tmp_path)
    assert window.findChildren(QOpenGLWidget) == []
    window.close()
    window = open_window(qtbot, tmp_path, preset="appendix-b-3d")
    window.send(Step(60))
    wait_step(qtbot, window, 60)
    assert window.findChildren(QOpenGLWidget) == []  # the 3-D input view's orbit too
    view = window.main_view
    wait_for(qtbot, lambda: view.image.frames_rendered > 0 and view.last_frame.step == 60)
    qtbot.waitUntil(lambda: not view.image._timer.isActive())
    shown = shown_pixels(view.image)
    drawn = view.grab_pixels()
    assert shown.shape == drawn.shape
    assert (np.abs(shown.astype(int) - drawn).max(axis=-1) > 8).mean() < 0.001
    assert min(colour_pixels(shown, PALETTE[k]).sum() for k in range(4)) >= 20

    camera = view.view.camera
    azimuth, rendered = camera.azimuth, view.image.frames_rendered
    w, h = view.image.width(), view.image.height()
    drag(view.image, (w / 2, h / 2), (w / 2 + 90, h / 2))
    assert abs(camera.azimuth - azimuth) > 10
    wait_for(qtbot, lambda: view.image.frames_rendered > rendered)
    wait_for(qtbot, lambda: (np.abs(shown_pixels(view.image).astype(int) - shown).max(axis=-1) > 8).mean() > 0.01)


def test_a_hidden_view_renders_nothing_and_draws_what_it_holds_when_shown(qtbot) -> None:
    """Render only what is seen: points set on a hidden view cost no OpenGL work; shown, the
    view draws them at once (by pixels, in the clusters' colours)."""
    from gui.embedding_view import EmbeddingView

    view = EmbeddingView("hidden")
    qtbot.addWidget(view)
    angles = np.linspace(0, 2 * np.pi, 200, endpoint=False)
    Z = np.stack([np.cos(angles), np.sin(angles)], 1).astype(np.float32)
    labels = np.arange(200) % 4
    view.show_points(Z, labels)
    wait_for(qtbot, lambda: not view.image._timer.isActive())  # the render it asked for came and went
    assert view.image.frames_rendered == 0
    view.resize(400, 420)
    show_exposed(qtbot, view)
    wait_for(qtbot, lambda: view.image.frames_rendered > 0)
    shown = shown_pixels(view.image)
    assert min(colour_pixels(shown, PALETTE[k]).sum() for k in range(4)) >= 20
    view.close_canvas()


def test_previews_draw_the_points_and_leave_curves_and_arrows_to_full_frames(qtbot, tmp_path, monkeypatch) -> None:
    import gui.worker

    monkeypatch.setattr(gui.worker, "PREVIEW_ROWS", 0)
    monkeypatch.setattr(gui.worker, "PREVIEW_AFTER", 0.0)  # every frame is preceded by a preview
    window = open_window(qtbot, tmp_path)
    drawn = []  # (a preview, the arrows' label) as the window draws each frame, in its own thread
    show_frame = window.main_view.show_frame

    def recording(frame):
        show_frame(frame)
        drawn.append((window.snapshot.preview, window.main_view.scale_label.text()))

    monkeypatch.setattr(window.main_view, "show_frame", recording)
    window.set_playing(True)
    wait_for(qtbot, lambda: sum(p for p, _ in drawn) >= 5 and sum(not p for p, _ in drawn) >= 5)
    window.set_playing(False)
    assert all(text == "" for preview, text in drawn if preview)  # no arrows on a preview
    assert any(text.startswith("arrows") for preview, text in drawn if not preview)
    steps, values = window.curves.series[(0, "loss")].view()
    assert len(steps) >= 5 and np.isfinite(values).all()


def test_an_arrow_pointing_at_the_camera_draws_no_square(qtbot) -> None:
    """On the sphere an arrow can point straight at the viewer: its head has no direction on
    screen and must not be drawn (the head shader fills its whole square then)."""
    from gui.embedding_view import EmbeddingView
    from sim import Frame

    view = EmbeddingView("arrows")
    qtbot.addWidget(view)
    view.resize(500, 500)
    show_exposed(qtbot, view)
    scene = view.scene
    scene.set_latent(3)
    to_canvas = scene.cluster_arrows.get_transform("visual", "canvas")

    def on_screen(p):
        q = to_canvas.map(np.atleast_2d(p))
        return q[:, :2] / q[:, 3:4]

    # a point on the sphere's outline seen from the camera, and the tangent there that points at it
    rng = np.random.default_rng(0)
    best = None
    for c in rng.normal(size=(4000, 3)):
        c /= np.linalg.norm(c)
        t = np.cross(c, rng.normal(size=3))
        t /= np.linalg.norm(t)
        start = c * 1.1
        shift = np.linalg.norm(on_screen(start + 0.2 * t) - on_screen(start))
        if best is None or shift < best[0]:
            best = (shift, c, t)
    _, c, t = best
    others = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    centers = np.vstack([c, others])
    tangent = np.vstack([t, np.cross(others, [[1.0, 0, 0], [0, 0, 1.0], [0, 1.0, 0]])]) * 0.01
    labels = np.repeat(np.arange(4), 20)
    Z = np.repeat(centers, 20, axis=0).astype(np.float32)
    f = Frame(
        step=0, kernel="nn", X=Z, labels=labels, Z=Z, loss=0.0, metrics={}, cluster_metrics={},
        centers=centers, velocity={}, cluster_velocity={"nn": tangent},
    )  # fmt: skip
    view.show_frame(f)
    image = view.grab_pixels()  # drawn now
    head = lambda k: colour_pixels(image, 0.55 + 0.45 * PALETTE[k], tol=12).sum()
    assert min(head(k) for k in (1, 2, 3)) >= 10  # the other arrows are drawn
    assert head(0) < 30  # at most its shaft, seen end on: no filled square
    view.close_canvas()


@pytest.mark.parametrize("latent", [2, 3])
def test_the_circle_or_sphere_fits_the_smaller_side_of_a_tall_or_wide_view(qtbot, latent) -> None:
    """Side by side, each half view is tall and narrow: the guide (circle or sphere) is drawn
    whole, round and at the same share of the smaller side as in a square view."""
    from gui.embedding_scene import EmbeddingScene
    from gui.export_job import hidden_canvas

    shares = []
    for size in [(400, 400), (200, 560), (640, 220)]:
        canvas = hidden_canvas(size)
        drawing = EmbeddingScene(canvas)
        drawing.set_latent(latent)
        image = drawing.render()
        canvas.close()
        assert image.shape[:2] == (size[1], size[0])
        drawn = np.abs(image[..., :3].astype(int) - np.array([0x15, 0x17, 0x1A])).max(axis=-1) > 4
        ys, xs = np.nonzero(drawn)
        margin = 0.05 * min(size)
        assert xs.min() > margin and xs.max() < size[0] - margin, f"{size}: cut at the left or right"
        assert ys.min() > margin and ys.max() < size[1] - margin, f"{size}: cut at the top or bottom"
        width, height = np.ptp(xs) + 1, np.ptp(ys) + 1
        assert abs(width - height) <= 0.04 * max(width, height), f"{size}: not round ({width} x {height})"
        shares.append(width / min(size))
    assert min(shares) > 0.5 and np.ptp(shares) < 0.04, shares


def arrow_frame(step: int, speed: float):
    """Four clusters on the circle, each moving tangentially at `speed` per step."""
    from sim import Frame

    angles = np.array([0.3, 1.9, 3.4, 5.0])
    centers = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    tangent = np.stack([-np.sin(angles), np.cos(angles)], axis=1) * speed * np.array([[1.0], [0.5], [0.25], [0.1]])
    labels = np.repeat(np.arange(4), 10)
    Z = np.repeat(centers, 10, axis=0).astype(np.float32)
    return Frame(
        step=step, kernel="nn", X=Z, labels=labels, Z=Z, loss=0.0, metrics={}, cluster_metrics={},
        centers=centers, velocity={}, cluster_velocity={"nn": tangent},
    )  # fmt: skip


def drawn_lengths(view) -> np.ndarray:
    seg = view.cluster_arrows._pos.reshape(-1, 2, 2)
    return np.linalg.norm(seg[:, 1] - seg[:, 0], axis=1)


def test_a_fixed_arrow_scale_is_shared_by_both_panes_and_kept_between_frames(qtbot) -> None:
    from gui.embedding_view import EmbeddingView

    main = EmbeddingView("NN kernel")
    twin = EmbeddingView("identity kernel", arrow_scale=main.arrow_scale)
    for view in (main, twin):
        qtbot.addWidget(view)
        view.resize(300, 320)
        view.show()
    # free (the default): every frame's longest cluster arrow is 0.35 long, whatever the speed
    main.show_frame(arrow_frame(0, 0.01))
    assert abs(drawn_lengths(main).max() - 0.35) < 1e-5
    main.show_frame(arrow_frame(1, 0.002))
    assert abs(drawn_lengths(main).max() - 0.35) < 1e-5
    # fixed, from one pane's switch (main redraws its frame at step 1 with it): both panes
    # show the switch, and one factor serves both panes and the later frames
    main.fixed_scale.setChecked(True)
    assert twin.fixed_scale.isChecked() and main.arrow_scale is twin.arrow_scale
    twin.show_frame(arrow_frame(1, 0.004))  # the faster pane at the same step sets the factor
    main.show_frame(arrow_frame(2, 0.002))
    np.testing.assert_allclose(drawn_lengths(twin), 2 * drawn_lengths(main), rtol=1e-5)
    assert abs(drawn_lengths(twin).max() - 0.35) < 1e-5
    main.show_frame(arrow_frame(3, 0.0008))  # slower later: shorter arrows
    np.testing.assert_allclose(drawn_lengths(main).max(), 0.35 * 0.2, rtol=1e-5)
    main.show_frame(arrow_frame(13, 1.0))  # far faster: capped at 3 x 0.35
    assert abs(drawn_lengths(main).max() - 1.05) < 1e-5
    text = main.scale_label.text()
    assert text.startswith("arrows: clusters x") and text.endswith("(fixed)")
    main.show_frame(arrow_frame(0, 0.004))  # a new run: its first frame sets the factor again
    assert abs(drawn_lengths(main).max() - 0.35) < 1e-5
    for view in (main, twin):
        view.close_canvas()


def test_velocities_at_round_off_draw_no_arrows_and_say_at_rest(qtbot) -> None:
    """uniform-start is a stationary point: its velocities are ~1e-17 (float64) and a free
    scale drew that round-off as full-length arrows ("clusters x1.5e+17"). Now no arrow, and
    the label says so; the same frame with velocities a million times larger has arrows."""
    import dataclasses

    import pyqtgraph as pg

    from gui.cluster_panel import ClusterPanel
    from gui.embedding_view import EmbeddingView
    from sim import Simulation, load_preset
    from sim.cluster_dynamics import cluster_flow

    sim = Simulation(load_preset("uniform-start"), device="cpu")
    still = sim.frame()
    assert np.abs(still.cluster_velocity[still.kernel]).max() < 1e-15
    view = EmbeddingView("identity kernel")
    qtbot.addWidget(view)
    view.resize(300, 300)
    show_exposed(qtbot, view)
    view.scene.show_point_arrows = True
    view.show_frame(still)
    assert view.scale_label.text() == "arrows: points at rest, clusters at rest"
    with_arrows = view.grab_pixels()
    view.scene.show_point_arrows = view.scene.show_cluster_arrows = False
    view.show_frame(still)
    np.testing.assert_array_equal(with_arrows, view.grab_pixels())  # nothing drawn for them
    bare = view.grab_pixels()
    moving = dataclasses.replace(still, cluster_velocity={k: 1e6 * v for k, v in still.cluster_velocity.items()})
    view.scene.show_cluster_arrows = True
    view.show_frame(moving)
    assert view.scale_label.text().startswith("arrows: clusters x")
    assert (np.abs(view.grab_pixels().astype(int) - bare).max(axis=-1) > 40).sum() > 50  # arrows drawn
    view.close_canvas()

    panel = ClusterPanel()
    qtbot.addWidget(panel)
    panel.show_flow(cluster_flow(sim))
    assert panel.deviation.text().endswith(
        "Cluster-level flow vs network: both at rest (round-off), nothing to compare."
    )
    assert panel.bars.getPlotItem().titleLabel.text.endswith("at rest (round-off)")
    assert all(panel.table.item(i, 7).text() == "-" for i in range(4))  # no angle between round-off
    bars = [item for item in panel.bars.getPlotItem().items if isinstance(item, pg.BarGraphItem)]
    assert len(bars) == 2 and all(np.all(np.asarray(b.opts["height"]) == 0) for b in bars)  # no bars of round-off


def test_the_arrow_scale_label_is_never_cut(qtbot) -> None:
    from gui.embedding_view import EmbeddingView

    view = EmbeddingView("identity kernel (same start), a long title")
    qtbot.addWidget(view)
    view.resize(250, 300)
    show_exposed(qtbot, view)
    view.fixed_scale.setChecked(True)
    view.show_frame(arrow_frame(0, 1e-5))
    label = view.scale_label
    assert label.text() == "arrows: clusters x35000 (fixed)"  # written out, not x3.5e+04
    wait_for(qtbot, lambda: label.width() >= label.fontMetrics().horizontalAdvance(label.text()))  # laid out
    assert label.geometry().right() <= view.fixed_scale.geometry().left()
    view.close_canvas()


def test_a_longer_arrow_scale_is_laid_out_with_its_frame(qtbot) -> None:
    """A scale a digit longer than the last was drawn in the last one's width until the next
    layout pass: the window caught "arrows: clusters x2000(" for x20000. The label takes its
    width in the same call that sets its text."""
    from gui.embedding_view import EmbeddingView

    view = EmbeddingView("NN kernel")
    qtbot.addWidget(view)
    view.resize(640, 400)
    show_exposed(qtbot, view)
    view.show_frame(arrow_frame(0, 1e-2))
    label = view.scale_label
    wait_for(qtbot, lambda: label.width() >= label.fontMetrics().horizontalAdvance(label.text()))
    view.show_frame(arrow_frame(1, 1e-5))  # three more digits
    assert label.text() == "arrows: clusters x35000"
    assert label.width() >= label.fontMetrics().horizontalAdvance(label.text())  # no event processed
    view.close_canvas()


def test_the_panes_side_by_side_turn_together_on_the_sphere(qtbot, tmp_path) -> None:
    """appendix-b-3d side by side: turning one sphere turns the other (they showed the same
    start from different sides after a drag), and a pane shown later takes the turned view."""
    window = open_window(qtbot, tmp_path, "appendix-b-3d")
    main, twin = window.main_view.scene, window.twin_view.scene
    wait_for(qtbot, lambda: main.latent_dim == 3)
    main.view.camera.azimuth, main.view.camera.elevation = -45.0, 55.0  # as a drag leaves it
    window.set_side_by_side(True)
    wait_for(qtbot, lambda: twin.latent_dim == 3)
    assert (twin.view.camera.azimuth, twin.view.camera.elevation) == (-45.0, 55.0)
    twin.view.camera.azimuth = 100.0
    assert main.view.camera.azimuth == 100.0


def test_the_arrow_scale_goes_back_beside_the_title_only_with_room_to_spare(qtbot) -> None:
    """The scale label's length changes from frame to frame; at a width near the threshold it
    went under the title and back, moving both pictures by a line each time."""
    from gui.embedding_view import SPARE, EmbeddingView

    view = EmbeddingView("identity kernel (from step 1234)")
    qtbot.addWidget(view, before_close_func=lambda v: v.close_canvas())
    view.scale_label.setText("arrows: clusters x9.2")
    view.show()
    needed = (
        view.title.fontMetrics().horizontalAdvance(view.title.text())
        + view.extras.sizeHint().width()
        + 12
        + view.header.spacing()
    )

    def beside() -> bool:
        return view.header.indexOf(view.extras) >= 0

    for width, expected in ((needed - 5, False), (needed + SPARE // 2, False), (needed + SPARE + 5, True)):
        view.resize(width, 400)
        qtbot.waitUntil(lambda width=width: view.width() == width)
        assert beside() == expected, width
    view.resize(needed + SPARE // 2, 400)  # beside now, and it fits: it stays
    qtbot.waitUntil(lambda: view.width() == needed + SPARE // 2)
    assert beside()

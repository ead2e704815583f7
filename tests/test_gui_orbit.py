"""The 3-D input view's orbit mode with real mouse events: a press on a center's handle drags
that cluster parallel to the screen (the run continues on the moved data, undo puts it
back); a drag on empty space orbits the camera and moves nothing."""

from __future__ import annotations

import numpy as np
import pytest
from gui_support import cluster_means, frame, open_window, wait_for, wait_step
from test_gui_edits import drag

from gui.colors import PALETTE

# vispy's Qt backend reads QMouseEvent.pos(), which Qt 6 deprecates
pytestmark = pytest.mark.filterwarnings("ignore:Function.*QMouseEvent.pos:DeprecationWarning")


def test_orbit_handle_drag_moves_a_cluster_and_empty_drag_orbits(qtbot, tmp_path) -> None:
    window = open_window(qtbot, tmp_path, preset="appendix-b-3d")
    view = window.input_view
    wait_for(qtbot, lambda: view.orbiting and view.orbit is not None and len(view.orbit.X) == 256)
    orbit = view.orbit
    assert orbit.isVisible() and not view.plot_widget.isVisible() and view.axes_box.currentText() == "3-D orbit"
    native = orbit.image  # the canvas drawn offscreen, shown as an image: it takes the mouse
    start = frame(window)
    means = cluster_means(start)

    # the handles are drawn where handle_canvas_pos says, in their cluster's colour
    image = orbit.canvas.render(alpha=False)
    for k in range(4):
        x, y = view.handle_canvas_pos(k)
        assert np.abs(image[round(y), round(x)] / 255 - PALETTE[k]).max() < 0.08

    # drag handle 2 up and right: it follows the mouse at constant depth, the camera stays
    camera = orbit.view.camera
    azimuth, elevation = camera.azimuth, camera.elevation
    x, y = view.handle_canvas_pos(1)
    drag(native, (x, y), (x + 30, y - 60))
    assert (camera.azimuth, camera.elevation) == (azimuth, elevation)
    wait_for(qtbot, lambda: window.undo_stack.count() == 1)
    old, new = np.array(window.undo_stack.command(0).inverse.center), np.array(window.undo_stack.command(0).do.center)
    np.testing.assert_allclose(old, [-1.0, 0.0, 0.0], atol=1e-6)
    assert np.linalg.norm(new - old) > 0.3
    np.testing.assert_allclose(view.handle_canvas_pos(1), (round(x) + 30, round(y) - 60), atol=0.5)
    wait_for(qtbot, lambda: np.abs(cluster_means(frame(window))[1] - means[1] - (new - old)).max() < 1e-4)
    now = cluster_means(frame(window))
    np.testing.assert_allclose(np.delete(now, 1, 0), np.delete(means, 1, 0), atol=1e-6)
    # the next step runs on the moved data
    window.step_once()
    stepped = wait_step(qtbot, window, 1)
    np.testing.assert_allclose(cluster_means(stepped)[1], now[1], atol=1e-5)

    window.undo_stack.undo()
    wait_for(qtbot, lambda: np.abs(cluster_means(frame(window)) - means).max() < 1e-4)
    wait_for(qtbot, lambda: np.abs(orbit.centers[1] - old).max() < 1e-9)

    # a drag from empty space orbits the camera and moves no cluster
    corner = (15.0, native.height() - 15.0)
    assert orbit.handle_at(corner) is None
    drag(native, corner, (corner[0] + 80, corner[1] - 50))
    assert abs(camera.azimuth - azimuth) > 5 and abs(camera.elevation - elevation) > 5
    assert window.undo_stack.count() == 1 and window.undo_stack.index() == 0
    window.step_once()
    stepped = wait_step(qtbot, window, 2)
    np.testing.assert_allclose(stepped.X, start.X, atol=1e-6)

    # the axis-pair planes stay available; a fixed dataset's handles cannot be grabbed
    view.axes_box.setCurrentText("x - z")
    assert view.plot_widget.isVisible() and not orbit.isVisible() and view.axes == (0, 2)
    view.axes_box.setCurrentText("3-D orbit")
    assert orbit.isVisible() and not view.plot_widget.isVisible()
    assert orbit.handle_at(view.handle_canvas_pos(0)) == 0
    orbit.set_data(orbit.X, orbit.labels, orbit.clusters, movable=False)
    assert orbit.handle_at(view.handle_canvas_pos(0)) is None

"""Kernel evolution curves in the window (issue 14): the kernel distance and the alignment
with the cluster kernel, from the frames that carry H, under the heatmap."""

from __future__ import annotations

import dataclasses

import numpy as np
from gui_support import open_window, wait_for

from gui.kernel_evolution_view import KernelEvolutionView
from sim import Simulation, load_preset


def test_the_curves_hold_the_frames_measures_in_step_order(qtbot) -> None:
    view = KernelEvolutionView()
    qtbot.addWidget(view)
    run = Simulation(load_preset("fig5-2d"))
    frames = []
    for _ in range(3):
        frames.append(run.frame(with_kernel=True))
        run.step(5)
    without_h = dataclasses.replace(frames[1], H=None, step=99)
    view.add(frames[0])
    for plot in (view.plot, view.spectrum):  # one step: the steps ahead (it was -100..100 about step 0)
        (x0, x1), _ = plot.getViewBox().viewRange()
        assert -1 < x0 <= 0 and 10 <= x1 < 11
    for frame in (frames[1], without_h, frames[1], frames[2]):  # no H, and a repeat: skipped
        view.add(frame)
    (x0, x1), _ = view.plot.getViewBox().viewRange()
    assert -1 < x0 <= 0 and 10 <= x1 < 11  # auto range over steps 0..10
    x, y = view.lines["distance"].getData()
    assert list(x) == [0, 5, 10]
    np.testing.assert_allclose(y, [f.kernel_evolution["distance"] for f in frames])
    assert y[0] == 0.0 and y[2] > 0  # H(0) is the start's own kernel; the network moved
    for key in ("alignment", "top_share"):
        _, values = view.lines[key].getData()
        np.testing.assert_allclose(values, [f.kernel_evolution[key] for f in frames])
    _, top = view.eigen_lines[0].getData()  # drawn on a log axis: pyqtgraph gives log10 of the values
    np.testing.assert_allclose(10**top, [f.kernel_evolution["eigenvalues"][0] for f in frames], rtol=1e-9)
    view.clear()
    assert view.lines["distance"].getData()[0] is None or len(view.lines["distance"].getData()[0]) == 0


def test_the_window_draws_them_while_the_heatmap_is_on_screen(qtbot, tmp_path) -> None:
    window = open_window(qtbot, tmp_path, autoplay=True)
    window.show()
    if not window.in_front.get(window.kernel_dock, False):
        window.view_actions[window.kernel_dock].trigger()
    wait_for(qtbot, lambda: len(window.kernel_evolution.steps) >= 3)
    x, y = window.kernel_evolution.lines["distance"].getData()
    assert list(x) == sorted(x) and np.all(np.isfinite(y)) and y[-1] > 0


def test_short_of_room_the_curves_keep_it_and_the_tooltip_names_them(qtbot) -> None:
    """In a 1366 x 768 window the curves get ~60 px: the key, the spectrum's title and the
    axis titles give way (they left a 10 px strip of curve under them); with room they return,
    the key naming the curves in full above the plots (a legend inside the plot lay over the
    curves at 1920 x 1080)."""
    from gui.curves import COMPACT_HEIGHT
    from gui.kernel_evolution_view import CURVES, SPECTRUM_TITLE

    view = KernelEvolutionView()
    qtbot.addWidget(view)
    view.resize(400, 60)
    view.show()
    spectrum_title = view.spectrum.getPlotItem().titleLabel
    steps_title = view.plot.getPlotItem().getAxis("bottom").label
    qtbot.waitUntil(lambda: not spectrum_title.isVisible())
    qtbot.waitUntil(lambda: not steps_title.isVisible())
    assert all(name in view.toolTip() for _, name, _, _ in CURVES)
    view.resize(400, 95)  # the window's kernel dock at 1366 x 740: the key line, the plots under it
    qtbot.waitUntil(lambda: view.key.isVisible())
    assert view.plot.mapTo(view, view.plot.rect().topLeft()).y() >= view.key.geometry().bottom()
    assert view.plot.height() >= 40 and not any(name in view.key.text() for _, name, _, _ in CURVES)
    view.resize(400, COMPACT_HEIGHT + 120)
    qtbot.waitUntil(lambda: spectrum_title.isVisible() and steps_title.isVisible())
    assert SPECTRUM_TITLE in spectrum_title.text and view.key.isVisible()
    names = [name.replace(" ", "&nbsp;").replace("-", "&#8209;") for _, name, _, _ in CURVES]  # kept whole
    assert all(name in view.key.text() for name in names)
    assert view.plot.mapTo(view, view.plot.rect().topLeft()).y() >= view.key.geometry().bottom()  # not over it


def test_the_kernel_panel_turns_with_its_shape(qtbot) -> None:
    """The right column of a 1366 x 768 screen gives the kernel dock about 400 x 220: one above
    the other, the heatmap was stretched 4:1 and the curves 35 px tall; side by side there, one
    above the other in a tall dock, and the curves of a narrow evolution panel stacked."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QBoxLayout

    from gui.kernel_evolution_view import CURVES
    from gui.kernel_panel import KernelPanel
    from gui.kernel_view import KernelView

    evolution = KernelEvolutionView()
    panel = KernelPanel(KernelView(), evolution)
    qtbot.addWidget(panel)
    panel.show()
    turns = (((400, 220), Qt.Orientation.Horizontal), ((320, 640), Qt.Orientation.Vertical))
    for size, orientation in (*turns, turns[0], ((300, 300), Qt.Orientation.Vertical)):
        panel.resize(*size)
        qtbot.waitUntil(lambda orientation=orientation: panel.orientation() == orientation)
        heatmap, curves = panel.sizes()
        assert min(heatmap, curves) >= 80, (size, panel.sizes())
    assert curves >= 110  # a square dock (1920 x 1080's right column): the curves had 70 px
    panel.resize(400, 220)
    qtbot.waitUntil(lambda: evolution.plots.direction() == QBoxLayout.Direction.TopToBottom)
    assert evolution.plot.height() >= 40 and evolution.spectrum.height() >= 40
    # 150 px wide: a key line above the plots, short names in the curves' colours, and where
    # the eigenvalues are (a title in each plot took 20 px of it)
    key = evolution.key
    assert key.isVisible() and all(short in key.text() and color in key.text() for _, _, short, color in CURVES)
    assert "&middot;&nbsp;eigenvalues&nbsp;below" in key.text()  # kept together: no line ends in a lone dot
    assert evolution.plot.height() >= 40 and evolution.spectrum.height() >= 40


def test_a_small_heatmap_drops_its_axis_titles(qtbot) -> None:
    """In a 1366 x 768 window's kernel dock the heatmap gets ~230 x 140 px: its 'sample' titles
    took a third of that (the heatmap was ~80 px); with room they come back."""
    from gui.kernel_view import KernelView
    from sim import Simulation, load_preset

    view = KernelView()
    qtbot.addWidget(view)
    view.show_frame(Simulation(load_preset("fig5-2d"), device="cpu").frame(with_kernel=True))
    view.show()
    axes = [view.plot.getAxis(side) for side in ("left", "bottom")]
    view.resize(240, 170)
    qtbot.waitUntil(lambda: not any(axis.label.isVisible() for axis in axes))
    view.average.setChecked(True)  # a redraw names the axes again: still hidden
    assert not any(axis.label.isVisible() for axis in axes)
    view.resize(560, 420)
    qtbot.waitUntil(lambda: all(axis.label.isVisible() for axis in axes))
    assert all(axis.labelText == "cluster" for axis in axes)


def test_a_small_log_axis_labels_ticks_apart_and_the_top_label_whole(qtbot) -> None:
    """The eigenvalues' strip (a 300 x 150 panel): pyqtgraph labelled every 2..9 x 10^k, a
    smear of overlapping labels, and without a title the top tick's label was cut in half."""
    import itertools

    from test_gui_panels import drawn_tick_specs

    view = KernelEvolutionView()
    qtbot.addWidget(view)
    view.resize(300, 150)
    view.show()
    run = Simulation(load_preset("fig5-2d"))
    for _ in range(6):
        view.add(run.frame(with_kernel=True))
        run.step(40)
    axis = view.spectrum.getAxis("left")
    qtbot.waitUntil(lambda: len(drawn_tick_specs(axis)) >= 2)
    rects = sorted((rect for rect, _, _ in drawn_tick_specs(axis)), key=lambda r: r.top())
    assert all(a.bottom() <= b.top() for a, b in itertools.pairwise(rects)), [r.getRect() for r in rects]
    for plot in (view.plot, view.spectrum):
        left = plot.getAxis("left")
        top = min(left.mapRectToScene(rect).top() for rect, _, _ in drawn_tick_specs(left))
        assert top >= 0  # the top label whole inside the plot's scene

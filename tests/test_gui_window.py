"""The window with a real event loop: it opens on the default preset and advances, the
kernel switches mid-run without a jump, divergence pauses it, closing mid-run is clean,
a bad preset on the command line is a one-line error, the window fits a 1366 x 768 screen
whatever its panels hold, and a View menu entry shows and raises its panel."""

from __future__ import annotations

import numpy as np
from gui_support import frame, open_window, wait_for, wait_step
from PySide6.QtCore import QPoint, QRect, Qt
from PySide6.QtWidgets import QApplication, QDockWidget

from main import main
from sim import Divergence, Simulation
from sim.commands import Step


def test_window_opens_on_default_preset_and_advances(qtbot, tmp_path) -> None:
    window = open_window(qtbot, tmp_path)
    assert window.snapshot.preset.name == "fig5-2d"
    assert frame(window).step == 0
    qtbot.keyClick(window, Qt.Key.Key_Space)
    wait_for(qtbot, lambda: frame(window).step >= 40)
    assert window.controls.counter.text() == f"step {frame(window).step}"
    assert window.status_labels["n"].text() == "n = 256"
    assert window.status_labels["device"].text() == "cpu"
    assert window.main_view.last_frame is frame(window)
    wait_for(qtbot, lambda: "steps/s" in window.status_labels["rate"].text() and window.curves.series)
    steps, loss = window.curves.series[(0, "loss")].view()
    assert len(steps) >= 2 and np.all(np.isfinite(loss))
    assert 0 < window.worker.draw_cost < 1  # the window's drawing, measured: it paces the frames


def test_step_and_reset_keys(qtbot, tmp_path) -> None:
    window = open_window(qtbot, tmp_path)
    first = frame(window)
    for _ in range(3):
        qtbot.keyClick(window, Qt.Key.Key_S)
    after = wait_step(qtbot, window, 3)
    assert not np.allclose(after.Z, first.Z)
    qtbot.keyClick(window, Qt.Key.Key_R)
    again = wait_step(qtbot, window, 0)
    np.testing.assert_allclose(again.Z, first.Z, atol=1e-6)


def test_kernel_switch_mid_run_is_continuous_and_changes_dynamics(qtbot, tmp_path) -> None:
    window = open_window(qtbot, tmp_path)
    window.set_playing(True)
    wait_for(qtbot, lambda: frame(window).step >= 20)
    generation = window.snapshot.generation
    qtbot.keyClick(window, Qt.Key.Key_K)  # while running
    assert window.controls.kernel.currentData() == "identity"
    wait_for(qtbot, lambda: any(text == "kernel: identity" for _, text in window.curves.events))
    switched_at = next(step for step, text in window.curves.events if text == "kernel: identity")
    wait_for(qtbot, lambda: frame(window).step > switched_at + 10)
    assert window.snapshot.generation == generation and switched_at >= 20  # no reset
    assert window.main_view.title.text() == "identity kernel"
    # the curves' key names the run by its kernel since the switch, not its whole line
    wait_for(qtbot, lambda: window.curves.key_labels[0].text().startswith("solid: this run, identity"))
    assert window.curves.key_labels[0].text() == "solid: this run, identity kernel since the last switch (marked)"

    # the same switch, replayed deterministically: reset (same seed), 20 NN steps, then
    # one more step with each kernel from that state
    window.set_kernel("nn")
    window.reset()
    window.send(Step(20))
    before = wait_step(qtbot, window, 20)
    window.step_once()
    nn_next = wait_step(qtbot, window, 21)
    window.reset()
    window.send(Step(20))
    wait_step(qtbot, window, 20)
    np.testing.assert_allclose(frame(window).Z, before.Z, atol=1e-6)
    window.set_kernel("identity")
    wait_for(qtbot, lambda: frame(window).kernel == "identity")
    np.testing.assert_array_equal(frame(window).Z, before.Z)  # the switch itself moves nothing
    window.step_once()
    identity_next = wait_step(qtbot, window, 21)
    moved = (identity_next.Z - before.Z).ravel()
    assert np.linalg.norm(identity_next.Z - nn_next.Z) > 0.1 * np.linalg.norm(moved)

    def cos(u: np.ndarray, v: np.ndarray) -> float:
        return float(u @ v / np.linalg.norm(u) / np.linalg.norm(v))

    assert cos(moved, before.velocity["identity"].ravel()) > 0.95
    assert cos(moved, before.velocity["identity"].ravel()) > cos(moved, before.velocity["nn"].ravel())


def test_divergence_pauses_and_keeps_last_good_state(qtbot, tmp_path, monkeypatch) -> None:
    original = Simulation._step_once

    def step_once(self: Simulation) -> None:
        if self.step_count >= 5:
            raise Divergence(f"step {self.step_count}: the loss is not finite")
        original(self)

    monkeypatch.setattr(Simulation, "_step_once", step_once)
    window = open_window(qtbot, tmp_path)
    window.set_playing(True)
    last = wait_step(qtbot, window, 5)
    assert not window.controls.play.isChecked()
    assert "not finite" in window.statusBar().currentMessage()
    assert window.divergence_box.isVisible()
    assert np.all(np.isfinite(last.Z))
    window.divergence_box.close()


def test_closing_mid_run_is_clean(qtbot, tmp_path, qtlog) -> None:
    window = open_window(qtbot, tmp_path)
    window.set_side_by_side(True)
    window.set_playing(True)
    wait_for(qtbot, lambda: frame(window).step >= 10 and len(window.snapshot.frames) == 2)
    window.close()
    assert window.thread.isFinished()
    warnings = [r for r in qtlog.records if r.type.name in ("QtWarningMsg", "QtCriticalMsg", "QtFatalMsg")]
    assert warnings == []


def test_bad_preset_is_a_one_line_error(capsys) -> None:
    assert main(["no-such-preset"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no-such-preset" in err


def docks(window) -> list[QDockWidget]:
    return window.findChildren(QDockWidget)


def on_screen(window, widget) -> bool:
    """Whether `widget` lies within the window's rectangle (Qt moves a tab that is behind
    another out of the window, to negative coordinates)."""
    return window.rect().contains(QRect(widget.mapTo(window, QPoint(0, 0)), widget.size()))


def test_the_window_fits_a_1366_by_768_screen_whatever_the_panels_hold(qtbot, tmp_path) -> None:
    window = open_window(qtbot, tmp_path)
    window.set_side_by_side(True)
    widths = {}
    for name in ("fig5-2d", "digits", "appendix-b-3d"):
        window.open_preset(name)
        wait_for(qtbot, lambda name=name: window.snapshot.preset.name == name and not window.snapshot.preview)
        qtbot.wait(1)  # one turn of the event loop: the layouts take the new contents
        hint = window.minimumSizeHint()
        assert hint.width() <= 1366 and hint.height() <= 768, (name, hint)
        widths[name] = hint.width()
    assert widths["digits"] <= widths["fig5-2d"]  # ten classes in the legend widen nothing
    window.resize(1366, 768)
    wait_for(qtbot, lambda: (window.width(), window.height()) == (1366, 768))
    for widget in (window.statusBar(), window.centralWidget(), window.menuBar()):
        assert on_screen(window, widget), widget
    for dock in docks(window):  # every dock, brought to the front in turn, lies whole on the screen
        if not window.in_front[dock]:
            window.view_actions[dock].trigger()
        wait_for(qtbot, lambda dock=dock: on_screen(window, dock.widget()))
        assert dock.widget().width() > 40 and dock.widget().height() > 40, dock.objectName()
    for note in (window.controls.rebuild_note, window.controls.kernel_meaning):  # wrapped text is whole
        assert note.height() >= note.heightForWidth(note.width()), note.text()
    # the legend is as tall as its row (plus a scroll bar only when its classes overflow): no
    # empty band between it and the views below (a fresh-clone look found one of ~60 px)
    legend = window.legend
    row = legend.scroll.widget().sizeHint().height()
    bar = legend.scroll.horizontalScrollBar().sizeHint().height()
    assert legend.height() <= row + bar
    gap = (
        window.main_view.mapTo(window, window.main_view.rect().topLeft()).y()
        - legend.mapTo(window, legend.rect().bottomLeft()).y()
    )
    assert gap <= 12, gap


def test_a_view_entry_shows_and_raises_its_panel(qtbot, tmp_path) -> None:
    window = open_window(qtbot, tmp_path)
    kernel, table = window.kernel_dock, window.table_dock
    action = window.view_actions[kernel]
    assert action.isChecked() and not on_screen(window, kernel) and on_screen(window, table)  # behind the table
    action.trigger()
    wait_for(qtbot, lambda: on_screen(window, kernel) and not on_screen(window, table))
    assert action.isChecked() and window.in_front[kernel]
    action.trigger()  # in front already: closes it
    wait_for(qtbot, lambda: kernel.isHidden() and not action.isChecked())
    action.trigger()
    wait_for(qtbot, lambda: on_screen(window, kernel) and action.isChecked())


def test_the_input_space_is_drawn_whole_in_its_dock_at_1366_by_768(qtbot, tmp_path) -> None:
    """The input view scales its picture to its dock: the plot (with its x axis, where the
    clusters sit) lies inside the dock, not below its edge."""
    window = open_window(qtbot, tmp_path)
    window.set_side_by_side(True)
    window.resize(1366, 768)
    wait_for(qtbot, lambda: window.snapshot is not None and (window.width(), window.height()) == (1366, 768))
    plot, dock = window.input_view.plot_widget, window.input_dock
    wait_for(qtbot, lambda: plot.height() > 60)
    bottom = plot.mapTo(dock, QPoint(0, plot.height())).y()
    assert bottom <= dock.height(), (bottom, dock.height())


def test_the_kernel_heatmap_and_its_curves_lie_whole_in_their_dock_at_1366_by_768(qtbot, tmp_path) -> None:
    """The kernel panel scales to its dock (digits: the two-line header): a fresh-user look
    found it laid out at its preferred 763 px inside a 176 px dock, a sliver of the heatmap
    shown and the curves below the edge."""
    window = open_window(qtbot, tmp_path, "digits")
    window.resize(1366, 768)
    wait_for(qtbot, lambda: (window.width(), window.height()) == (1366, 768))
    window.view_actions[window.kernel_dock].trigger()
    wait_for(qtbot, lambda: window.kernel_view.updates > 0)
    dock = window.kernel_dock
    for widget in (window.kernel_view.graphics, window.kernel_evolution):
        wait_for(qtbot, lambda widget=widget: widget.height() >= 50)
        bottom = widget.mapTo(dock, QPoint(0, widget.height())).y()
        assert bottom <= dock.height(), (type(widget).__name__, bottom, dock.height())
    assert window.kernel_view.graphics.height() >= 100


def test_a_legend_that_scrolls_shows_its_names_whole_above_the_scroll_bar(qtbot, tmp_path) -> None:
    """The digit classes overflow the legend's row at 1024 x 700: the row stays whole with the
    scroll bar under it (a fresh-user look found only the bar, the names hidden under it:
    the height was fitted before the new labels were counted by the row's layout)."""
    window = open_window(qtbot, tmp_path)
    window.resize(1024, 700)
    wait_for(qtbot, lambda: (window.width(), window.height()) == (1024, 700))
    window.open_preset("digits")  # new classes in a legend of the same size
    wait_for(qtbot, lambda: window.snapshot.preset.name == "digits" and not window.snapshot.preview)
    legend = window.legend
    content = legend.scroll.widget()
    classes = len(set(frame(window).labels.tolist()))
    wait_for(qtbot, lambda: len(legend.labels) == classes and all(label.isVisible() for label in legend.labels))
    wait_for(qtbot, lambda: content.sizeHint().width() > legend.width())  # it overflows: it scrolls
    wait_for(qtbot, lambda: legend.scroll.viewport().height() >= content.sizeHint().height())
    assert legend.scroll.horizontalScrollBar().isVisible()


def test_a_view_title_keeps_its_line_and_is_cut_with_an_ellipsis_only_when_too_long_alone(qtbot, tmp_path) -> None:
    """Side by side at 1366 x 768 the twin's title and its arrow scale do not fit on one line:
    the scale goes under the title, which is whole (it was cut to "identity ker..." beside the
    scale, the part that says which run it shows lost). In a narrower window, where the title
    does not fit even alone, it is drawn cut with an ellipsis (its whole text as a tooltip)."""
    window = open_window(qtbot, tmp_path)
    window.set_side_by_side(True)
    window.resize(1366, 768)
    view = window.twin_view
    title = view.title
    wait_for(qtbot, lambda: window.width() == 1366 and title.text() == "identity kernel (same start)")
    wait_for(qtbot, lambda: view.scale_label.text() != "" and view.scale_label.isVisible())
    wait_for(qtbot, lambda: title.shown_text() == title.text())
    label = view.scale_label
    assert label.mapTo(window, QPoint(0, 0)).y() >= title.mapTo(window, QPoint(0, title.height())).y()
    assert label.width() >= label.sizeHint().width()  # the scale whole too
    assert title.toolTip() == ""
    main = window.main_view  # the other pane alike, so that the two pictures line up
    assert main.scale_label.mapTo(window, QPoint(0, 0)).y() == label.mapTo(window, QPoint(0, 0)).y()
    assert main.image.mapTo(window, QPoint(0, 0)).y() == view.image.mapTo(window, QPoint(0, 0)).y()
    window.set_side_by_side(False)  # alone and wide, the main pane's scale goes back beside its title
    wait_for(
        qtbot,
        lambda: (
            main.scale_label.mapTo(window, QPoint(0, 0)).y()
            < main.title.mapTo(window, QPoint(0, main.title.height())).y()
        ),
    )

    from gui.embedding_view import EmbeddingView

    narrow = EmbeddingView("infinite width kernel (from step 1234567, a copy of the run there)")
    qtbot.addWidget(narrow, before_close_func=lambda view: view.close_canvas())
    narrow.resize(240, 300)
    narrow.show()
    title = narrow.title
    wait_for(qtbot, lambda: narrow.width() == 240 and title.shown_text() != title.text())
    shown = title.shown_text()
    assert shown.endswith("…") and title.text().startswith(shown[:-1])
    assert title.fontMetrics().horizontalAdvance(shown) <= title.contentsRect().width()
    assert title.toolTip() == title.text()


def test_the_metric_curves_follow_a_long_run_in_a_single_view(qtbot, tmp_path) -> None:
    """After the first steps' fixed axis, the step axis grows with the run: every plot's view
    reaches the last recorded step (it stayed at the first ten steps when clipped to view)."""
    window = open_window(qtbot, tmp_path, autoplay=True)
    window.show()
    wait_for(qtbot, lambda: window.snapshot is not None and window.snapshot.frames[0].step >= 300)
    window.set_playing(False)
    wait_for(qtbot, lambda: not window.snapshot.playing)
    window.curves.redraw()
    last = int(window.curves.series[(0, "loss")].view()[0][-1])
    assert last >= 300
    for key, plot in window.curves.plots.items():
        qtbot.waitUntil(lambda plot=plot: plot.getViewBox().viewRange()[0][1] >= last, timeout=20_000)
        steps, _ = window.curves.lines[(0, key)][0].getData()
        assert steps[-1] == last, key


def test_the_status_bar_gives_a_slow_run_seconds_per_step(qtbot, tmp_path) -> None:
    """A 100k-sample run steps every 3.6 s: the status bar said "0 steps/s"."""
    window = open_window(qtbot, tmp_path)
    label = window.status_labels["rate"]
    window._show_status({"step": 7, "steps_per_s": 1 / 3.6, "device": "cpu", "n": 100000})
    assert label.text() == "3.6 s/step"
    window._show_status({"step": 900, "steps_per_s": 240.4, "device": "cpu", "n": 256})
    assert label.text() == "240 steps/s"
    window._show_status({"step": 900, "steps_per_s": 0.0, "device": "cpu", "n": 256})  # paused
    assert label.text() == "0 steps/s"


def test_switching_the_input_axes_of_3d_data_keeps_the_window_on_the_screen(qtbot, tmp_path) -> None:
    """appendix-b-3d at 1366 x 768, input axes to x - z and back: the window stayed 6 px taller
    than the screen and the metric curves shrank to their titles (84 px), the right column's
    minimum having grown with a kernel panel that did not scroll."""
    window = open_window(qtbot, tmp_path, "appendix-b-3d")
    window.resize(1366, 768)
    wait_for(qtbot, lambda: (window.width(), window.height()) == (1366, 768))
    curves, docks = window.curves_dock.height(), (window.input_dock.geometry(), window.table_dock.geometry())
    for axes in ("x - z", "3-D orbit"):
        window.input_view.axes_box.setCurrentText(axes)
        wait_for(qtbot, lambda axes=axes: window.input_view.plot_widget.isVisible() == (axes != "3-D orbit"))
        for _ in range(3):  # the layout requests the switch posted
            QApplication.processEvents()
        assert (window.width(), window.height()) == (1366, 768), axes
        assert window.curves_dock.height() >= curves - 10, (axes, window.curves_dock.height(), curves)
        # the input view and the tabs below it keep their place (the view's height moved 95 px)
        assert (window.input_dock.geometry(), window.table_dock.geometry()) == docks, axes
    assert window.minimumSizeHint().height() <= 600


def test_space_on_a_focused_button_or_check_box_is_theirs(qtbot, tmp_path) -> None:
    """Space on the focused Step button takes one step (it started playing); on the focused
    side-by-side box it ticks the box (it toggled play instead)."""
    window = open_window(qtbot, tmp_path)
    window.controls.step.setFocus()
    qtbot.keyClick(window.controls.step, Qt.Key.Key_Space)
    wait_for(qtbot, lambda: frame(window).step == 1)
    assert not window.controls.play.isChecked()
    box = window.controls.side_by_side
    box.setFocus()
    qtbot.keyClick(box, Qt.Key.Key_Space)
    wait_for(qtbot, lambda: box.isChecked())
    assert not window.controls.play.isChecked()


def test_the_building_progress_goes_with_the_first_frame(qtbot, tmp_path) -> None:
    """The fit's "100% of 1000 steps" stayed in the status bar after the first frame."""
    window = open_window(qtbot, tmp_path)
    QApplication.processEvents()
    assert not window.statusBar().currentMessage().startswith(("building the run", "starting"))


def test_every_control_of_the_window_has_a_tooltip(qtbot, tmp_path) -> None:
    """The sweep and claims docks' controls had none (Qt's own dock and tab buttons aside)."""
    from PySide6.QtWidgets import QAbstractButton, QAbstractSpinBox, QComboBox, QLineEdit

    window = open_window(qtbot, tmp_path)
    bare = []
    for kind in (QAbstractButton, QComboBox, QAbstractSpinBox, QLineEdit):
        for widget in window.findChildren(kind):
            if widget.objectName().startswith(("qt_", "Scroll")) or isinstance(
                widget.parent(), (QComboBox, QAbstractSpinBox)
            ):
                continue  # Qt's own parts, and the text field inside a combo or spin box
            if not widget.toolTip():
                bare.append(f"{type(widget).__name__} {getattr(widget, 'text', lambda: '')()!r}")
    assert bare == []


def drag_on(widget, at: QPoint, dx: int, dy: int) -> None:
    """Press the left button at `at`, move by (dx, dy) in steps and release, as a person would."""
    from PySide6.QtCore import QEvent, QPointF
    from PySide6.QtGui import QMouseEvent

    left, none = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton
    points = [at] + [at + QPoint(dx * i // 4, dy * i // 4) for i in range(1, 5)]
    kinds = [QEvent.Type.MouseButtonPress] + [QEvent.Type.MouseMove] * 4 + [QEvent.Type.MouseButtonRelease]
    for kind, point in zip(kinds, points + [points[-1]]):
        button = none if kind == QEvent.Type.MouseMove else left
        buttons = none if kind == QEvent.Type.MouseButtonRelease else left
        event = QMouseEvent(
            kind, QPointF(point), QPointF(widget.mapToGlobal(point)), button, buttons, Qt.KeyboardModifier.NoModifier
        )
        QApplication.sendEvent(widget, event)
        QApplication.processEvents()


def test_docks_squeezed_by_a_smaller_window_grow_back_when_it_grows(qtbot, tmp_path) -> None:
    """1366 x 740 -> 900 x 600 -> 1366 x 740: the input plane stayed 338 px wide (400 before)
    and the tabs under it 184 px tall (211), the central views taking all the room back. The
    sizes that come back are the ones the user last set (a separator dragged), and a tab raised
    while the window was small gets its group's place."""
    window = open_window(qtbot, tmp_path)

    def resized(width: int, height: int) -> None:
        window.resize(width, height)
        wait_for(qtbot, lambda: (window.width(), window.height()) == (width, height))
        for _ in range(3):  # the layout's posted requests, and the docks given back after them
            QApplication.processEvents()

    def sizes() -> dict:
        return {dock.objectName(): dock.size().toTuple() for dock in docks(window) if dock.isVisible()}

    resized(1366, 740)
    before = sizes()
    central, column = window.centralWidget().geometry(), window.input_dock.geometry()
    # the separators dragged with the mouse: the right column 30 px wider, the input plane 20 shorter
    drag_on(window, QPoint((central.right() + column.left()) // 2, column.center().y()), -30, 0)
    table = window.table_dock.geometry()
    drag_on(window, QPoint(column.center().x(), (column.bottom() + table.top()) // 2), 0, -20)
    for _ in range(3):
        QApplication.processEvents()
    chosen = sizes()
    assert chosen["input"] == (before["input"][0] + 30, before["input"][1] - 20), (before, chosen)
    resized(900, 600)
    squeezed = sizes()
    assert squeezed["input"][0] < 430 and squeezed["clusters"][1] < chosen["clusters"][1], squeezed
    resized(1100, 650)
    resized(1366, 740)
    assert sizes() == chosen
    resized(900, 600)
    window.view_actions[window.kernel_dock].trigger()  # the kernel tab raised while small
    wait_for(qtbot, lambda: on_screen(window, window.kernel_dock))
    resized(1366, 740)
    assert window.kernel_dock.size().toTuple() == chosen["clusters"]
    assert window.input_dock.size().toTuple() == chosen["input"]


def test_a_separator_dragged_in_a_small_window_leaves_the_other_docks_sizes_alone(qtbot, tmp_path) -> None:
    """The metric curves dragged taller at 1366 x 740, the window made small, the right column
    dragged wider there, the window made large again: the curves come back to the height they
    were given (a drag in the small window remembered every dock's squeezed size), and the
    right column's split between the input plane and the tabs is as it was."""
    window = open_window(qtbot, tmp_path)

    def resized(width: int, height: int) -> None:
        window.resize(width, height)
        wait_for(qtbot, lambda: (window.width(), window.height()) == (width, height))
        for _ in range(4):  # the layout's posted requests, the depths given back, then the splits
            QApplication.processEvents()

    resized(1366, 740)
    curves = window.curves_dock
    before = curves.height()
    drag_on(window, QPoint(300, curves.geometry().top() - 3), 0, -60)
    wait_for(qtbot, lambda: curves.height() == before + 60)
    for _ in range(3):
        QApplication.processEvents()
    split = window.input_dock.height() / window.table_dock.height()
    resized(950, 620)
    central, column = window.centralWidget().geometry(), window.input_dock.geometry()
    drag_on(window, QPoint((central.right() + column.left()) // 2, column.center().y()), -20, 0)
    for _ in range(3):
        QApplication.processEvents()
    resized(1366, 740)
    wait_for(qtbot, lambda: curves.height() == before + 60)
    assert abs(window.input_dock.height() / window.table_dock.height() - split) < 0.03

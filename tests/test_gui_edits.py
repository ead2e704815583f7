"""Data edits through the window with real mouse events: dragging a cluster's handle moves
its samples and the run continues on the moved data; undo and redo put it back and forth;
the cluster table adds, removes and resizes clusters, undoably."""

from __future__ import annotations

import numpy as np
from gui_support import cluster_means, frame, open_window, wait_for, wait_step
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent, QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication


def mouse(widget, kind: QEvent.Type, at: QPoint, buttons: Qt.MouseButton) -> None:
    """A mouse event delivered to the widget as the window system would (QTest.mouseMove
    carries no pressed buttons, so drags are sent as QMouseEvents)."""
    button = Qt.MouseButton.NoButton if kind == QEvent.Type.MouseMove else Qt.MouseButton.LeftButton
    event = QMouseEvent(
        kind, QPointF(at), QPointF(widget.mapToGlobal(at)), button, buttons, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(widget, event)
    QTest.qWait(15)


def drag(widget, start: tuple[float, float], end: tuple[float, float], steps: int = 8) -> None:
    """Press, move in steps and release the left button, as a user would."""
    left, none = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton
    mouse(widget, QEvent.Type.MouseMove, QPoint(round(start[0]), round(start[1])), none)
    mouse(widget, QEvent.Type.MouseButtonPress, QPoint(round(start[0]), round(start[1])), left)
    for i in range(1, steps + 1):
        t = i / steps
        p = QPoint(round(start[0] + t * (end[0] - start[0])), round(start[1] + t * (end[1] - start[1])))
        mouse(widget, QEvent.Type.MouseMove, p, left)
    mouse(widget, QEvent.Type.MouseButtonRelease, p, none)


def test_dragging_a_handle_moves_its_cluster_and_undo_puts_it_back(qtbot, tmp_path) -> None:
    window = open_window(qtbot, tmp_path)
    view = window.input_view
    start = frame(window)
    means = cluster_means(start)
    x, y = view.handle_scene_pos(1)
    drag(view.plot_widget.viewport(), (x, y), (x, y - 120))
    wait_for(qtbot, lambda: window.undo_stack.count() == 1)
    moved_center = np.array(window.undo_stack.command(0).do.center)
    assert moved_center[1] > 1.0 and abs(moved_center[0] - means[1][0]) < 0.3
    # the frames shown while dragging hold the cluster part-way: wait for the released one
    moved = moved_center - [-1.0, 0.0]
    wait_for(qtbot, lambda: np.abs(cluster_means(frame(window))[1] - means[1] - moved).max() < 1e-4)
    now = cluster_means(frame(window))
    np.testing.assert_allclose(np.delete(now, 1, 0), np.delete(means, 1, 0), atol=1e-6)
    # the next steps run on the moved data
    window.step_once()
    stepped = wait_step(qtbot, window, 1)
    np.testing.assert_allclose(cluster_means(stepped)[1], now[1], atol=1e-5)
    assert window.curves.events and window.curves.events[-1][1] == "moved cluster 2"
    window.undo_action.trigger()
    wait_for(qtbot, lambda: abs(cluster_means(frame(window))[1][1] - means[1][1]) < 1e-4)
    np.testing.assert_allclose(cluster_means(frame(window)), means, atol=1e-4)
    window.redo_action.trigger()
    wait_for(qtbot, lambda: cluster_means(frame(window))[1][1] > 1.0)


def test_table_add_remove_and_resize_are_undoable(qtbot, tmp_path) -> None:
    """Undoing all four edits gives back the very samples the run started with."""
    window = open_window(qtbot, tmp_path)
    start = frame(window).X.copy()
    table = window.cluster_table
    qtbot.mouseClick(table.add_button, Qt.MouseButton.LeftButton)
    wait_for(qtbot, lambda: frame(window).labels.max() == 4)
    assert frame(window).X.shape[0] == 256 + 64
    assert len(window.legend.labels) == 5 and len(window.input_view.handles) == 5
    box = table.table.cellWidget(0, 1)
    box.setValue(20)
    wait_for(qtbot, lambda: (frame(window).labels == 0).sum() == 20)
    radius = table.table.cellWidget(2, 2)
    radius.setValue(0.05)
    wait_for(qtbot, lambda: window.snapshot.preset.data.clusters[2].radius == 0.05)
    f = frame(window)
    assert np.linalg.norm(f.X[f.labels == 2] - [1.0, 0.0], axis=1).max() <= 0.05 + 1e-5
    table.table.selectRow(3)
    qtbot.mouseClick(table.remove_button, Qt.MouseButton.LeftButton)
    wait_for(qtbot, lambda: frame(window).labels.max() == 3)
    assert window.undo_stack.count() == 4
    for _ in range(4):
        window.undo_action.trigger()
    wait_for(qtbot, lambda: frame(window).X.shape[0] == 256 and window.snapshot.preset.data.clusters[2].radius == 0.3)
    assert [c.count for c in window.snapshot.preset.data.clusters] == [64] * 4
    wait_for(qtbot, lambda: np.array_equal(frame(window).X, start))


def test_a_count_typed_in_the_table_is_undone_by_ctrl_z_there_and_the_box_follows(qtbot, tmp_path) -> None:
    """Typed and entered in the count box, 32 is undone by Ctrl+Z pressed in that box (the
    box's own text undo took the keys) and the box shows the run's 64 again though it keeps
    the focus; Ctrl+Shift+Z redoes it."""
    window = open_window(qtbot, tmp_path)
    box = window.cluster_table.table.cellWidget(0, 1)
    box.setFocus()
    wait_for(qtbot, box.hasFocus)
    box.selectAll()
    qtbot.keyClicks(box, "32")
    qtbot.keyClick(box, Qt.Key.Key_Return)
    wait_for(qtbot, lambda: (frame(window).labels == 0).sum() == 32)
    qtbot.keyClick(box, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    wait_for(qtbot, lambda: (frame(window).labels == 0).sum() == 64 and box.value() == 64)
    assert box.hasFocus() and box.text() == "64"
    qtbot.keyClick(box, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    wait_for(qtbot, lambda: (frame(window).labels == 0).sum() == 32 and box.value() == 32)


def test_reset_keeps_the_edited_data_and_starts_the_undo_history_afresh(qtbot, tmp_path) -> None:
    """After R, Ctrl+Z on a count typed before it said "data.edits: edit 0 is not an add,
    remove, count or radius to undo" and still stepped the undo list (a fresh-user look): the
    reset run's data holds the edits, so the history starts afresh and the window says so."""
    window = open_window(qtbot, tmp_path)
    window.cluster_table.table.cellWidget(0, 1).setValue(32)
    wait_for(qtbot, lambda: (frame(window).labels == 0).sum() == 32)
    assert window.undo_stack.count() == 1 and window.undo_action.isEnabled()
    window.main_view.setFocus()
    qtbot.keyClick(window, Qt.Key.Key_R)
    wait_for(qtbot, lambda: frame(window).step == 0 and "nothing to undo" in window.statusBar().currentMessage())
    assert window.undo_stack.count() == 0 and not window.undo_action.isEnabled()
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(window, Qt.Key.Key_S)  # the worker takes commands in order: an undo would come first
    wait_for(qtbot, lambda: frame(window).step == 1)
    assert (frame(window).labels == 0).sum() == 32 and "edit 0" not in window.statusBar().currentMessage()


def test_remove_needs_a_selected_row_and_tab_leaves_the_table(qtbot, tmp_path) -> None:
    """Remove with no row selected removed the last cluster; Tab cycled in the table's cells."""
    window = open_window(qtbot, tmp_path)
    table = window.cluster_table
    assert not table.remove_button.isEnabled()
    table.table.selectRow(1)
    assert table.remove_button.isEnabled()
    qtbot.mouseClick(table.remove_button, Qt.MouseButton.LeftButton)
    wait_for(qtbot, lambda: len(window.snapshot.preset.data.clusters) == 3)
    assert [c.center[0] for c in window.snapshot.preset.data.clusters] == [-3.0, 1.0, 3.0]
    table.table.setFocus()
    reached = set()
    for _ in range(40):
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
        reached.add(QApplication.focusWidget())
    assert table.add_button in reached


def in_view(view) -> bool:
    """Whether every sample of the plane lies inside its visible range."""
    (x0, x1), (y0, y1) = view.plot.vb.viewRange()
    X = view.X
    return bool(((X[:, 0] >= x0) & (X[:, 0] <= x1) & (X[:, 1] >= y0) & (X[:, 1] <= y1)).all())


def test_a_cluster_dragged_to_the_edge_brings_the_view_after_it_until_the_user_zooms(qtbot, tmp_path) -> None:
    """A cluster dropped at the plane's top edge was left half outside the view; now the view
    fits the data again on release. After a zoom by the wheel the view is the user's (a drag
    keeps it), and a double click fits it to the data again."""
    window = open_window(qtbot, tmp_path)
    view = window.input_view
    viewport = view.plot_widget.viewport()
    assert in_view(view)
    x, y = view.handle_scene_pos(1)
    drag(viewport, (x, y), (x, 3))
    wait_for(qtbot, lambda: window.undo_stack.count() == 1)
    moved = np.array(window.undo_stack.command(0).do.center)
    wait_for(qtbot, lambda: np.abs(cluster_means(frame(window))[1] - moved).max() < 0.1 and in_view(view))
    assert view.following

    # a zoom by the wheel: the view is the user's now
    center = QPointF(viewport.width() / 2, viewport.height() / 2)
    wheel = QWheelEvent(
        center,
        QPointF(viewport.mapToGlobal(center.toPoint())),
        QPoint(0, 0),
        QPoint(0, 240),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(viewport, wheel)
    wait_for(qtbot, lambda: not view.following)
    zoomed = view.plot.vb.viewRange()
    assert not in_view(view)
    k = next(k for k in (0, 2, 3) if viewport.rect().contains(QPoint(*map(round, view.handle_scene_pos(k)))))
    x, y = view.handle_scene_pos(k)
    drag(viewport, (x, y), (x + 40, y))
    wait_for(qtbot, lambda: window.undo_stack.count() == 2)
    moved = np.array(window.undo_stack.command(1).do.center)
    wait_for(qtbot, lambda: np.abs(cluster_means(frame(window))[k] - moved).max() < 0.1)
    # kept (a pixel's change of the plot's height in the layout moves its ends by 0.01)
    np.testing.assert_allclose(view.plot.vb.viewRange(), zoomed, atol=0.05)
    assert not view.following and not in_view(view)
    at, left, none = QPoint(5, viewport.height() // 2), Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton
    for kind, buttons in (("Press", left), ("Release", none), ("DblClick", left), ("Release", none)):
        mouse(viewport, getattr(QEvent.Type, "MouseButton" + kind), at, buttons)  # a double click
    wait_for(qtbot, lambda: view.following and in_view(view))


def test_data_that_are_not_clusters_say_why_the_table_has_nothing_to_edit(qtbot, tmp_path) -> None:
    """digits showed an empty table and greyed buttons without a word."""
    window = open_window(qtbot, tmp_path, "digits")
    table = window.cluster_table
    wait_for(qtbot, lambda: table.note.isVisibleTo(table))
    assert "digits" in table.note.text() and "nothing to add, remove or resize" in table.note.text()
    assert not table.add_button.isEnabled()
    window.open_preset("fig5-2d")
    wait_for(qtbot, lambda: table.table.rowCount() == 4 and table.add_button.isEnabled())
    assert not table.note.isVisibleTo(table)

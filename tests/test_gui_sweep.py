"""The Sweep dock's panel (gui/sweep_dock.py): a tiny sweep runs in the background on the local
pool, the phase diagram fills cell by cell, a click on a cell gives that run's preset, and
Cancel stops a long sweep."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt, QThread

from gui.phase_diagram import EMPTY
from gui.sweep_dock import SweepPanel
from sim.preset import PresetError, load_preset, with_changes


def small_preset():
    preset = load_preset("fig5-2d")
    clusters = [{**c.model_dump(), "count": 10} for c in preset.data.clusters]
    return with_changes(preset, {"data.clusters": clusters, "device": "cpu", "every": 10})


def small_panel(qtbot, workers: int = 1) -> SweepPanel:
    """A sweep panel on small_preset()."""
    panel = SweepPanel(workers=workers)
    qtbot.addWidget(panel)
    panel.set_preset(small_preset())
    return panel


def test_the_dock_s_errors_name_its_own_boxes(qtbot) -> None:
    """The dock's errors named command-line options it does not have ("--grid: each field
    once", "--seeds") and blamed the 8 typed for a range's 20.5 (a fresh-user look)."""
    panel = small_panel(qtbot)
    cases = [
        (("loss.tau", "0.1,,0.5", "network.width", "8,16"), "sweep: x values: expected comma-separated values"),
        (("loss.tau", "0.1,0.5", "network.width", "1:2"), "sweep: y values: expected START:STOP:COUNT"),
        (("loss.tau", "0.1,0.5", "loss.tau", "0.2,0.3"), "sweep: x field and sweep: y field: each field once"),
        (("seed", "1,2", "network.width", "8,16"), "sweep: x field: seed: not a grid field; the runs take the seeds"),
        (("data.clusters[0].count", "8:33:3", "network.width", "8,16"), "20.5"),
        (("loss.tau", "0.1,0.5", "network.width", "16,64,16"), "sweep: y values: 16 given twice"),  # not "y field"
    ]
    for (xf, xv, yf, yv), message in cases:
        panel.x_field.setCurrentText(xf)
        panel.x_values.setText(xv)
        panel.y_field.setCurrentText(yf)
        panel.y_values.setText(yv)
        panel.start()
        text = panel.status.text()
        assert message in text and "--" not in text, text
        assert not panel.running


def test_a_tiny_sweep_fills_the_diagram_and_a_click_opens_that_run(qtbot) -> None:
    panel = SweepPanel(workers=2)
    qtbot.addWidget(panel)
    panel.resize(700, 700)
    panel.show()
    panel.set_preset(small_preset())
    panel.x_field.setCurrentText("loss.tau")
    panel.x_values.setText("0.2,0.5")
    panel.y_field.setCurrentText("network.width")
    panel.y_values.setText("8,16")
    panel.seeds.setValue(1)
    panel.steps.setValue(20)
    panel.measure.setCurrentText("end_silhouette")
    with qtbot.waitSignal(panel.finished, timeout=600_000) as ended:
        qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    assert ended.args == [""] and len(panel.rows) == 4 and panel.progress.value() == 4
    grid = panel.diagram.grid
    assert grid.count.tolist() == [[1, 1], [1, 1]] and np.all(np.isfinite(grid.mean))
    image = panel.diagram.grab().toImage()
    rect = panel.diagram._plot_rect()
    for fx, fy in ((0.1, 0.1), (0.9, 0.1), (0.1, 0.9), (0.9, 0.9)):
        colour = image.pixelColor(int(rect.left() + fx * rect.width()), int(rect.top() + fy * rect.height()))
        assert colour != EMPTY
    with qtbot.waitSignal(panel.open_run, timeout=5000) as opened:
        point = QPoint(int(rect.left() + 0.75 * rect.width()), int(rect.top() + 0.25 * rect.height()))
        qtbot.mouseClick(panel.diagram, Qt.MouseButton.LeftButton, pos=point)
    preset = opened.args[0]
    assert (preset.loss.tau, preset.network.width, preset.steps) == (0.5, 16, 20)
    assert preset.name == "fig5-2d (sweep run 3: loss.tau=0.5, network.width=16, seed 0)"  # not fig5-2d's


def test_cancel_stops_a_long_sweep(qtbot) -> None:
    panel = small_panel(qtbot)
    panel.x_values.setText("0.2,0.5")
    panel.y_values.setText("8")
    panel.seeds.setValue(1)
    panel.steps.setValue(10**6)
    panel.start()
    assert panel.running
    with qtbot.waitSignal(panel.finished, timeout=600_000) as ended:
        qtbot.mouseClick(panel.cancel_button, Qt.MouseButton.LeftButton)
    assert ended.args == ["cancelled"] and not panel.running and panel.start_button.isEnabled()


def test_the_window_has_a_sweep_dock_that_sweeps_the_run_as_drawn_and_opens_a_cell(qtbot, tmp_path) -> None:
    from gui_support import open_window, wait_for

    from sim.commands import MoveCluster

    window = open_window(qtbot, tmp_path)
    assert window.sweep_dock in window.view_actions
    window.send(MoveCluster(0, (-2.5, 0.5)))
    wait_for(
        qtbot, lambda: window.snapshot is not None and window.snapshot.preset.data.clusters[0].center == [-2.5, 0.5]
    )
    window.sweep_panel.start_button.pressed.emit()  # the press hands the panel the run's preset
    assert window.sweep_panel.preset == window.snapshot.preset
    name = "fig5-2d (sweep run 3: loss.tau=0.1, seed 0)"  # as a cell names its run
    window.sweep_panel.open_run.emit(with_changes(small_preset(), {"name": name}))
    wait_for(qtbot, lambda: window.snapshot.preset.name == name)
    _, path = window.files.export_defaults("mp4")  # an export's file name without ':', '=', spaces
    assert path.name == "fig5-2d-sweep-run-3-loss.tau-0.1-seed-0.mp4"
    assert window.files.export_defaults("png")[1].name == "fig5-2d-sweep-run-3-loss.tau-0.1-seed-0-frames"


def test_a_bad_field_in_the_panel_is_blamed_on_the_panel_field(qtbot) -> None:
    """The panel's errors name its own x or y field, not the command line's --grid."""
    panel = small_panel(qtbot)
    panel.x_field.setCurrentText("loss.tau")
    panel.y_field.setCurrentText("network.widht")
    with pytest.raises(PresetError, match=r"^sweep: y field: network.widht: no such field$"):
        panel.sweep().jobs()
    panel.y_field.setCurrentText("network.width")
    panel.x_values.setText("-1,0.5")  # a bad value: blamed on its own axis (both were named)
    panel.y_values.setText("16,64")
    with pytest.raises(PresetError, match=r"^sweep: x field: loss.tau: expected a number > 0"):
        panel.sweep().jobs()


def test_the_diagram_lies_whole_beside_the_settings_at_1366_by_768(qtbot, tmp_path) -> None:
    """In the bottom dock of a 1366 x 768 window the phase diagram showed 18 of its 240 px
    below the settings; beside them it is whole. A failure's many-line text stays one line."""
    from gui_support import open_window, wait_for

    window = open_window(qtbot, tmp_path)
    window.resize(1366, 768)
    wait_for(qtbot, lambda: (window.width(), window.height()) == (1366, 768))
    window.view_actions[window.sweep_dock].trigger()
    diagram = window.sweep_panel.diagram
    wait_for(qtbot, lambda: diagram.isVisible() and diagram.height() >= 150)
    wait_for(qtbot, lambda: diagram.visibleRegion().boundingRect().height() == diagram.height())
    panel = window.sweep_panel
    panel.thread = QThread()  # as if a sweep had run and failed with a long message
    panel._on_ended("failed:\n   first line\n\n   second line")
    assert panel.status.text().startswith("failed: first line second line:")


def test_a_long_axis_title_gives_way_to_its_last_part_then_an_ellipsis(qapp) -> None:
    """A short diagram clipped 'network.width' to 'etwork.widt' at both ends."""
    from PySide6.QtGui import QFont, QFontMetricsF

    from gui.phase_diagram import fitted

    metrics = QFontMetricsF(QFont())
    whole, last = metrics.horizontalAdvance("network.width"), metrics.horizontalAdvance("width")
    assert fitted("network.width", whole + 1, metrics) == "network.width"
    assert fitted("network.width", (whole + last) / 2, metrics) == "width"
    cut = fitted("network.width", last / 2, metrics)
    assert cut.endswith("…") and metrics.horizontalAdvance(cut) <= last / 2

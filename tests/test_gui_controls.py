"""Parameter controls take effect in the running simulation without restarting the app:
tau, step sizes and view noise between two steps; network, latent dimension and preset by
building a new run (said in the status bar); every control has a tooltip; the layout and
the last preset persist in QSettings. A box's range is the preset model's declared range; the
text under the kernel selector follows the kernel; the run state says each change once."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest
from gui_support import frame, open_window, show_exposed, wait_for
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QAbstractButton, QAbstractSpinBox, QCheckBox, QComboBox, QDoubleSpinBox

from gui.app import choose_preset
from gui.cluster_table import ClusterTable
from gui.controls import KERNEL_MEANING, Controls
from gui.run_state import RunState
from sim import PresetError, load_preset
from sim.commands import Change
from sim.preset import ClusterSpec, save_preset, with_changes


def test_training_knobs_apply_between_steps(qtbot, tmp_path) -> None:
    window = open_window(qtbot, tmp_path)
    c = window.controls
    c.tau.setValue(0.2)
    c.lr.setValue(0.01)
    c.lr_points.setValue(0.02)
    c.noise.setValue(0.1)
    window.step_once()
    wait_for(qtbot, lambda: frame(window).step == 1)
    preset = window.snapshot.preset
    assert (preset.loss.tau, preset.training.lr, preset.training.lr_points, preset.views.noise) == (
        0.2,
        0.01,
        0.02,
        0.1,
    )
    sim = window.worker.sims[0]
    assert sim.theta_opt.param_groups[0]["lr"] == 0.01 and sim.delta_opt.param_groups[0]["lr"] == 0.02
    c.steps_per_frame.setValue(3)
    window.set_playing(True)
    wait_for(qtbot, lambda: frame(window).step >= 10)
    assert window.worker.steps_per_frame == 3


def test_network_knobs_rebuild_and_say_so(qtbot, tmp_path) -> None:
    window = open_window(qtbot, tmp_path)
    generation = window.snapshot.generation
    wait_for(qtbot, lambda: window.status_labels["rate"].text() != "building")
    window.controls.width.setValue(32)
    # until the new run's first frame: the message stays and the rate is not the old run's
    assert "restarts at step 0" in window.statusBar().currentMessage()
    assert window.status_labels["rate"].text() == "building"
    wait_for(qtbot, lambda: window.snapshot.generation > generation)
    assert window.snapshot.preset.network.width == 32 and frame(window).step == 0
    wait_for(qtbot, lambda: window.status_labels["rate"].text() != "building")
    assert "restarts at step 0" not in window.statusBar().currentMessage()
    window.controls.latent.setCurrentIndex(window.controls.latent.findData(3))
    wait_for(qtbot, lambda: frame(window).Z.shape[1] == 3)
    assert window.main_view.latent_dim == 3
    window.controls.preset.setCurrentIndex(window.controls.preset.findData("imbalanced"))
    window.open_preset("imbalanced")
    wait_for(qtbot, lambda: window.snapshot.preset.name == "imbalanced")
    assert window.settings.value("preset") == "imbalanced"


def test_every_control_has_a_tooltip(qtbot, tmp_path) -> None:
    window = open_window(qtbot, tmp_path)
    kinds = (QAbstractButton, QAbstractSpinBox, QComboBox, QCheckBox)
    controls = [w for kind in kinds for w in window.controls.findChildren(kind)]
    controls += [w for kind in kinds for w in window.cluster_table.findChildren(kind)]
    assert len(controls) > 20
    assert [w for w in controls if not w.toolTip() and w.isVisibleTo(window)] == []


def test_layout_and_last_preset_persist(qtbot, tmp_path) -> None:
    window = open_window(qtbot, tmp_path)
    window.curves_dock.hide()
    window.close()
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    assert settings.value("state") is not None
    again = open_window(qtbot, tmp_path)
    assert not again.curves_dock.isVisible() and again.input_dock.isVisible()
    settings.setValue("preset", "appendix-b-3d")
    assert choose_preset(None, settings)[0] == "appendix-b-3d"
    assert choose_preset("fig5-2d", settings)[0] == "fig5-2d"
    settings.setValue("preset", "gone-missing")
    assert choose_preset(None, settings)[0] == "fig5-2d"
    # a remembered preset whose data file went bad: the default opens; asked for by name: an error
    data = tmp_path / "cells.csv"
    data.write_text("1,2\n3,x\n")
    changes = {"data.kind": "file", "data.path": str(data), "data.clusters": []}
    on_file = tmp_path / "on-cells.toml"
    save_preset(with_changes(load_preset("fig5-2d"), changes), on_file)
    settings.setValue("preset", str(on_file))
    assert choose_preset(None, settings)[0] == "fig5-2d"
    with pytest.raises(PresetError, match=r"cells.csv: data.path: expected numbers in every cell, got 'x'"):
        choose_preset(str(on_file), settings)


def test_loss_choice_rebuilds_and_says_what_h_means(qtbot, tmp_path) -> None:
    window = open_window(qtbot, tmp_path)
    c = window.controls
    generation = window.snapshot.generation
    c.loss.setCurrentIndex(c.loss.findData("byol"))
    wait_for(qtbot, lambda: window.snapshot.generation > generation)
    assert window.snapshot.preset.loss.kind == "byol"
    assert window.worker.sims[0].head is not None
    assert "predictor" in c.kernel_meaning.text() and not c.tau.isEnabled()
    window.step_once()
    wait_for(qtbot, lambda: frame(window).step == 1)
    c.loss.setCurrentIndex(c.loss.findData("vicreg"))
    wait_for(qtbot, lambda: window.snapshot.preset.loss.kind == "vicreg")
    assert "VICReg" in c.kernel_meaning.text()


def bound_boxes(controls: Controls, table: ClusterTable) -> dict[str, QAbstractSpinBox]:
    """Preset field -> the box that edits it."""
    table.set_clusters([ClusterSpec(center=[0.0, 0.0])], True)
    return {
        "loss.tau": controls.tau,
        "training.lr": controls.lr,
        "training.lr_points": controls.lr_points,
        "views.noise": controls.noise,
        "network.width": controls.width,
        "network.depth": controls.depth,
        "data.clusters[0].count": table.table.cellWidget(0, 1),
        "data.clusters[0].radius": table.table.cellWidget(0, 2),
    }


def test_a_control_takes_exactly_the_values_the_preset_model_accepts(qtbot) -> None:
    controls, table = Controls(["auto", "cpu"]), ClusterTable()
    qtbot.addWidget(controls)
    qtbot.addWidget(table)
    preset = load_preset("fig5-2d")
    for field, box in bound_boxes(controls, table).items():
        kind = float if isinstance(box, QDoubleSpinBox) else int
        step = 10.0 ** -box.decimals() if kind is float else 1
        for end in (box.minimum(), box.maximum()):
            assert with_changes(preset, {field: kind(end)}) is not None  # both ends are accepted
        for beyond in (box.minimum() - step, box.maximum() + step):
            with pytest.raises(PresetError, match=re.escape(field)):  # one step further is refused
                with_changes(preset, {field: kind(beyond)})
            box.setValue(beyond)
            assert box.minimum() <= box.value() <= box.maximum()
            with_changes(preset, {field: kind(box.value())})


def test_an_out_of_range_edit_is_one_line_and_the_run_goes_on(qtbot, tmp_path) -> None:
    window = open_window(qtbot, tmp_path)
    before = window.snapshot.preset
    window.send(Change({"loss.tau": float("inf")}))
    wait_for(qtbot, lambda: "loss.tau" in window.statusBar().currentMessage())
    assert "\n" not in window.statusBar().currentMessage()
    window.step_once()
    wait_for(qtbot, lambda: frame(window).step == 1)
    assert window.snapshot.preset.loss == before.loss and window.controls.tau.value() == before.loss.tau
    assert np.isfinite(frame(window).loss)


@pytest.mark.parametrize(
    ("box", "typed", "message"),
    [
        ("tau", "5000", "tau: expected a number from 0.001 to 1000, got 5000; kept 0.5"),
        ("lr", "-1", "step size: expected a number from 0.00001 to 100, got -1; kept 0.05"),
        (
            "steps_per_frame",
            "9999999",
            "steps per frame: expected a whole number from 0 to 100000, got 9999999; kept max",
        ),
        ("count", "99999999", "cluster 1 count: expected a whole number from 1 to 1000000, got 99999999; kept 64"),
        ("radius", "-0.5", "cluster 1 radius: expected a number from 0 to 1000000, got -0.5; kept 0.3"),
        ("lr", "1e-9", "step size: expected a number from 0.00001 to 100, got 1e-9; kept 0.05"),
        ("count", "64.5", "cluster 1 count: expected a whole number from 1 to 1000000, got 64.5; kept 64"),
        ("tau", "abc", "tau: expected a number from 0.001 to 1000, got abc; kept 0.5"),
        ("tau", "nan", "tau: expected a number from 0.001 to 1000, got nan; kept 0.5"),
        ("radius", "1e", "cluster 1 radius: expected a number from 0 to 1000000, got 1e; kept 0.3"),
        # a comma that could be a thousands separator is unclear, and a count has no decimals
        ("tau", "1,000", "tau: expected a number from 0.001 to 1000, got 1,000; kept 0.5"),
        ("count", "1,000", "cluster 1 count: expected a whole number from 1 to 1000000, got 1,000; kept 64"),
        ("tau", "1_0", "tau: expected a number from 0.001 to 1000, got 1_0; kept 0.5"),
        # finer than the box holds: it showed 0.002 for 0.0015
        ("tau", "0.0015", "tau: expected a number of at most 3 decimals from 0.001 to 1000, got 0.0015; kept 0.5"),
    ],
)
def test_a_typed_number_out_of_range_is_refused_naming_the_field(qtbot, tmp_path, box, typed, message) -> None:
    """Typed key by key as a person does (Qt's boxes dropped the key that made the text invalid
    or left the range: 5000 became 500, -1 became 1, 1e-9 became 19 and 64.5 in a whole-number
    box 645, applied to the run without a word)."""
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    window = open_window(qtbot, tmp_path)
    wait_for(qtbot, lambda: window.cluster_table.table.rowCount() == 4)
    column = {"count": 1, "radius": 2}
    widget = window.cluster_table.table.cellWidget(0, column[box]) if box in column else getattr(window.controls, box)
    before = widget.value()
    widget.setFocus()
    widget.lineEdit().selectAll()
    QTest.keyClicks(widget, typed)
    assert widget.text() == typed  # every key taken
    QTest.keyClick(widget, Qt.Key.Key_Return)
    wait_for(qtbot, lambda: window.statusBar().currentMessage() == message)
    assert widget.value() == before and window.undo_stack.count() == 0
    preset = window.snapshot.preset
    assert (preset.loss.tau, preset.training.lr, preset.data.clusters[0]) == (
        0.5,
        0.05,
        load_preset("fig5-2d").data.clusters[0],
    )


def test_numbers_typed_in_scientific_notation_or_with_a_decimal_comma_are_read_as_meant(qtbot, tmp_path) -> None:
    """1e-4 is 0.0001 (Qt's box took 1e-4 as 14), 1,5 is 1.5 (it took 15: a group separator)
    and 1e2 in a whole-number box is 100; each reaches the run (0,45: 0.45, no thousands)."""
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    window = open_window(qtbot, tmp_path)
    wait_for(qtbot, lambda: window.cluster_table.table.rowCount() == 4)
    count = window.cluster_table.table.cellWidget(0, 1)
    for widget, typed, value in (
        (window.controls.lr, "1e-4", 1e-4),
        (window.controls.noise, "1,5", 1.5),
        (window.controls.tau, "0,450", 0.45),
        (count, "1e2", 100),
    ):
        widget.setFocus()
        widget.lineEdit().selectAll()
        QTest.keyClicks(widget, typed)
        assert widget.text() == typed
        QTest.keyClick(widget, Qt.Key.Key_Return)
        wait_for(qtbot, lambda widget=widget, value=value: widget.value() == value)

    def applied() -> tuple:
        preset = window.snapshot.preset
        return preset.training.lr, preset.views.noise, preset.loss.tau, preset.data.clusters[0].count

    wait_for(qtbot, lambda: applied() == (1e-4, 1.5, 0.45, 100))
    assert window.statusBar().currentMessage().count("expected") == 0


def test_the_text_under_the_kernel_selector_follows_the_kernel(qtbot, tmp_path) -> None:
    window = open_window(qtbot, tmp_path)
    c = window.controls
    texts = {}
    for kernel in ("identity", "limit", "nn"):
        c.kernel.setCurrentIndex(c.kernel.findData(kernel))
        wait_for(qtbot, lambda kernel=kernel: frame(window).kernel == kernel)
        texts[kernel] = c.kernel_meaning.text()
    assert "identity kernel" in texts["identity"] and "infinite-width" in texts["limit"]
    assert texts["nn"] == KERNEL_MEANING["nt_xent"] and len(set(texts.values())) == 3


def test_the_run_state_says_each_change_once(qtbot, tmp_path) -> None:
    window = open_window(qtbot, tmp_path)
    snap = window.snapshot
    state = RunState()
    seen: list[str] = []
    for name in ("restarted", "data", "settings", "frames", "curves_due"):
        getattr(state, name).connect(lambda *_, name=name: seen.append(name))
    state.take(snap)
    state.take(dataclasses.replace(snap, playing=True))  # the same run, data and settings
    assert seen.count("restarted") == seen.count("data") == seen.count("settings") == 1
    assert seen.count("frames") == 2
    seen.clear()
    tau = with_changes(snap.preset, {"loss.tau": 0.3})
    state.take(dataclasses.replace(snap, preset=tau, data_version=snap.data_version + 1))
    assert seen.count("settings") == seen.count("data") == 1 and "restarted" not in seen
    state.take(dataclasses.replace(snap, generation=snap.generation + 1))
    assert seen.count("restarted") == 1


def test_controls_follow_the_run_without_echoing_it_back(qtbot, tmp_path, monkeypatch) -> None:
    window = open_window(qtbot, tmp_path)
    sent = []
    monkeypatch.setattr(window.worker, "send", sent.append)
    snap = window.snapshot
    changed = with_changes(
        snap.preset, {"loss.tau": 0.3, "training.lr": 0.02, "network.width": 48, "loss.kind": "byol"}
    )
    window.state.take(dataclasses.replace(snap, preset=changed))
    c = window.controls
    assert (c.tau.value(), c.lr.value(), c.width.value(), c.loss.currentData()) == (0.3, 0.02, 48, "byol")
    assert "predictor" in c.kernel_meaning.text() and not c.tau.isEnabled()
    assert sent == []  # shown, not sent back as the user's edits


def test_return_in_a_refused_export_box_keeps_the_dialog_open(qtbot, tmp_path) -> None:
    """In the export dialog Return pressed its default button: a refused fps ("abc") closed it
    and the export started with the value the box kept. Refused, the dialog stays and says why;
    a number taken, Return exports as in any dialog."""
    from pathlib import Path

    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QWidget

    from gui.export import ExportOptions
    from gui.export_job import ExportDialog

    parent = QWidget()
    qtbot.addWidget(parent)
    dialog = ExportDialog(parent, "mp4", ExportOptions(), Path(tmp_path / "out.mp4"))
    accepted = []
    dialog.accepted.connect(lambda: accepted.append(True))
    show_exposed(qtbot, dialog)
    for typed, taken in (("abc", False), ("1,000", False), ("24", True)):
        dialog.fps.setFocus()
        dialog.fps.lineEdit().selectAll()
        QTest.keyClicks(dialog.fps, typed)
        QTest.keyClick(dialog.fps, Qt.Key.Key_Return)
        if not taken:
            assert not accepted and dialog.isVisible() and dialog.fps.value() == 30.0
            assert f"got {typed}; kept 30" in dialog.summary.text()
    wait_for(qtbot, lambda: accepted == [True])
    assert dialog.options().fps == 24.0


def test_a_refusal_is_not_replaced_by_progress_lines(qtbot, tmp_path) -> None:
    """A long fit or step reports its progress every half second: a refusal typed meanwhile
    was replaced within 0.5 s, unread. It holds the status bar; progress shows again after."""
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    window = open_window(qtbot, tmp_path)
    box = window.controls.tau
    box.setFocus()
    box.lineEdit().selectAll()
    QTest.keyClicks(box, "abc")
    QTest.keyClick(box, Qt.Key.Key_Return)
    refusal = "tau: expected a number from 0.001 to 1000, got abc; kept 0.5"
    wait_for(qtbot, lambda: window.statusBar().currentMessage() == refusal)
    window.on_progress("building the run: fitting its data-blind start, 15%")
    assert window.statusBar().currentMessage() == refusal
    window._failure_until = 0.0  # its 10 s over
    window.on_progress("building the run: fitting its data-blind start, 20%")
    assert window.statusBar().currentMessage().endswith("20%")


def test_a_refusal_goes_once_a_box_takes_a_value(qtbot, tmp_path) -> None:
    """ "tau: ...; kept 0.5" stayed in the status bar for 10 s after 1,5 was taken (and after
    0,5, the value kept, which changes nothing)."""
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    window = open_window(qtbot, tmp_path)
    wait_for(qtbot, lambda: window.cluster_table.table.rowCount() == 4)
    radius = window.cluster_table.table.cellWidget(0, 2)
    for box, refused, taken in (
        (window.controls.tau, "0", "0,5"),
        (window.controls.tau, "0", "1,5"),
        (radius, "-1", "0.4"),
    ):
        for typed in (refused, taken):
            box.setFocus()
            box.lineEdit().selectAll()
            QTest.keyClicks(box, typed)
            QTest.keyClick(box, Qt.Key.Key_Return)
            if typed == refused:
                wait_for(qtbot, lambda: "expected a number" in window.statusBar().currentMessage())
        assert "expected" not in window.statusBar().currentMessage()
    assert window.controls.tau.value() == 1.5 and radius.value() == 0.4


def test_a_box_left_with_return_follows_the_next_preset_and_typed_text_stays(qtbot, tmp_path) -> None:
    """After Return a box has focus but no typed text: a preset loaded then sets it (it kept
    the old preset's 0.0001). Text typed and not committed stays."""
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    window = open_window(qtbot, tmp_path)
    lr, tau = window.controls.lr, window.controls.tau
    lr.setFocus()
    lr.lineEdit().selectAll()
    QTest.keyClicks(lr, "1e-4")
    QTest.keyClick(lr, Qt.Key.Key_Return)
    wait_for(qtbot, lambda: window.snapshot.preset.training.lr == 1e-4)
    assert lr.hasFocus() and not lr.being_edited()
    window.open_preset("imbalanced")
    wait_for(qtbot, lambda: window.snapshot.preset.name == "imbalanced")
    assert lr.value() == load_preset("imbalanced").training.lr != 1e-4

    tau.setFocus()
    tau.lineEdit().selectAll()
    QTest.keyClicks(tau, "0.3")
    assert tau.being_edited()
    window.open_preset("fig5-2d")
    wait_for(qtbot, lambda: window.snapshot.preset.name == "fig5-2d")
    assert tau.text() == "0.3"


def test_the_wheel_scrolls_the_controls_over_a_box_that_is_not_being_edited(qtbot, tmp_path) -> None:
    """Scrolling the controls with the wheel turned depth 4 into 3 under the pointer, rebuilding
    the network. Over a box or list without focus the wheel is left to the panel (ignored by
    the box: Qt then gives it to the scroll area around, for a wheel from the window system);
    the box being edited still takes it."""
    from PySide6.QtCore import QPoint, QPointF, Qt
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    window = open_window(qtbot, tmp_path)

    def wheel(widget) -> bool:
        """Whether `widget` took one notch of the wheel down."""
        at = QPointF(widget.width() / 2, widget.height() / 2)
        event = QWheelEvent(
            at,
            QPointF(widget.mapToGlobal(at.toPoint())),
            QPoint(0, 0),
            QPoint(0, -120),
            Qt.MouseButton.NoButton,
            Qt.KeyboardModifier.NoModifier,
            Qt.ScrollPhase.NoScrollPhase,
            False,
        )
        QApplication.sendEvent(widget, event)
        return event.isAccepted()

    window.controls.step.setFocus()
    depth, activation = window.controls.depth, window.controls.activation
    assert not wheel(depth) and depth.value() == 4
    assert not wheel(activation) and activation.currentData() == "tanh"
    tau = window.controls.tau
    tau.setFocus()
    assert wheel(tau) and tau.value() == 0.45
    wait_for(qtbot, lambda: window.snapshot.preset.loss.tau == 0.45)
    assert window.snapshot.preset.network.depth == 4


def test_the_cluster_table_of_digits_says_why_it_is_empty_where_it_can_be_read(qtbot, tmp_path) -> None:
    """The digits preset has no clusters to edit: the empty table took the dock's room and its
    note sat below the dock's edge. The table goes; the note is in sight; clusters bring it back."""
    window = open_window(qtbot, tmp_path, preset="digits")
    window.table_dock.raise_()
    table = window.cluster_table
    wait_for(qtbot, lambda: table.note.isVisible())
    assert not table.table.isVisible() and "nothing to add, remove or resize" in table.note.text()
    note = table.note.mapTo(window.table_dock, table.note.rect().bottomLeft())
    assert note.y() <= window.table_dock.height()
    window.open_preset("fig5-2d")
    wait_for(qtbot, lambda: table.table.isVisible() and table.table.rowCount() == 4 and not table.note.isVisible())


def test_the_export_summary_warns_when_the_side_by_side_run_starts_after_the_last_frame(qtbot, tmp_path) -> None:
    """Side by side turned on at step 943 and 12 frames exported up to step 220: the whole
    right half was the placeholder, with no word in the dialog. The summary says so until
    the frames reach that step."""
    from pathlib import Path

    from PySide6.QtWidgets import QWidget

    from gui.export import ExportOptions
    from gui.export_job import ExportDialog

    parent = QWidget()
    qtbot.addWidget(parent)
    defaults = ExportOptions(panels=("embedding", "twin"), frames=12, steps_per_frame=20, twin_from=943)
    dialog = ExportDialog(parent, "mp4", defaults, Path(tmp_path / "out.mp4"))
    qtbot.addWidget(dialog)
    assert "starts at step 943, after the last step exported" in dialog.summary.text()
    dialog.frames.setValue(60)  # up to step 1180
    assert "steps 0 to 1180" in dialog.summary.text() and "after the last step" not in dialog.summary.text()
    dialog.frames.setValue(12)
    dialog.panels["twin"].setChecked(False)  # no such panel: nothing to warn of
    assert "after the last step" not in dialog.summary.text()

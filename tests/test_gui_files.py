"""The File menu with a real event loop: Save as writes a preset that replays the run (data
edit and kernel switch included) in a test Simulation and in the window; New and Open
switch runs; the recent list keeps the last eight, persists and opens; a dropped file
opens; bad files are a dialog naming file and field while the run goes on untouched; the
export dialog records a video while the window stays live, and a cancel, a failure or
closing the window leaves no file. File dialogs and message boxes are replaced, so
nothing blocks."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import imageio.v2 as imageio
import numpy as np
import pytest
from gui_support import frame, open_window, wait_for, wait_step
from PySide6.QtCore import QMimeData, QPoint, QPointF, QSettings, Qt, QTimer, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QDialogButtonBox, QFileDialog, QMessageBox, QPushButton

from gui import undo
from gui.export import ExportOptions
from sim import Simulation, load_preset
from sim.commands import MoveCluster, Step
from sim.preset import PRESET_DIR, preset_to_toml, save_preset, with_changes


@pytest.fixture
def dialogs(monkeypatch):
    """Replaced static dialogs: answers to give (set by the test) and warnings shown."""
    state = {"save": "", "open": "", "warnings": []}
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (state["save"], "")))
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: (state["open"], "")))

    def warning(parent, title, text, *args, **kwargs):
        state["warnings"].append((title, text))
        return QMessageBox.StandardButton.Ok

    monkeypatch.setattr(QMessageBox, "warning", staticmethod(warning))
    return state


def preset_file(path: Path, name: str, shipped: str = "imbalanced") -> Path:
    preset = with_changes(load_preset(shipped), {"name": name})
    path.write_text(preset_to_toml(preset), encoding="utf-8")
    return path


def test_save_as_writes_a_replayable_preset_and_new_and_open_switch_runs(qtbot, tmp_path, dialogs) -> None:
    window = open_window(qtbot, tmp_path)
    window.send(MoveCluster(0, (-3.5, 0.75)))
    window.send(Step(12))
    window.set_kernel("identity")
    window.send(Step(8))
    saved_at = wait_step(qtbot, window, 20)
    assert saved_at.kernel == "identity"

    path = tmp_path / "my run.toml"
    dialogs["save"] = str(tmp_path / "my run")  # the suffix is added
    window.files.save_as_action.trigger()
    assert path.read_text().startswith("# Contrastive Kernel Lab preset")
    preset = load_preset(str(path))
    assert [(s.step, s.kernel) for s in preset.training.switches] == [(12, "identity")]
    assert preset.data.clusters[0].center == [-3.0, 0.0] and preset.seed == 0  # the start, then the move:
    assert [(e.step, e.op, e.cluster, e.center) for e in preset.data.edits] == [(0, "move", 0, [-3.5, 0.75])]
    replay = Simulation(preset, device="cpu")
    replay.step(20)
    np.testing.assert_allclose(replay.frame(block_ratio=False).Z, saved_at.Z, atol=1e-5)
    assert window.files.current_file == path.resolve()
    assert "my run.toml" in window.windowTitle()
    assert window.files.recent_files()[0] == str(path.resolve())

    window.files.new_action.trigger()
    wait_for(qtbot, lambda: window.snapshot.preset.data.clusters[0].center == [-3.0, 0.0])
    assert window.files.current_file is None and frame(window).step == 0

    dialogs["open"] = str(path)
    window.files.open_action.trigger()
    wait_for(qtbot, lambda: window.snapshot.preset.data.clusters[0].center == [-3.5, 0.75])
    window.send(Step(20))
    again = wait_step(qtbot, window, 20)
    assert again.kernel == "identity"
    np.testing.assert_allclose(again.Z, saved_at.Z, atol=1e-5)  # the window replays the saved run
    assert window.files.current_file == path.resolve()

    dialogs["save"] = ""  # Save writes to the current file without asking
    window.set_kernel("nn")
    wait_for(qtbot, lambda: frame(window).kernel == "nn")
    window.files.save_action.trigger()
    switches = [(s.step, s.kernel) for s in load_preset(str(path)).training.switches]
    assert switches == [(12, "identity"), (20, "nn")]
    assert dialogs["warnings"] == []


def test_the_export_dialog_takes_the_window_s_arrow_scale(qtbot, tmp_path) -> None:
    """The export's arrows scale as the window's do: per frame by default, fixed when the
    view's "fixed scale" switch is on; the dialog's own box says so and decides."""
    window = open_window(qtbot, tmp_path)
    window.files.show_export("mp4")
    dialog = window.files.export_dialog
    assert not dialog.fixed_arrow_scale.isChecked() and not dialog.options().fixed_arrow_scale
    dialog.reject()
    window.main_view.fixed_scale.setChecked(True)
    window.files.show_export("mp4")
    dialog = window.files.export_dialog
    assert dialog.fixed_arrow_scale.isChecked() and dialog.options().fixed_arrow_scale
    dialog.fixed_arrow_scale.setChecked(False)
    assert not dialog.options().fixed_arrow_scale
    dialog.reject()


def test_a_save_after_edits_during_the_run_replays_it_exactly(qtbot, tmp_path, dialogs) -> None:
    """A cluster shrunk at step 5 and the run stepped on: the saved file's run has the very
    samples and embeddings (it drew other samples and started from the edit, 0.7-1.2 apart)."""
    window = open_window(qtbot, tmp_path)
    window.send(Step(5))
    wait_step(qtbot, window, 5)
    window.undo_stack.push(undo.count(window.send, 1, 64, 20))
    window.send(Step(7))
    saved_at = wait_step(qtbot, window, 12)
    path = tmp_path / "shrunk.toml"
    dialogs["save"] = str(path)
    window.files.save_as_action.trigger()
    replay = Simulation(load_preset(str(path)), device="cpu")
    replay.step(12)
    again = replay.frame()
    assert np.array_equal(again.X, saved_at.X) and np.array_equal(again.Z, saved_at.Z)
    window.files.export_video_action.trigger()
    assert "data edits, setting changes and kernel switches" in window.files.export_dialog.summary.text()
    window.files.export_dialog.reject()
    # opened in the window, the replay's edit reaches the input view, the table and the curves
    # as the edit made by hand did (they showed the start's data before)
    dialogs["open"] = str(path)
    window.files.open_action.trigger()
    wait_for(qtbot, lambda: frame(window).step == 0 and frame(window).X.shape[0] == 256)
    window.send(Step(12))
    wait_step(qtbot, window, 12)
    wait_for(qtbot, lambda: len(window.input_view.X) == 212)
    assert np.array_equal(window.input_view.X, saved_at.X)
    assert [c.count for c in window.cluster_table.clusters] == [64, 20, 64, 64]
    assert (5, "cluster 2: n=20") in window.curves.events


def test_a_run_saved_past_its_steps_replays_through_its_last_switch(qtbot, tmp_path, dialogs) -> None:
    """A fresh-user look saved a run at step 5528 whose preset said steps = 2000: `main.py run`
    of the file stopped before its switches. The file's steps reach the step saved at."""
    short = tmp_path / "short.toml"
    save_preset(with_changes(load_preset("fig5-2d"), {"steps": 5}), short)
    window = open_window(qtbot, tmp_path, str(short))
    window.send(Step(8))
    wait_step(qtbot, window, 8)
    window.set_kernel("identity")
    window.send(Step(4))
    saved_at = wait_step(qtbot, window, 12)
    dialogs["save"] = str(tmp_path / "saved.toml")
    window.files.save_as_action.trigger()
    preset = load_preset(str(tmp_path / "saved.toml"))
    assert preset.steps == 12 and [(s.step, s.kernel) for s in preset.training.switches] == [(8, "identity")]
    replay = Simulation(preset, device="cpu")
    replay.step(preset.steps)
    assert replay.kernel == "identity"
    np.testing.assert_allclose(replay.frame(block_ratio=False).Z, saved_at.Z, atol=1e-5)


def test_recent_files_keep_the_last_eight_persist_and_open(qtbot, tmp_path, dialogs) -> None:
    window = open_window(qtbot, tmp_path)
    files = [preset_file(tmp_path / f"p{i}.toml", f"recent-{i}") for i in range(10)]
    for path in files:
        window.files.add_recent(path)
    newest_first = [str(p.resolve()) for p in reversed(files)][:8]
    assert window.files.recent_files() == newest_first
    window.settings.sync()
    stored = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat).value("recent_files")
    assert stored == newest_first
    actions = [a for a in window.files.recent_menu.actions() if a.data()]
    assert [a.data() for a in actions] == newest_first
    actions[2].trigger()
    wait_for(qtbot, lambda: window.snapshot.preset.name == "recent-7")
    assert window.files.recent_files()[0] == str(files[7].resolve())
    assert len(window.files.recent_files()) == 8

    shipped = PRESET_DIR / "appendix-b-3d.toml"
    assert window.files.open_file(shipped)
    wait_for(qtbot, lambda: window.snapshot.preset.name == "appendix-b-3d")
    assert window.files.current_file is None  # Save will ask: a shipped preset is never overwritten


def test_the_preset_list_names_an_opened_file_and_picking_that_entry_restarts_nothing(qtbot, tmp_path, dialogs) -> None:
    window = open_window(qtbot, tmp_path)
    box = window.controls.preset
    shipped = box.count()
    assert window.files.open_file(preset_file(tmp_path / "mine.toml", "my-clusters"))
    wait_for(qtbot, lambda: window.snapshot.preset.name == "my-clusters")
    assert box.currentText() == "my-clusters (mine.toml)" and box.count() == shipped + 1
    generation = window.snapshot.generation
    box.activated.emit(box.currentIndex())  # what a click on the entry sends
    qtbot.wait(300)
    assert window.snapshot.generation == generation and window.files.current_file is not None
    box.activated.emit(box.findData("fig5-2d"))
    wait_for(qtbot, lambda: window.snapshot.preset.name == "fig5-2d")
    assert box.currentText() == "fig5-2d" and box.count() == shipped
    assert window.files.current_file is None
    # a saved copy keeps the shipped name, yet the list names the file (it showed the shipped fig5-2d)
    dialogs["save"] = str(tmp_path / "copy.toml")
    window.files.save_as_action.trigger()
    assert box.currentText() == "fig5-2d (copy.toml)" and box.count() == shipped + 1
    assert window.files.open_file(tmp_path / "copy.toml")
    wait_for(qtbot, lambda: window.snapshot.generation > generation + 1)
    assert box.currentText() == "fig5-2d (copy.toml)" and box.count() == shipped + 1


def test_the_status_bar_says_the_run_is_starting_until_its_first_frame(qtbot, tmp_path) -> None:
    window = open_window(qtbot, tmp_path)
    assert window.statusBar().currentMessage() == ""
    window.open_preset("imbalanced")
    assert window.statusBar().currentMessage().startswith("starting imbalanced")
    wait_for(qtbot, lambda: window.snapshot.preset.name == "imbalanced")
    assert window.statusBar().currentMessage() == ""


MIMES: list[QMimeData] = []  # an event only points to its data: keep the data alive


def drag_events(path: Path) -> tuple[QDragEnterEvent, QDropEvent]:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    MIMES.append(mime)
    action, button, mods = Qt.DropAction.CopyAction, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    enter = QDragEnterEvent(QPoint(60, 60), action, mime, button, mods)
    return enter, QDropEvent(QPointF(60, 60), action, mime, button, mods)


def test_dropping_a_preset_file_on_the_window_opens_it(qtbot, tmp_path, dialogs) -> None:
    window = open_window(qtbot, tmp_path)
    picture = tmp_path / "picture.png"
    picture.write_bytes(b"not a preset")
    enter, _ = drag_events(picture)
    QApplication.sendEvent(window, enter)
    assert not enter.isAccepted()  # only .toml files are taken

    enter, drop = drag_events(preset_file(tmp_path / "dropped.toml", "dropped"))
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    QApplication.sendEvent(window, drop)
    assert drop.isAccepted()
    wait_for(qtbot, lambda: window.snapshot.preset.name == "dropped")
    assert window.files.current_file == (tmp_path / "dropped.toml").resolve()
    assert dialogs["warnings"] == []


BAD_FILES = {
    "range.toml": ('name = "x"\n[data]\nclusters = [ { center = [0.0, 0.0] } ]\n[loss]\ntau = -1.0\n', "loss.tau"),
    "unknown.toml": ('name = "x"\ncolour = "red"\n[data]\nclusters = [ { center = [0.0, 0.0] } ]\n', "colour"),
    "not-toml.toml": ("name = [unclosed\n", "not valid TOML"),
    "unreadable.toml": (b"name = \xff\xfe\n", "cannot read"),
}


def test_bad_files_show_a_dialog_naming_file_and_field_and_leave_the_run_alone(qtbot, tmp_path, dialogs) -> None:
    window = open_window(qtbot, tmp_path)
    window.set_playing(True)
    wait_for(qtbot, lambda: frame(window).step >= 5)
    generation, title = window.snapshot.generation, window.windowTitle()
    for name, (content, field) in BAD_FILES.items():
        path = tmp_path / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        assert window.files.open_file(path) is False
        dialog_title, text = dialogs["warnings"][-1]
        assert dialog_title == "Cannot open preset" and str(path) in text and field in text, text
    assert not window.files.open_file(tmp_path / "gone.toml")
    assert "gone.toml" in dialogs["warnings"][-1][1] and "no such file" in dialogs["warnings"][-1][1]
    for event in drag_events(tmp_path / "range.toml"):
        QApplication.sendEvent(window, event)
    wait_for(qtbot, lambda: len(dialogs["warnings"]) == len(BAD_FILES) + 2)
    assert "loss.tau" in dialogs["warnings"][-1][1]
    # a sound preset whose data file is not: refused when opened, not after the window showed it
    path = file_data_preset(tmp_path, "3,x\n")
    assert window.files.open_file(path) is False
    dialog_title, text = dialogs["warnings"][-1]
    assert dialog_title == "Cannot open preset" and text.startswith(f"{path}: its data file: ")
    assert "cells.csv: data.path:" in text
    assert text.endswith("got 'x' at line 2, column 2"), text  # the cell as typed, no numpy type name

    step = frame(window).step
    wait_for(qtbot, lambda: frame(window).step > step + 5)  # the run goes on
    assert window.snapshot.generation == generation and window.snapshot.preset.name == "fig5-2d"
    assert window.windowTitle() == title and window.files.current_file is None
    assert window.files.recent_files() == []
    assert window.controls.preset.currentText() == "fig5-2d" and window.controls.noise.value() == 0.1


def file_data_preset(folder: Path, second_row: str) -> Path:
    """A preset file (tau 0.2) on the data file folder/cells.csv, whose second row is `second_row`."""
    data = folder / "cells.csv"
    data.write_text("1,2\n" + second_row + "4,5\n")
    changes = {"name": "on-cells", "data.kind": "file", "data.path": str(data), "data.clusters": [], "loss.tau": 0.2}
    path = folder / "on-cells.toml"
    path.write_text(preset_to_toml(with_changes(load_preset("fig5-2d"), changes)), encoding="utf-8")
    return path


def test_a_run_the_worker_cannot_build_leaves_the_window_on_the_run_that_goes_on(qtbot, tmp_path, dialogs) -> None:
    """A preset the worker cannot build (its data file went bad after it was checked; a run
    too large for the device): the status bar says why, and the preset list, title, file,
    settings, controls and rate show the run that goes on, not the refused one."""
    window = open_window(qtbot, tmp_path)
    good = file_data_preset(tmp_path, "3,6\n")
    assert window.files.open_file(good)
    wait_for(qtbot, lambda: window.snapshot.preset.name == "on-cells")
    window.set_playing(True)
    wait_for(qtbot, lambda: frame(window).step >= 5)
    generation, title = window.snapshot.generation, window.windowTitle()
    assert title.endswith("on-cells.toml") and window.controls.tau.value() == 0.2
    assert window.settings.value("preset") == str(good)

    bad = tmp_path / "bad.csv"
    bad.write_text("1,2\n3,x\n")
    changes = {"name": "on-bad", "data.kind": "file", "data.path": str(bad), "data.clusters": []}
    window.start_preset(with_changes(load_preset("imbalanced"), changes))  # as if checked before it went bad
    assert window.controls.preset.currentText().startswith("on-bad") and window.controls.tau.value() == 0.5
    wait_for(qtbot, lambda: window.controls.preset.currentText() == "on-cells (on-cells.toml)")
    assert "bad.csv: data.path: expected numbers in every cell" in window.statusBar().currentMessage()
    assert window.windowTitle() == title and window.files.current_file == good.resolve()
    assert window.controls.tau.value() == 0.2 and window.preset.name == "on-cells"
    assert window.settings.value("preset") == str(good)
    step = frame(window).step
    wait_for(qtbot, lambda: frame(window).step > step + 5)  # the run goes on
    assert window.snapshot.generation == generation and window.status_labels["rate"].text().endswith("steps/s")


def test_play_pressed_while_a_chosen_preset_builds_plays_that_preset(qtbot, tmp_path) -> None:
    """Space right after choosing a preset: the chosen preset plays (Play had stopped its
    building, and the old run played on under the new one's name)."""
    window = open_window(qtbot, tmp_path)
    generation = window.snapshot.generation
    window.open_preset("appendix-b-3d")
    window.set_playing(True)
    wait_for(qtbot, lambda: window.snapshot.generation > generation and frame(window).step >= 5)
    assert window.snapshot.preset.name == "appendix-b-3d" and window.snapshot.playing
    assert window.controls.preset.currentText() == "appendix-b-3d"


def max_gap_while(qtbot, condition) -> tuple[float, float]:
    """The longest pause of the window's event loop (a 20 ms timer) until `condition`
    holds, and how long that took."""
    ticks: list[float] = [time.perf_counter()]
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start(20)
    wait_for(qtbot, condition, timeout=120000)
    timer.stop()
    ticks.append(time.perf_counter())
    return max(b - a for a, b in itertools.pairwise(ticks)), ticks[-1] - ticks[0]


def test_export_dialog_records_a_video_while_the_window_stays_live(qtbot, tmp_path, dialogs) -> None:
    window = open_window(qtbot, tmp_path)
    window.set_side_by_side(True)
    window.set_playing(True)
    window.files.export_video_action.trigger()
    dialog = window.files.export_dialog
    assert dialog.isVisible() and dialog.panels["twin"].isChecked()
    dialog.format.setCurrentIndex(dialog.format.findData("png"))
    assert not dialog.path.text().endswith(".mp4")  # a folder for PNG frames
    dialog.format.setCurrentIndex(dialog.format.findData("mp4"))
    out = tmp_path / "exports" / "run.mp4"
    dialog.path.setText(str(out))
    dialog.width_box.setValue(400)
    dialog.height_box.setValue(240)
    dialog.frames.setValue(16)
    dialog.steps_per_frame.setValue(10)
    for name, box in dialog.panels.items():
        box.setChecked(name in ("embedding", "identity", "curves"))
    qtbot.mouseClick(dialog.buttons.button(QDialogButtonBox.StandardButton.Ok), Qt.MouseButton.LeftButton)
    job = window.files.job
    assert job is not None and job.progress.isVisible()
    assert not window.files.export_video_action.isEnabled()
    step = frame(window).step
    gap, took = max_gap_while(qtbot, lambda: job.status)
    assert job.status == "done", window.statusBar().currentMessage()
    # an export run in the window's thread would stall its events for about all of `took`
    assert gap < min(2.0, took / 2), f"the window stopped handling events for {gap:.2f} of {took:.2f} s"
    assert frame(window).step > step  # the live run went on meanwhile
    assert window.files.export_video_action.isEnabled() and not job.progress.isVisible()
    assert f"wrote {out}" in window.statusBar().currentMessage()
    reader = imageio.get_reader(out, format="FFMPEG")
    frames = [f for f in reader]  # not list(reader): the plugin says it has inf frames
    reader.close()
    assert len(frames) == 16 and frames[0].shape == (240, 400, 3)
    assert sorted(p.name for p in out.parent.iterdir()) == ["run.mp4"]
    assert dialogs["warnings"] == []


def test_a_video_name_typed_without_its_suffix_gets_it(qtbot, tmp_path, dialogs) -> None:
    """ffmpeg cannot tell the format of 'noext' (the export failed as 'disk full?')."""
    window = open_window(qtbot, tmp_path)
    window.files.export_video_action.trigger()
    dialog = window.files.export_dialog
    for kind, typed, expected in (
        ("mp4", "noext", "noext.mp4"),
        ("gif", "run.v2", "run.v2.gif"),
        ("mp4", "a.MP4", "a.MP4"),
    ):
        dialog.format.setCurrentIndex(dialog.format.findData(kind))
        dialog.path.setText(str(tmp_path / typed))
        assert dialog.target() == (tmp_path / expected, kind)
    dialog.fps.setValue(120)
    dialog.format.setCurrentIndex(dialog.format.findData("gif"))
    assert dialog.fps.value() == 50  # a GIF's frame delays are whole hundredths of a second
    dialog.reject()


def long_export(window, folder: Path):
    folder.mkdir()
    options = ExportOptions(panels=("embedding",), size=(240, 160), frames=2000, steps_per_frame=2)
    return window.files.start_export(options, folder / "long.mp4", "mp4")


def test_cancelling_an_export_leaves_no_file(qtbot, tmp_path, dialogs) -> None:
    window = open_window(qtbot, tmp_path)
    folder = tmp_path / "exports"
    job = long_export(window, folder)
    wait_for(qtbot, lambda: job.frames_drawn >= 3)
    assert len(list(folder.iterdir())) == 1  # the temporary file being written
    qtbot.mouseClick(job.progress.findChild(QPushButton), Qt.MouseButton.LeftButton)
    wait_for(qtbot, lambda: job.status)
    assert job.status == "cancelled" and not job.thread.isRunning()
    assert list(folder.iterdir()) == []
    assert "cancelled; nothing written" in window.statusBar().currentMessage()
    assert dialogs["warnings"] == []  # a cancel is no failure


def test_a_failed_export_says_why_png_frames_export_and_closing_mid_export_writes_nothing(
    qtbot, tmp_path, dialogs
) -> None:
    window = open_window(qtbot, tmp_path)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    options = ExportOptions(panels=("embedding",), size=(240, 160), frames=3, steps_per_frame=2)
    job = window.files.start_export(options, blocker / "out.mp4", "mp4")
    wait_for(qtbot, lambda: job.status)
    assert job.status == "failed"
    title, text = dialogs["warnings"][-1]
    assert title == "Export failed" and "cannot write" in text and "not a folder" in text
    assert blocker.read_text() == "x"
    # the next export dialog offers the same choices, to fix what failed; the folder that
    # failed is not remembered as the export folder (a fresh-user look: back to 1280x720, 30
    # fps and 21 frames, with the bad folder kept)
    assert window.settings.value("export_dir") is None
    window.files.show_export("mp4")
    again = window.files.export_dialog
    assert again.options() == options and again.target() == (blocker / "out.mp4", "mp4")
    again.reject()
    window.files.show_export("mp4")  # offered once: then the window's defaults again
    assert window.files.export_dialog.options().size == (1280, 720)
    window.files.export_dialog.reject()

    frames_dir = tmp_path / "frames"
    options = ExportOptions(panels=("embedding", "kernel"), size=(200, 120), frames=3, steps_per_frame=2)
    job = window.files.start_export(options, frames_dir, "png")
    wait_for(qtbot, lambda: job.status)
    assert job.status == "done"
    names = sorted(p.name for p in frames_dir.iterdir())
    assert names == ["frame_00000.png", "frame_00001.png", "frame_00002.png"]
    assert imageio.imread(frames_dir / names[-1]).shape == (120, 200, 3)
    assert window.statusBar().currentMessage() == f"wrote {frames_dir}: 3 frames of 200x120"  # no frame rate

    folder = tmp_path / "exports"
    job = long_export(window, folder)
    wait_for(qtbot, lambda: job.frames_drawn >= 2)
    window.close()
    assert not job.thread.isRunning() and window.thread.isFinished()
    assert list(folder.iterdir()) == []


def test_open_data_runs_the_current_settings_on_user_data_and_refuses_a_malformed_file(
    qtbot, tmp_path, dialogs, monkeypatch
) -> None:
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(3, 6)) * 3
    data = np.vstack([c + 0.2 * rng.normal(size=(40, 6)) for c in centers])
    good = tmp_path / "mine.npy"
    np.save(good, np.hstack([data, np.repeat([[0], [1], [2]], 40, axis=0)]))
    bad = tmp_path / "broken.csv"
    bad.write_text("1,2,3\n4,5\n")
    window = open_window(qtbot, tmp_path)
    generation = window.snapshot.generation
    monkeypatch.setattr(QMessageBox, "question", staticmethod(lambda *a, **k: QMessageBox.StandardButton.Yes))
    dialogs["open"] = str(bad)
    window.files.open_data_action.trigger()
    title, text = dialogs["warnings"][-1]
    assert title == "Cannot open data" and str(bad) in text and "same number of columns" in text
    assert window.snapshot.generation == generation
    dialogs["open"] = str(good)
    window.files.open_data_action.trigger()
    wait_for(qtbot, lambda: window.snapshot.generation > generation and frame(window).X.shape == (120, 6))
    f = frame(window)
    np.testing.assert_allclose(f.X, data, atol=1e-6)
    assert sorted(set(f.labels.tolist())) == [0, 1, 2]
    assert window.snapshot.preset.data.kind == "file" and window.snapshot.preset.network.width == 64
    assert "PCA of 6-D data" in window.input_view.hint.text()
    # from the digits preset too (its image shifts were kept, and the file refused for them)
    window.open_preset("digits")
    wait_for(qtbot, lambda: window.snapshot.preset.name == "digits")
    assert window.snapshot.preset.views.shift > 0
    generation = window.snapshot.generation
    assert window.files.open_data_file(good, True)
    wait_for(qtbot, lambda: window.snapshot.generation > generation and frame(window).X.shape == (120, 6))
    assert window.snapshot.preset.views.shift == 0

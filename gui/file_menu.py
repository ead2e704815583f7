"""The File menu: New, Open preset..., Open data..., Save, Save as..., Open recent (the last 8, kept in
QSettings), Export video... and Export frames...; a preset file dropped on the window opens
it. Saving asks the worker thread for Simulation.to_preset(), so a saved file replays the
run: the data as edited, the seed, network, loss, and every kernel switch as a schedule.
A file that cannot be used (unreadable, not TOML, a field out of range or unknown) is a
dialog naming the file and the field, and the current run goes on untouched."""

from __future__ import annotations

import re
from pathlib import Path

from PySide6.QtCore import QEvent, QMimeData, QObject, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMenu, QMessageBox

from gui.export import ExportError, ExportOptions
from gui.export_job import ExportDialog, ExportJob
from sim import Preset, PresetError, load_preset
from sim.datasets import check_data, user_data
from sim.preset import DEFAULT_PRESET, PRESET_DIR, resolve, save_preset, with_changes

RECENT_KEY = "recent_files"
RECENT_MAX = 8
FILTER = "Presets (*.toml);;All files (*)"
DATA_FILTER = "Data (*.npy *.csv);;All files (*)"


def dropped_preset(mime: QMimeData) -> Path | None:
    """The first local .toml file among dropped URLs."""
    for url in mime.urls() if mime.hasUrls() else []:
        if url.isLocalFile() and url.toLocalFile().lower().endswith(".toml"):
            return Path(url.toLocalFile())
    return None


def is_shipped(path: Path) -> bool:
    return path.resolve().parent == PRESET_DIR.resolve()


def file_stem(name: str) -> str:
    """A run's name as a file name that every file system and shell takes: each run of
    characters other than letters, digits, '.', '+' and '-' becomes one '-' ('fig5-2d (sweep
    run 3: loss.tau=0.1, seed 0)' -> 'fig5-2d-sweep-run-3-loss.tau-0.1-seed-0'); 'run' when
    nothing is left."""
    return re.sub(r"[^\w.+-]+", "-", name, flags=re.ASCII).strip("-.") or "run"


class FileMenu(QObject):
    """Builds the File menu on `window` and does what its actions ask."""

    def __init__(self, window: QMainWindow):
        super().__init__(window)
        self.window = window
        self.current_file: Path | None = None
        self.run_file: Path | None = None  # the current file when the run on screen started
        self._recent: list[str] = []
        self.job: ExportJob | None = None
        self.export_dialog: ExportDialog | None = None
        self._retry: tuple[ExportOptions, Path, str] | None = None  # a failed export's choices, offered again
        bar = window.menuBar()
        self.menu = QMenu("&File", window)
        bar.insertMenu(bar.actions()[0] if bar.actions() else None, self.menu)
        self.new_action = self._action(
            "&New", QKeySequence.StandardKey.New, self.new, "Start over on the default preset"
        )
        self.open_action = self._action(
            "&Open preset...", QKeySequence.StandardKey.Open, self.open, "Open a preset file"
        )
        self.open_data_action = self._action(
            "Open &data (.npy, .csv)...",
            QKeySequence("Ctrl+D"),
            self.open_data,
            "Run the current settings on your own n x d data, optionally with integer labels in the last column",
        )
        self.recent_menu = self.menu.addMenu("Open &recent")
        self.save_action = self._action(
            "&Save", QKeySequence.StandardKey.Save, self.save, "Save the run as a preset that replays it"
        )
        self.save_as_action = self._action(
            "Save &as...", QKeySequence.StandardKey.SaveAs, self.save_as, "Save the run to a new preset file"
        )
        self.menu.addSeparator()
        self.export_video_action = self._action(
            "Export &video...", QKeySequence("Ctrl+E"), lambda: self.show_export("mp4"), "Record an MP4 or GIF"
        )
        self.export_frames_action = self._action(
            "Export &frames...", QKeySequence("Ctrl+Shift+E"), lambda: self.show_export("png"), "Record PNG frames"
        )
        quit_keys = QKeySequence(QKeySequence.StandardKey.Quit)
        for action in window.actions():
            if action.shortcut() == quit_keys:  # the window's own Quit, shown here too
                self.menu.addSeparator()
                self.menu.addAction(action)
        self._load_recent()
        window.setAcceptDrops(True)
        window.installEventFilter(self)
        window.controls.shipped_preset_chosen.connect(lambda _: self.set_current(None))

    def _action(self, text: str, keys: QKeySequence | QKeySequence.StandardKey, slot, tip: str) -> QAction:
        action = QAction(text, self.window)
        action.setShortcut(keys)
        action.setStatusTip(tip)
        action.triggered.connect(slot)
        self.menu.addAction(action)
        return action

    # ----- the current file and the recent list ---------------------------------------
    def set_current(self, path: Path | None) -> None:
        """The file Save writes to (None: Save asks, as for a shipped preset)."""
        self.current_file = path
        self.window.controls.show_opened_file(self.window.preset.name, path.name if path else None)
        if path is not None:
            self.window.setWindowTitle(f"Contrastive Kernel Lab - {path.name}")

    def note_opened(self, name: str) -> None:
        """A preset opened by name or path elsewhere (the command line): a user's file
        becomes the current file and goes on the recent list; a shipped one does not."""
        try:
            path = resolve(name)
        except PresetError:
            return
        if not is_shipped(path):
            self.set_current(path.resolve())
            self.add_recent(path)

    def recent_files(self) -> list[str]:
        return list(self._recent)

    def add_recent(self, path: Path) -> None:
        text = str(Path(path).resolve())
        self._recent = [text] + [p for p in self._recent if p != text][: RECENT_MAX - 1]
        self._store_recent()

    def _load_recent(self) -> None:
        settings = self.window.settings
        value = settings.value(RECENT_KEY, []) if settings is not None else []
        self._recent = ([value] if isinstance(value, str) else [str(v) for v in value or []])[:RECENT_MAX]
        self._fill_recent_menu()

    def _store_recent(self) -> None:
        if self.window.settings is not None:
            self.window.settings.setValue(RECENT_KEY, self._recent)
        self._fill_recent_menu()

    def clear_recent(self) -> None:
        self._recent = []
        self._store_recent()

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        for i, text in enumerate(self._recent):
            action = self.recent_menu.addAction(f"&{i + 1} {Path(text).name}")
            action.setToolTip(text)
            action.setStatusTip(text)
            action.setData(text)
            action.triggered.connect(lambda _=False, text=text: self.open_file(Path(text)))
        self.recent_menu.addSeparator()
        clear = self.recent_menu.addAction("Clear the list")
        clear.setEnabled(bool(self._recent))
        clear.triggered.connect(self.clear_recent)

    # ----- opening --------------------------------------------------------------------
    def new(self) -> None:
        self.window.open_preset(DEFAULT_PRESET)
        self.set_current(None)

    def open(self) -> None:
        start = str(self.current_file.parent) if self.current_file else str(Path.home())
        chosen, _ = QFileDialog.getOpenFileName(self.window, "Open preset", start, FILTER)
        if chosen:
            self.open_file(Path(chosen))

    def open_file(self, path: Path) -> bool:
        """Open a preset file; a bad one (or one whose data file is bad) is a dialog naming
        file and field, and the run goes on as it was. True when it opened."""
        try:
            if not path.is_file():
                raise PresetError(f"{path}: cannot read: no such file")
            check_data(load_preset(str(path)), str(path))
        except PresetError as exc:
            QMessageBox.warning(self.window, "Cannot open preset", str(exc))
            return False
        self.window.open_preset(str(path))
        self.set_current(None if is_shipped(path) else path.resolve())  # Save never overwrites a shipped one
        self.add_recent(path)
        self.window.statusBar().showMessage(f"opened {path}", 5000)
        return True

    def open_data(self) -> None:
        start = str(self.current_file.parent) if self.current_file else str(Path.home())
        chosen, _ = QFileDialog.getOpenFileName(self.window, "Open data", start, DATA_FILTER)
        if not chosen:
            return
        answer = QMessageBox.question(
            self.window, "Labels", "Does the last column hold integer labels (used for colours and metrics only)?"
        )
        self.open_data_file(Path(chosen), answer == QMessageBox.StandardButton.Yes)

    def open_data_file(self, path: Path, labels_last_column: bool) -> bool:
        """A new run with the current settings on the data in `path`; a malformed file is a
        dialog naming the file and what was expected, and the run goes on as it was."""
        try:
            user_data(str(path), labels_last_column)
        except PresetError as exc:
            QMessageBox.warning(self.window, "Cannot open data", str(exc))
            return False
        preset = self.window.snapshot.preset if self.window.snapshot else self.window.preset
        changes = {
            "name": path.stem,
            "training.switches": [],
            "data.kind": "file",
            "data.path": str(path.resolve()),
            "data.labels_last_column": labels_last_column,
            "data.clusters": [],
            "views.shift": 0,  # image shifts are for digits: from the digits preset the file was refused
        }
        try:
            preset = with_changes(preset, changes, str(path))
        except PresetError as exc:
            QMessageBox.warning(self.window, "Cannot open data", str(exc))
            return False
        self.window.start_preset(preset)
        self.set_current(None)
        self.window.statusBar().showMessage(f"opened data {path}", 5000)
        return True

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Drag and drop of a .toml file onto the window."""
        if watched is self.window and event.type() in (QEvent.Type.DragEnter, QEvent.Type.DragMove, QEvent.Type.Drop):
            path = dropped_preset(event.mimeData())
            if path is None:
                return False
            event.acceptProposedAction()
            if event.type() == QEvent.Type.Drop:
                QTimer.singleShot(0, lambda: self.open_file(path))  # not inside the drop: it may show a dialog
            return True
        return super().eventFilter(watched, event)

    # ----- saving ---------------------------------------------------------------------
    def current_preset(self) -> Preset:
        """The preset that replays the run as last drawn exactly (the snapshot's `replay`: its
        start, and its kernel switches, data edits and setting changes as schedules), its `steps`
        at least the step the run is at, so that `main.py run` of the file goes through all of
        them; the worker is not waited on."""
        snapshot = self.window.snapshot
        if snapshot is None:
            raise PresetError("the run has not shown its first frame yet; nothing to save")
        step = snapshot.frames[0].step
        replay = snapshot.replay
        return replay if step <= replay.steps else with_changes(replay, {"steps": step})

    def save(self) -> bool:
        if self.current_file is None:
            return self.save_as()
        return self.save_to(self.current_file)

    def save_as(self) -> bool:
        name = self.current_file or Path.home() / f"{self.window.preset.name}.toml"
        chosen, _ = QFileDialog.getSaveFileName(self.window, "Save preset as", str(name), FILTER)
        if not chosen:
            return False
        path = Path(chosen)
        return self.save_to(path if path.suffix else path.with_suffix(".toml"))

    def save_to(self, path: Path) -> bool:
        """Save the run's preset (Simulation.to_preset: it replays the run exactly)."""
        try:
            save_preset(self.current_preset(), path)
        except OSError as exc:
            QMessageBox.warning(self.window, "Cannot save preset", f"{path}: cannot write: {exc.strerror or exc}")
            return False
        except PresetError as exc:
            QMessageBox.warning(self.window, "Cannot save preset", f"{path}: {exc}")
            return False
        self.set_current(path.resolve())
        self.add_recent(path)
        if self.window.settings is not None:
            self.window.settings.setValue("preset", str(path.resolve()))
        self.window.statusBar().showMessage(f"saved {path}", 5000)
        return True

    # ----- export ---------------------------------------------------------------------
    def export_defaults(self, kind: str) -> tuple[ExportOptions, Path]:
        """Options like the window shows now, and a file name in the last export folder."""
        w = self.window
        preset = w.snapshot.preset if w.snapshot else w.preset
        step = w.snapshot.frames[0].step if w.snapshot else 0
        panels, twin_from = ["embedding"], 0
        if w.controls.side_by_side.isChecked():
            panels.append("twin")
            twin = w.snapshot.frames[-1] if w.snapshot and len(w.snapshot.frames) > 1 else None
            twin_from = twin.started_at if twin is not None else 0
        if w.kernel_view.wants_updates():
            panels.append("kernel")
        panels.append("curves")
        every = max(1, preset.every)
        options = ExportOptions(
            panels=tuple(panels),
            frames=max(step, preset.steps) // every + 1,
            steps_per_frame=every,
            point_arrows=w.controls.point_arrows.isChecked(),
            cluster_arrows=w.controls.cluster_arrows.isChecked(),
            trails=w.controls.trails.isChecked(),
            fixed_arrow_scale=w.main_view.arrow_scale.fixed,
            x_axis=w.curves.x_axis,
            twin_from=twin_from,
        )
        folder = w.settings.value("export_dir") if w.settings is not None else None
        folder = Path(folder) if isinstance(folder, str) and folder else Path.home()
        stem = file_stem(preset.name)
        return options, folder / (f"{stem}.{kind}" if kind != "png" else f"{stem}-frames")

    def show_export(self, kind: str) -> None:
        if self.job is not None and self.job.running():
            self.window.statusBar().showMessage("an export is running; cancel it or wait for it", 5000)
            return
        retry, self._retry = self._retry, None
        options, path = retry[:2] if retry is not None and retry[2] == kind else self.export_defaults(kind)
        self.export_dialog = ExportDialog(self.window, kind, options, path)
        self.export_dialog.accepted.connect(self._export_accepted)
        self.export_dialog.open()

    def _export_accepted(self) -> None:
        dialog = self.export_dialog
        path, kind = dialog.target()
        self.start_export(dialog.options(), path, kind)

    def start_export(self, options: ExportOptions, path: Path, kind: str) -> ExportJob | None:
        """Record a replay of the current run; the window stays live meanwhile."""
        try:
            self.job = ExportJob(self.current_preset(), options, path, kind, self.window)
        except (ExportError, PresetError, RuntimeError) as exc:
            self._retry = (options, path, kind)
            QMessageBox.warning(self.window, "Cannot export", str(exc))
            return None
        for action in (self.export_video_action, self.export_frames_action):
            action.setEnabled(False)
        self.job.finished.connect(lambda status, message: self._export_finished(status, message, (options, path, kind)))
        self.window.statusBar().showMessage(f"exporting {path}...")
        return self.job

    def _export_finished(self, status: str, message: str, asked: tuple[ExportOptions, Path, str]) -> None:
        """An export ended: its folder is the next export's (once written); after a failure the
        next export dialog of that kind opens with the same choices, to change what failed."""
        for action in (self.export_video_action, self.export_frames_action):
            action.setEnabled(True)
        self.window.statusBar().showMessage(message, 10000)
        if status == "done" and self.window.settings is not None:
            self.window.settings.setValue("export_dir", str(asked[1].parent))
        if status == "failed":
            self._retry = asked
            QMessageBox.warning(self.window, "Export failed", message)

    def shutdown(self) -> None:
        """Stop an export in progress (nothing is written) before the window closes."""
        if self.job is not None:
            self.job.abort()

"""The main window: arranges the views (embedding canvases in the middle, controls on the
left, input view, cluster table and kernel heatmap on the right, metric curves below),
owns the worker thread, the undo stack and the RunState, turns user actions into worker
commands and wires each view to the RunState signals it needs (the views update
themselves). Layout and last preset persist in QSettings."""

from __future__ import annotations

import functools
import time

import torch
from pyqtgraph.util.garbage_collector import GarbageCollector
from PySide6.QtCore import QSettings, Qt, QThread, Slot
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence, QResizeEvent, QShortcut, QUndoStack
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QComboBox,
    QDockWidget,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from cli.progress import rate
from gui import undo
from gui.claims_panel import ClaimsPanel
from gui.cluster_panel import ClusterPanel
from gui.cluster_table import ClusterTable
from gui.controls import Controls
from gui.curves import Curves
from gui.dock_sizes import DockSizes
from gui.embedding_view import EmbeddingView
from gui.file_menu import FileMenu
from gui.input_view import InputView
from gui.kernel_evolution_view import KernelEvolutionView
from gui.kernel_panel import KernelPanel
from gui.kernel_view import KernelView
from gui.legend import Legend, group_names, group_word
from gui.run_state import RunState
from gui.sweep_dock import SweepPanel
from gui.theory_panel import TheoryPanel
from gui.worker import Snapshot, Worker
from sim import Frame, Preset, PresetError, load_preset
from sim.commands import (
    Change,
    Command,
    Load,
    MoveCluster,
    Play,
    Rebuild,
    Reset,
    SetKernel,
    Step,
    StepsPerFrame,
    Twin,
    WantFlow,
    WantKernel,
)
from sim.datasets import check_data
from sim.driver import KERNEL_NAMES, twin_origin
from sim.preset import ClusterSpec

KERNEL_ORDER = ("nn", "identity", "limit")


@functools.cache
def gui_thread_garbage_collector() -> GarbageCollector:
    """From the first window on, Python's cycle collector runs only on a timer in the GUI
    thread. Run by an allocation in the simulation or export thread, it would destroy Qt
    widgets caught in garbage cycles off the GUI thread, which deadlocks or aborts."""
    return GarbageCollector(interval=0.5)


def scrolling(widget: QWidget, vertical: bool = True) -> QScrollArea:
    """`widget` in a frameless scroll area that lets it grow and scrolls once it would have to
    shrink below its minimum size (only sideways when not `vertical`)."""
    area = QScrollArea()
    area.setWidget(widget)
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    if not vertical:
        area.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    return area


def available_devices() -> list[str]:
    return ["auto", "cpu"] + (["cuda"] if torch.cuda.is_available() else [])


class MainWindow(QMainWindow):
    """The app's window around one worker thread."""

    def __init__(self, preset: Preset, settings: QSettings | None = None, autoplay: bool = False):
        super().__init__()
        gui_thread_garbage_collector()
        self.setWindowTitle(f"Contrastive Kernel Lab - {preset.name}")
        self.settings = settings
        self.preset = preset
        self._started_preset = preset  # the preset of the run on screen (start_preset asks for another)
        self._remember: str | None = None  # a preset name for the next launch, once its run starts
        self.state = RunState(self)
        self.frames_drawn = 0
        self._fps_count, self._fps_since, self.fps = 0, time.perf_counter(), 0.0
        self._cpu_at = time.thread_time()  # this thread's CPU time at the last frame drawn
        self.playing_frames = False  # the last frame drawn came while playing (the next one's draw_cost counts)
        self._kernel_wanted = False
        self._closed = False
        self._starting_text = self._progress_text = ""
        self._failure_until = 0.0  # time.monotonic() until which a refusal holds the status bar
        self._failure_text = ""  # the refusal or failure shown then
        self.undo_stack = QUndoStack(self)

        self._build_views()
        self._build_docks()
        self._build_status()
        self._build_actions()
        self._connect_controls()
        self._subscribe_views()
        self.files = FileMenu(self)
        self.controls.show_preset(preset)
        self.controls.show_kernel(preset.training.kernel)
        screen = self.screen().availableGeometry()
        self.resize(min(1500, screen.width()), min(950, screen.height()))
        self._restore_settings()

        self.thread = QThread(self)
        self.thread.setObjectName("simulation")
        self.worker = Worker(preset)
        self.worker.moveToThread(self.thread)
        self.thread.started.connect(self.worker.run)
        self.worker.ready.connect(self.on_ready, Qt.ConnectionType.QueuedConnection)
        self.worker.failed.connect(self.on_failed)
        self.worker.refused_run.connect(self._back_to_running)
        self.worker.diverged.connect(self.on_diverged)
        self.worker.notice.connect(self.on_notice)
        self.worker.progress.connect(self.on_progress)
        self.thread.start()
        self._show_starting(preset)
        if autoplay:
            self.set_playing(True)

    # ----- building -------------------------------------------------------------------
    def _build_views(self) -> None:
        self.main_view = EmbeddingView("NN kernel")
        self.twin_view = EmbeddingView("identity kernel", arrow_scale=self.main_view.arrow_scale)
        self.twin_view.scene.share_camera(self.main_view.scene)
        self.twin_view.hide()
        self.main_view.partner, self.twin_view.partner = self.twin_view, self.main_view
        self.legend = Legend()
        row = QHBoxLayout()
        row.setSpacing(6)
        row.addWidget(self.main_view, 1)
        row.addWidget(self.twin_view, 1)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.legend)  # it scrolls sideways itself, as tall as its row (and a scroll bar when needed)
        layout.addLayout(row, 1)
        self.setCentralWidget(central)

    def _dock(
        self, title: str, name: str, widget: QWidget, area: Qt.DockWidgetArea, scroll: bool = True
    ) -> QDockWidget:
        """A dock holding `widget` in a scroll area: a dock shrinks below its content's minimum
        (scroll bars then), so no panel's content sets the window's minimum size. A view that
        scales its picture to any size and has a small minimum (the input space) sits in its
        dock directly, so its picture is always whole."""
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(scrolling(widget) if scroll else widget)
        self.addDockWidget(area, dock)
        return dock

    def _build_docks(self) -> None:
        self.controls = Controls(available_devices())
        self.input_view = InputView()
        self.cluster_table = ClusterTable()
        self.kernel_view = KernelView()
        self.curves = Curves()
        left, right = Qt.DockWidgetArea.LeftDockWidgetArea, Qt.DockWidgetArea.RightDockWidgetArea
        self.controls_dock = self._dock("Controls", "controls", self.controls, left)
        area = self.controls_dock.widget()  # scrolls up and down, never sideways
        area.setMinimumWidth(self.controls.minimumSizeHint().width() + area.verticalScrollBar().sizeHint().width())
        self.input_dock = self._dock("Input space", "input", self.input_view, right, scroll=False)
        self.table_dock = self._dock("Clusters", "clusters", self.cluster_table, right)
        self.kernel_evolution = KernelEvolutionView()
        kernel_panel = KernelPanel(self.kernel_view, self.kernel_evolution)
        self.kernel_dock = self._dock("Kernel H(theta)", "kernel", kernel_panel, right)
        self.curves_dock = self._dock("Metrics", "curves", self.curves, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.theory = TheoryPanel()
        self.cluster_panel = ClusterPanel()
        bottom = Qt.DockWidgetArea.BottomDockWidgetArea
        self.theory_dock = self._dock("Theory (Figure 3)", "theory", self.theory, bottom)
        self.cluster_dock = self._dock("Cluster dynamics", "cluster_dynamics", self.cluster_panel, bottom)
        self.sweep_panel = SweepPanel()
        self.sweep_dock = self._dock("Sweep", "sweep", self.sweep_panel, bottom)
        self.claims_panel = ClaimsPanel()
        self.claims_dock = self._dock("Paper's claims", "claims", self.claims_panel, bottom)
        self.tabifyDockWidget(self.curves_dock, self.theory_dock)
        self.tabifyDockWidget(self.curves_dock, self.cluster_dock)
        self.tabifyDockWidget(self.curves_dock, self.sweep_dock)
        self.tabifyDockWidget(self.curves_dock, self.claims_dock)
        # the panel sweeps the run as it is now: given on press, before the click starts the sweep
        self.sweep_panel.start_button.pressed.connect(lambda: self.sweep_panel.set_preset(self._run_preset()))
        self.sweep_panel.open_run.connect(self.start_preset)
        self.curves_dock.raise_()
        self.theory_dock.visibilityChanged.connect(lambda shown: shown and self.theory.compute())
        self.cluster_dock.visibilityChanged.connect(lambda shown: self.send(WantFlow(bool(shown))))
        self.cluster_panel.sweep_button.clicked.connect(lambda: self.cluster_panel.sweep(self._run_preset()))
        self.tabifyDockWidget(self.table_dock, self.kernel_dock)
        self.table_dock.raise_()
        self.resizeDocks([self.controls_dock], [260], Qt.Orientation.Horizontal)
        self.resizeDocks([self.input_dock], [400], Qt.Orientation.Horizontal)
        self.resizeDocks([self.curves_dock], [230], Qt.Orientation.Vertical)
        # the right column shared evenly between the input space and the tabs under it (the
        # kernel heatmap needs the height more than the input plane, which keeps its aspect)
        self.resizeDocks([self.input_dock, self.table_dock], [240, 260], Qt.Orientation.Vertical)
        for dock in (self.kernel_dock, self.input_dock):
            dock.visibilityChanged.connect(self._sync_kernel_wanted)
        self.dock_sizes = DockSizes(self, self.findChildren(QDockWidget))

    def _build_status(self) -> None:
        bar = self.statusBar()
        self.status_labels = {name: QLabel() for name in ("step", "rate", "fps", "device", "n")}
        tips = {
            "step": "training steps taken",
            "rate": "training steps per second",
            "fps": "frames drawn per second",
            "device": "where the simulation runs",
            "n": "number of samples",
        }
        for name, label in self.status_labels.items():
            label.setToolTip(tips[name])
            label.setMinimumWidth(90)
            bar.addPermanentWidget(label)

    def _build_actions(self) -> None:
        undo = self.undo_stack.createUndoAction(self, "Undo")
        undo.setShortcut(QKeySequence.StandardKey.Undo)
        redo = self.undo_stack.createRedoAction(self, "Redo")
        redo.setShortcuts([QKeySequence.StandardKey.Redo, QKeySequence("Ctrl+Y")])
        edit = self.menuBar().addMenu("&Edit")
        edit.addAction(undo)
        edit.addAction(redo)
        view = self.menuBar().addMenu("&View")
        docks = (self.controls_dock, self.input_dock, self.table_dock, self.kernel_dock, self.curves_dock)
        self.in_front: dict[QDockWidget, bool] = {}
        bottom = (self.theory_dock, self.cluster_dock, self.sweep_dock, self.claims_dock)
        self.view_actions = {dock: self._view_action(dock) for dock in (*docks, *bottom)}
        view.addActions(list(self.view_actions.values()))
        self.undo_action, self.redo_action = undo, redo
        self.addAction(undo)
        self.addAction(redo)
        keys = {
            "Space": self._space,
            "S": self.step_once,
            "R": self.reset,
            "K": self.cycle_kernel,
        }
        self.shortcuts = []
        for key, slot in keys.items():
            shortcut = QShortcut(QKeySequence(key), self)
            shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
            shortcut.activated.connect(slot)
            self.shortcuts.append(shortcut)
        close = QAction("Quit", self)
        close.setShortcut(QKeySequence.StandardKey.Quit)
        close.triggered.connect(self.close)
        self.addAction(close)

    def _space(self) -> None:
        """Space: play / pause; on a focused button, check box or list, what Space does there
        (the window's shortcut took the key from them)."""
        focused = QApplication.focusWidget()
        if isinstance(focused, QAbstractButton):
            focused.animateClick()
        elif isinstance(focused, QComboBox):
            focused.showPopup()
        else:
            self.set_playing(not self.controls.play.isChecked())

    def _view_action(self, dock: QDockWidget) -> QAction:
        """The View menu's entry for `dock`: checked while the dock is open; choosing it shows
        the dock and brings it to the front (also from behind another tab), or closes it when
        it is in front already. `in_front[dock]` follows visibilityChanged, which Qt emits
        when a dock is shown or hidden and when its tab is selected or unselected."""
        action = QAction(dock.windowTitle(), self)
        action.setCheckable(True)
        action.setChecked(not dock.isHidden())
        self.in_front[dock] = False

        def chosen() -> None:
            if self.in_front[dock]:
                dock.close()
            else:
                dock.show()
                dock.raise_()
            action.setChecked(not dock.isHidden())

        def seen(visible: bool) -> None:
            self.in_front[dock] = visible
            action.setChecked(not dock.isHidden())

        action.triggered.connect(chosen)
        dock.visibilityChanged.connect(seen)
        return action

    def _connect_controls(self) -> None:
        c = self.controls
        c.play.toggled.connect(self.set_playing)
        c.step.clicked.connect(self.step_once)
        c.reset.clicked.connect(self.reset)
        c.kernel.currentIndexChanged.connect(lambda _: self.set_kernel(c.kernel.currentData()))
        c.side_by_side.toggled.connect(self.set_side_by_side)
        c.shipped_preset_chosen.connect(self.open_preset)
        c.refused.connect(self.on_failed)
        self.cluster_table.refused.connect(self.on_failed)
        c.taken.connect(self._refusal_answered)
        self.cluster_table.taken.connect(self._refusal_answered)
        for box, field in (
            (c.tau, "loss.tau"),
            (c.lr, "training.lr"),
            (c.lr_points, "training.lr_points"),
            (c.noise, "views.noise"),
        ):
            box.valueChanged.connect(lambda v, field=field: self.send(Change({field: float(v)})))
        c.steps_per_frame.valueChanged.connect(lambda v: self.send(StepsPerFrame(int(v))))
        for key, widget in c.network_widgets().items():
            signal = widget.currentIndexChanged if hasattr(widget, "currentData") else widget.valueChanged
            signal.connect(lambda _, key=key, widget=widget: self.rebuild(key, widget))
        c.point_arrows.toggled.connect(lambda on: self._set_view_option("show_point_arrows", on))
        c.cluster_arrows.toggled.connect(lambda on: self._set_view_option("show_cluster_arrows", on))
        c.trails.toggled.connect(lambda on: self._set_view_option("show_trails", on))
        self.input_view.dragging.connect(lambda k, center: self.send(MoveCluster(k, tuple(center), False)))
        self.input_view.dragged.connect(self.on_dragged)
        t = self.cluster_table
        t.count_edited.connect(lambda k, old, new: self.undo_stack.push(undo.count(self.send, k, old, new)))
        t.radius_edited.connect(lambda k, old, new: self.undo_stack.push(undo.radius(self.send, k, old, new)))
        t.add_requested.connect(self.add_cluster)
        t.remove_requested.connect(self.remove_cluster)
        self.kernel_view.average.toggled.connect(lambda _: self._sync_kernel_wanted())

    def _subscribe_views(self) -> None:
        """Each view to the parts of the run it shows (gui/run_state.py)."""
        state = self.state
        self.controls.follow(state)
        self.cluster_table.follow(state)
        state.restarted.connect(self._clear_starting)
        state.restarted.connect(self._new_run)
        for view in (self.main_view, self.twin_view):
            state.restarted.connect(view.clear_trails)
        state.restarted.connect(self.curves.clear)
        state.restarted.connect(self.kernel_evolution.clear)
        state.event.connect(self.curves.mark)
        state.full_frames.connect(self.curves.add)
        state.curves_due.connect(self.curves.redraw)
        state.frames.connect(self._show_embeddings)
        state.main_frame.connect(self._show_kernel)
        state.flow.connect(self.cluster_panel.show_flow)
        state.data.connect(
            lambda f, p: self.input_view.set_data(f.X, f.labels, list(p.data.clusters), p.data.kind == "clusters")
        )
        state.groups.connect(self._show_groups)
        state.data.connect(self._name_groups)
        state.status.connect(self._show_status)
        state.frames.connect(self._sync_kernel_wanted)

    # ----- user actions ---------------------------------------------------------------
    def send(self, command: Command) -> None:
        self.worker.send(command)

    @Slot(bool)
    def set_playing(self, on: bool) -> None:
        self.controls.show_playing(on)
        self.send(Play(on))

    def step_once(self) -> None:
        self.controls.show_playing(False)
        self.send(Step(1))

    def reset(self) -> None:
        """Step 0 again on the current data: the edits made so far are the new run's data, not
        edits of it, so the undo history starts afresh (as after a rebuild)."""
        self.send(Reset())
        had_edits = self.undo_stack.count() > 0
        self.undo_stack.clear()
        self.statusBar().showMessage(
            "reset to step 0 (same seed, current data and settings"
            + ("; the edits so far are its data now, so there is nothing to undo)" if had_edits else ")"),
            6000,
        )

    def set_kernel(self, kernel: str) -> None:
        self.controls.show_kernel(kernel)
        self.send(SetKernel(kernel))

    def cycle_kernel(self) -> None:
        current = self.controls.kernel.currentData()
        self.set_kernel(KERNEL_ORDER[(KERNEL_ORDER.index(current) + 1) % len(KERNEL_ORDER)])

    def set_side_by_side(self, on: bool) -> None:
        self.controls.show_side_by_side(on)
        self.twin_view.setVisible(on)
        self.send(Twin(on))

    def rebuild(self, key: str, widget: QWidget) -> None:
        value = widget.currentData() if hasattr(widget, "currentData") else widget.value()
        self.send(Rebuild({key: value}))
        self.undo_stack.clear()
        self._show_building(f"{key} = {value}: building a new network, the run restarts at step 0...")

    def open_preset(self, name: str) -> None:
        try:
            preset = check_data(load_preset(name), name)
        except PresetError as exc:
            self.on_failed(str(exc))
            return
        self.start_preset(preset)
        self._remember = name

    def start_preset(self, preset: Preset) -> None:
        """A new run on `preset` (already validated)."""
        self.preset = preset
        self.setWindowTitle(f"Contrastive Kernel Lab - {preset.name}")
        self.controls.show_preset(preset)
        self.controls.show_kernel(preset.training.kernel)
        self.undo_stack.clear()
        self._remember = None
        self.send(Load(preset))
        self._show_starting(preset)

    def _new_run(self) -> None:
        """A new run's first frame: the preset it started from is the run's (what a refused
        next one goes back to), and a preset opened by name is the one the next launch opens."""
        self._started_preset = self.preset
        self.files.run_file = self.files.current_file
        if self._remember is not None and self.settings is not None:
            self.settings.setValue("preset", self._remember)
        self._remember = None

    @Slot()
    def _back_to_running(self) -> None:
        """The worker could not build the new run asked for (a preset or network too large for
        the device; the status bar says why): the window shows the run that goes on, its
        preset, settings, kernel, file and title, as before the new one was asked for."""
        snap = self.snapshot
        if snap is None:
            return
        self.preset = self._started_preset
        self.setWindowTitle(f"Contrastive Kernel Lab - {self.preset.name}")
        self.files.set_current(self.files.run_file)
        self.controls.show_preset(snap.preset)
        self.controls.show_kernel(snap.frames[0].kernel)
        self._show_status(self._status)  # the rate, not "building"

    def _show_starting(self, preset: Preset) -> None:
        """Until the run's first frame arrives (tens of seconds at 100k samples on a CPU)."""
        self._show_building(f"starting {preset.name}: building the data and the network, computing the first frame...")

    def _show_building(self, text: str) -> None:
        """`text` in the status bar and "building" as the rate until the new run's first frame
        (the old run's rate stayed there through a rebuild's fit, seconds long)."""
        self._starting_text = text
        self.statusBar().showMessage(text)
        self.status_labels["rate"].setText("building")

    def _set_view_option(self, name: str, on: bool) -> None:
        for view in (self.main_view, self.twin_view):
            setattr(view, name, on)
            if view.last_frame is not None:
                view.show_frame(view.last_frame)

    def clusters(self) -> list[ClusterSpec]:
        return self.snapshot.preset.data.clusters if self.snapshot else self.preset.data.clusters

    @Slot(int, list, list)
    def on_dragged(self, k: int, old: list, new: list) -> None:
        self.undo_stack.push(undo.move(self.send, k, old, new))

    def add_cluster(self) -> None:
        dim = len(self.clusters()[0].center)
        spec = ClusterSpec(center=[0.0] * dim, count=64, radius=0.3)
        self.undo_stack.push(undo.add(self.send, spec, len(self.clusters())))

    def remove_cluster(self, k: int) -> None:
        self.undo_stack.push(undo.remove(self.send, k))

    # ----- drawing --------------------------------------------------------------------
    @property
    def snapshot(self) -> Snapshot | None:
        """The latest snapshot drawn (None before the run's first frame)."""
        return self.state.snapshot

    @Slot()
    def on_ready(self) -> None:
        """Draw the worker's latest snapshot. The CPU time this thread spent since the one
        before (drawing it, painting, the curves; a moving average) is the worker's draw_cost,
        which paces the frames it publishes (gui/worker.py DRAW_BUDGET)."""
        snap = self.worker.take()
        if snap is None or self._closed:
            return
        self.state.take(snap)
        cpu = time.thread_time()
        spent, self._cpu_at = cpu - self._cpu_at, cpu
        if self.playing_frames:
            cost = self.worker.draw_cost
            self.worker.draw_cost = spent if cost == 0.0 else 0.8 * cost + 0.2 * spent
        self.playing_frames = snap.playing
        self._count_frame(time.perf_counter())

    def _clear_starting(self) -> None:
        """The run's first frame is here: "starting..." and the building progress go."""
        if self.statusBar().currentMessage() in (self._starting_text, self._progress_text):
            self.statusBar().clearMessage()

    def _show_embeddings(self, frames: tuple) -> None:
        for view, frame, twin in zip((self.main_view, self.twin_view), frames, (False, True)):
            suffix = "" if not twin else f" ({twin_origin(frame)})"
            view.title.setText(f"{KERNEL_NAMES[frame.kernel]} kernel{suffix}")
            view.show_frame(frame)

    def _show_kernel(self, frame) -> None:
        if frame.H is not None and self.kernel_view.wants_updates():
            self.kernel_view.show_frame(frame)
            self.kernel_evolution.add(frame)

    def _name_groups(self, frame: Frame, preset: Preset) -> None:
        """The dynamics table, its bar chart and the heatmap name the groups as the legend does."""
        names = group_names(preset.data, int(frame.labels.max()) + 1)
        self.cluster_panel.set_names(names, group_word(preset.data))
        self.cluster_panel.set_data_kind(preset.data.kind)
        self.kernel_view.set_names(names)

    def _show_groups(self, title: str, names: list, counts: list) -> None:
        self.legend.set_groups(names, counts, title)

    def _show_status(self, status: dict) -> None:
        self._status = status
        labels = self.status_labels
        labels["step"].setText(f"step {status['step']}")
        per_second = status["steps_per_s"]  # 0 while paused; "3.6 s/step" for a large run
        labels["rate"].setText(rate(per_second, 1.0, "step") if per_second > 0 else "0 steps/s")
        labels["fps"].setText(f"{self.fps:.0f} frames/s")
        labels["device"].setText(status["device"])
        labels["n"].setText(f"n = {status['n']}")

    def _count_frame(self, now: float) -> None:
        self.frames_drawn += 1
        self._fps_count += 1
        if now - self._fps_since >= 1.0:
            self.fps = self._fps_count / (now - self._fps_since)
            self._fps_count, self._fps_since = 0, now

    def _sync_kernel_wanted(self, *_: object) -> None:
        wanted = self.kernel_view.wants_updates()
        if wanted != self._kernel_wanted:
            self._kernel_wanted = wanted
            self.send(WantKernel(wanted))

    @Slot(str)
    def on_failed(self, message: str) -> None:
        """A refusal or failure, in the status bar for 10 s: progress lines wait meanwhile."""
        self.statusBar().showMessage(message, 10000)
        self._failure_until = time.monotonic() + 10.0
        self._failure_text = message

    def _refusal_answered(self, *_: object) -> None:
        """A box took a value after a refusal or failure: its line ("...; kept 0.5") goes from
        the status bar, as it no longer holds."""
        if self.statusBar().currentMessage() == self._failure_text:
            self.statusBar().clearMessage()
        self._failure_until = 0.0

    @Slot(str)
    def on_notice(self, message: str) -> None:
        self.statusBar().showMessage(message, 5000)

    @Slot(str)
    def on_progress(self, message: str) -> None:
        """How far a long step or frame is (large n), shown while it runs, unless a refusal or
        failure is being shown (progress lines came every half second and replaced it at once)."""
        self._progress_text = message
        if time.monotonic() >= self._failure_until:
            self.statusBar().showMessage(message, 2000)

    @Slot(str)
    def on_diverged(self, message: str) -> None:
        self.controls.show_playing(False)
        self.statusBar().showMessage("paused: " + message)
        box = QMessageBox(QMessageBox.Icon.Warning, "Run paused", message, QMessageBox.StandardButton.Ok, self)
        box.setInformativeText("Lower the step size (or tau's effect) and press Play to continue.")
        box.setModal(False)
        box.show()
        self.divergence_box = box

    # ----- settings and shutdown ------------------------------------------------------
    def _restore_settings(self) -> None:
        if self.settings is None:
            return
        geometry, state = self.settings.value("geometry"), self.settings.value("state")
        if geometry is not None:
            self.restoreGeometry(geometry)
        if state is not None:
            self.restoreState(state)

    def _run_preset(self) -> Preset:
        """The preset that replays the run as last drawn (before its first frame: the one loaded)."""
        return self.snapshot.preset if self.snapshot else self.preset

    def shutdown(self) -> None:
        """Stop the worker (and a sweep) and wait for their threads; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self.sweep_panel.stop()
        self.files.shutdown()
        self.worker.stop()
        self.thread.quit()
        self.thread.wait()
        for view in (self.main_view, self.twin_view, self.input_view):
            view.close_canvas()
        self.theory.shutdown()
        self.cluster_panel.shutdown()
        self.claims_panel.shutdown()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.dock_sizes.window_resized(event.oldSize(), event.size())

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.settings is not None and not self._closed:
            self.settings.setValue("geometry", self.saveGeometry())
            self.settings.setValue("state", self.saveState())
            self.settings.sync()
        self.shutdown()
        super().closeEvent(event)

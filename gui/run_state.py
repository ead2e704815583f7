"""The run as the window last saw it: `RunState` takes each Snapshot the worker hands over and
says what changed, one Qt signal per kind of change, so each view connects to what it needs
and updates itself (the window only wires). `quiet` is the one way a control bound to the
run is set from it without echoing the change back as a user edit."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

import numpy as np
from PySide6.QtCore import QObject, QSignalBlocker, Signal
from PySide6.QtWidgets import QWidget

from gui.legend import group_names
from gui.worker import Snapshot
from sim import Preset

# s between two redraws of the metric curves while playing: five pyqtgraph plots and their
# axes repainted are the window's dearest drawing (bench_gui); a paused run redraws at once
CURVE_INTERVAL = 1.0


@contextlib.contextmanager
def quiet(*widgets: QObject) -> Iterator[None]:
    """Within the block, the widgets emit no signals (a QSignalBlocker each): a control is set
    from the run's state without its change being taken for a user's edit."""
    blockers = [QSignalBlocker(w) for w in widgets]
    try:
        yield
    finally:
        for blocker in blockers:
            blocker.unblock()


def legend_groups(preset: Preset, labels: np.ndarray) -> tuple[str, list[str], list[int]]:
    """The legend's title, one name per label value (gui/legend.py's group_names: digits by the
    dataset's own digits, other data by cluster number from 1) and the samples of each.
    `labels`: (n,) ints from 0."""
    counts = np.bincount(labels, minlength=int(labels.max()) + 1).tolist()
    data = preset.data
    names = group_names(data, len(counts))
    if data.kind == "digits":
        return "classes", [f"digit {name}" for name in names], counts
    return ("classes" if data.kind == "file" else "clusters"), names, counts


class RunState(QObject):
    """What the window shows of the run, updated by `take(snapshot)`; each signal fires when
    its part changed:

    * `restarted()`: a new run (reset, rebuild, another preset): curves and trails start over
    * `frames(tuple)`: the frames to draw, main first, then the twin when side by side
    * `main_frame(Frame)`: the main run's frame (also inside `frames`)
    * `full_frames(tuple)`: frames with metrics (not a preview), for the curves
    * `curves_due()`: time to redraw the curves (at most every CURVE_INTERVAL s while playing)
    * `event(int, str)`: (step, text) a kernel switch or data edit, to mark on the curves
    * `data(Frame, Preset)`: the clean data changed (a new run or a cluster edit)
    * `groups(str, list, list)`: legend title, group names and counts, with `data`
    * `settings(Preset)`: the run's preset differs from the last one shown
    * `kernel(str)`, `playing(bool)`, `step(int)`: the main run's kernel, play state, step
    * `flow(object)`: a ClusterFlow for the cluster-dynamics panel
    * `status(dict)`: the status bar's fields (step, steps_per_s, device, n)

    `snapshot` is the latest Snapshot (None before the first)."""

    restarted = Signal()
    frames = Signal(tuple)
    main_frame = Signal(object)
    full_frames = Signal(tuple)
    curves_due = Signal()
    event = Signal(int, str)
    data = Signal(object, object)
    groups = Signal(str, list, list)
    settings = Signal(object)
    kernel = Signal(str)
    playing = Signal(bool)
    step = Signal(int)
    flow = Signal(object)
    status = Signal(dict)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.snapshot: Snapshot | None = None
        self.generation = -1
        self.data_version = -1
        self._preset: Preset | None = None
        self._curves_drawn = 0.0

    def take(self, snap: Snapshot) -> None:
        """Take the worker's latest Snapshot and emit what changed since the last one."""
        self.snapshot = snap
        main = snap.frames[0]
        if snap.generation != self.generation:
            self.generation = snap.generation
            self.restarted.emit()
        for step, text in snap.events:
            self.event.emit(step, text)
        if snap.preset != self._preset:
            self._preset = snap.preset
            self.settings.emit(snap.preset)
        if snap.data_version != self.data_version:
            self.data_version = snap.data_version
            self.data.emit(main, snap.preset)
            self.groups.emit(*legend_groups(snap.preset, main.labels))
        self.frames.emit(snap.frames)
        self.main_frame.emit(main)
        if not snap.preview:  # a preview has embeddings only: the curves wait for the full frame
            self.full_frames.emit(snap.frames)
            now = time.perf_counter()
            if now - self._curves_drawn >= CURVE_INTERVAL or not snap.playing:
                self._curves_drawn = now
                self.curves_due.emit()
        if snap.flow is not None:
            self.flow.emit(snap.flow)
        self.kernel.emit(main.kernel)
        self.playing.emit(snap.playing)
        self.step.emit(main.step)
        self.status.emit({"step": main.step, "steps_per_s": snap.steps_per_s, "device": snap.device, "n": snap.n})

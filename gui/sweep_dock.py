"""The Sweep dock's panel: pick two preset fields and their values, seeds and steps, start a
sweep of the current preset (sim/sweep.py) on the local process pool in the background, watch
its phase diagram (gui/phase_diagram.py) fill as runs finish, with progress, ETA and Cancel;
a click on a cell emits `open_run` with that run's preset (its first seed), which the window
opens as a new run.

Values: 'V1,V2,...' or 'START:STOP:COUNT', as `main.py sweep --grid` reads them
(sim.sweep.parse_values).
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from cli.progress import count
from gui.elided_label import ElidedLabel
from gui.phase_diagram import PhaseDiagram
from sim.outcomes import MEASURES
from sim.preset import Preset, PresetError, with_changes
from sim.sweep import Axis, Cancelled, Job, Sweep, parse_values, phase_grid, preset_of

FIELDS = (
    "loss.tau",
    "network.width",
    "network.depth",
    "network.kind",
    "training.lr",
    "views.noise",
    "data.clusters[0].radius",
    "data.clusters[0].count",
)


class _Runner(QObject):
    """Runs the jobs on the local pool in its QThread; `result` per finished run, then `ended`."""

    result = Signal(int, object)
    ended = Signal(str)

    def __init__(self, jobs: list[Job], workers: int):
        super().__init__()
        self.jobs, self.workers, self.cancel = jobs, workers, threading.Event()

    @Slot()
    def run(self) -> None:
        from sim.sweep_engines import execute

        try:
            execute(
                self.jobs, lambda job, row: self.result.emit(job.index, row), "local", self.workers, None, self.cancel
            )
            self.ended.emit("")
        except Cancelled:
            self.ended.emit("cancelled")
        except (ValueError, OSError, RuntimeError) as exc:  # a bad run or a lost worker: shown, the window goes on
            self.ended.emit(f"failed: {exc}")


class SweepPanel(QWidget):
    """The Sweep dock's widget; `set_preset` gives it the preset to sweep, `open_run(Preset)`
    asks the window to open a run, `stop()` cancels a running sweep and waits for it."""

    open_run = Signal(object)
    finished = Signal(str)

    def __init__(self, parent: QWidget | None = None, workers: int | None = None):
        super().__init__(parent)
        self.preset: Preset | None = None
        self.workers = workers or os.cpu_count() or 1
        self.jobs: list[Job] = []
        self.rows: dict[int, dict[str, Any]] = {}
        self.thread: QThread | None = None
        self.runner: _Runner | None = None
        self.started_at = 0.0
        self.x_field, self.y_field = self._field_box("loss.tau"), self._field_box("network.width")
        self.x_values, self.y_values = QLineEdit("0.1,0.5"), QLineEdit("16,64")
        self.seeds, self.steps = QSpinBox(), QSpinBox()
        self.seeds.setRange(1, 100)
        self.seeds.setValue(2)
        self.steps.setRange(1, 10**6)
        self.steps.setValue(1000)  # fig5-2d captures its clusters at steps 400-1000
        self.measure = QComboBox()
        self.measure.addItems(MEASURES)
        self.measure.setCurrentText("capture_step")
        self.start_button, self.cancel_button = QPushButton("Start"), QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        tips = {
            self.x_field: "The preset field along the phase diagram's x axis (a dotted name, e.g. loss.tau)",
            self.y_field: "The preset field along the y axis",
            self.x_values: "The x field's values, comma-separated (read as TOML: 0.1,0.5 or mlp,averaging), "
            "or START:STOP:COUNT evenly spaced (16:64:4)",
            self.y_values: "The y field's values, comma-separated, or START:STOP:COUNT",
            self.seeds: "Runs per grid cell, with seeds the preset's seed, +1, ...",
            self.steps: "Steps of every run",
            self.measure: "The outcome each cell shows (the runs' mean over seeds)",
            self.start_button: "Run the grid x seeds on the current preset, in worker processes",
            self.cancel_button: "Stop the sweep; the finished runs keep their cells",
        }
        for widget, tip in tips.items():
            widget.setToolTip(tip)
        self.progress, self.status = QProgressBar(), ElidedLabel("")  # one line (a long failure: tooltip)
        self.diagram = PhaseDiagram()
        self._lay_out()
        self.start_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.measure.currentTextChanged.connect(self._redraw)
        self.diagram.cell_clicked.connect(self._open_cell)

    @staticmethod
    def _field_box(text: str) -> QComboBox:
        box = QComboBox()
        box.setEditable(True)
        box.addItems(FIELDS)
        box.setCurrentText(text)
        return box

    def _lay_out(self) -> None:
        form = QFormLayout()
        for label, field, values in (("x", self.x_field, self.x_values), ("y", self.y_field, self.y_values)):
            row = QHBoxLayout()
            row.addWidget(field, 1)
            row.addWidget(values, 1)
            form.addRow(f"{label} field, values", row)
        counts = QHBoxLayout()
        for label, box in (("seeds", self.seeds), ("steps", self.steps)):
            counts.addWidget(QLabel(label))
            counts.addWidget(box)
        counts.addStretch(1)
        form.addRow(counts)
        form.addRow("measure", self.measure)
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.progress, 1)
        settings = QVBoxLayout()  # the settings beside the diagram: a short dock (1366 x 768) shows both
        settings.addLayout(form)
        settings.addLayout(buttons)
        settings.addWidget(self.status)
        settings.addStretch(1)
        layout = QHBoxLayout(self)
        layout.addLayout(settings, 2)
        layout.addWidget(self.diagram, 3)

    def set_preset(self, preset: Preset) -> None:
        """The preset the next sweep varies."""
        self.preset = preset

    @property
    def running(self) -> bool:
        return self.thread is not None

    def sweep(self) -> Sweep:
        """The sweep the controls describe; PresetError (one line) for a field or value that does not fit."""
        if self.preset is None:
            raise PresetError("sweep: no preset to sweep yet")
        axes = (
            Axis(
                self.x_field.currentText().strip(),
                tuple(parse_values(self.x_values.text(), "sweep: x values")),
                "sweep: x field",
            ),
            Axis(
                self.y_field.currentText().strip(),
                tuple(parse_values(self.y_values.text(), "sweep: y values")),
                "sweep: y field",
            ),
        )
        every = max(1, min(self.preset.every, self.steps.value()))
        return Sweep(self.preset, axes, self.seeds.value(), self.steps.value(), every)

    @Slot()
    def start(self) -> None:
        """Start the sweep in the background (nothing happens while one runs)."""
        if self.running:
            return
        try:
            self.jobs = self.sweep().jobs()
        except PresetError as exc:
            self.status.setText(str(exc))
            return
        self.rows = {}
        self.progress.setRange(0, len(self.jobs))
        self.progress.setValue(0)
        self.status.setText(
            f"{count(len(self.jobs), 'run')} on {count(self.workers, 'process', 'processes')} (H(theta) on <= 256 samples)..."
        )
        self.started_at = time.perf_counter()
        self.thread, self.runner = QThread(), _Runner(self.jobs, self.workers)
        self.runner.moveToThread(self.thread)
        self.thread.started.connect(self.runner.run)
        self.runner.result.connect(self._on_result)
        self.runner.ended.connect(self._on_ended)
        self.start_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self._redraw()
        self.thread.start()

    @Slot()
    def cancel(self) -> None:
        """Stop every run of the sweep (the finished ones stay in the diagram)."""
        if self.runner is not None:
            self.runner.cancel.set()
            self.status.setText("cancelling...")

    def stop(self) -> None:
        """Cancel and wait for the background thread (the window calls this when closing)."""
        self.cancel()
        if self.thread is not None:
            self.thread.quit()
            self.thread.wait()

    @Slot(int, object)
    def _on_result(self, index: int, row: dict[str, Any]) -> None:
        self.rows[index] = row
        done = len(self.rows)
        self.progress.setValue(done)
        elapsed = time.perf_counter() - self.started_at
        eta = elapsed / done * (len(self.jobs) - done)
        self.status.setText(f"runs {done}/{len(self.jobs)}, ETA {eta:.0f} s")
        self._redraw()

    @Slot(str)
    def _on_ended(self, outcome: str) -> None:
        self.thread.quit()
        self.thread.wait()
        self.thread = self.runner = None
        self.start_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        done = f"{len(self.rows)} of {len(self.jobs)} runs"
        outcome = " ".join(outcome.split())  # a failure's text on one line
        self.status.setText(f"{outcome}: {done}" if outcome else f"done: {done}; click a cell to open its run")
        self.finished.emit(outcome)

    @Slot()
    def _redraw(self) -> None:
        if not self.jobs:
            return
        x, y = self.jobs[0].fields
        rows = [self.rows[i] for i in sorted(self.rows)]
        self.diagram.set_grid(phase_grid(self.jobs, rows, self.measure.currentText(), x, y))

    @Slot(int, int)
    def _open_cell(self, ix: int, iy: int) -> None:
        grid = self.diagram.grid
        if grid is None:
            return
        job = self.jobs[grid.runs[iy][ix]]
        preset = preset_of(job)
        values = ", ".join(f"{field}={value:g}" if isinstance(value, float) else f"{field}={value}"
                           for field, value in zip(job.fields, job.values))  # fmt: skip
        name = f"{preset.name} (sweep run {job.index}: {values}, seed {job.seed})"[:200]  # a preset name's limit
        self.open_run.emit(with_changes(preset, {"steps": job.steps, "every": job.every, "name": name}, "sweep"))

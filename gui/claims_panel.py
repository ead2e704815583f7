"""The claims panel: the table `main.py reproduce` writes (sim/claims.py), shown in the
window. It reads a claims.json, or runs the quick check itself in a background thread with
a progress bar and Cancel; the window stays live meanwhile. Self-contained: the main window
only adds it as a dock."""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import QObject, QThread, Signal, Slot
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

COLUMNS = ("claim", "measured", "number", "verdict", "why")
VERDICT_COLOURS = {"holds": QColor("#7fd17f"), "deviates": QColor("#f0a060")}  # text, on the dark table


class Cancelled(Exception):
    """Raised from the progress hook to stop a check between two claims."""


class ClaimsWorker(QObject):
    """Runs sim.claims.run_claims(seed, quick=True) in its thread; emits progress(done,
    total, name), then done(rows) with the claims as dicts, or failed(text)."""

    progress = Signal(int, int, str)
    done = Signal(list)
    failed = Signal(str)

    def __init__(self, seed: int):
        super().__init__()
        self.seed = seed
        self.cancelled = False

    @Slot()
    def run(self) -> None:
        from sim.claims import run_claims

        def hook(done: int, total: int, name: str) -> None:
            if self.cancelled:
                raise Cancelled
            self.progress.emit(done, total, name)

        try:
            claims = run_claims(self.seed, quick=True, progress=hook)
        except Cancelled:
            self.failed.emit("cancelled")
            return
        except (RuntimeError, ValueError, OSError) as exc:  # shown in the panel; the window goes on
            self.failed.emit(f"failed: {exc}")
            return
        self.done.emit([c.to_dict() for c in claims])


class ClaimsPanel(QWidget):
    """A table of claims (claim, measured, number, verdict, why) with Open, Run and Cancel."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setWordWrap(True)
        # the numbers and verdicts as wide as they are, the texts sharing the rest; rows as
        # tall as their wrapped text (again whenever the widths change), scrolled by pixels so
        # that a row taller than the dock can be read whole
        header = self.table.horizontalHeader()
        for c, name in enumerate(COLUMNS):
            fit = name in ("number", "verdict")
            header.setSectionResizeMode(
                c, QHeaderView.ResizeMode.ResizeToContents if fit else QHeaderView.ResizeMode.Stretch
            )
        header.sectionResized.connect(lambda *_: self.table.resizeRowsToContents())
        self.table.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.status = QLabel("Open a claims.json (main.py reproduce) or run the quick check.")
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setPrefix("seed ")
        self.open_button = QPushButton("Open claims.json...")
        self.run_button = QPushButton("Run quick check")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.open_button.setToolTip("Show the claims a `main.py reproduce` run wrote (its claims.json)")
        self.seed.setToolTip("The seed the quick check runs its presets with")
        self.run_button.setToolTip("Measure every claim with short runs (about a minute), in the background")
        self.cancel_button.setToolTip("Stop the quick check")
        self.open_button.clicked.connect(self._choose_file)
        self.run_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        buttons = QHBoxLayout()
        for w in (self.open_button, self.seed, self.run_button, self.cancel_button):
            buttons.addWidget(w)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.status)
        self._thread: QThread | None = None
        self._worker: ClaimsWorker | None = None

    # ----- showing --------------------------------------------------------------------------------
    def show_claims(self, rows: list[dict]) -> None:
        """Fill the table from claims as dicts (the 'claims' list of a claims.json)."""
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            number = row.get("number")
            values = (
                row["claim"],
                row["measured"],
                "-" if number is None else f"{number:.4g}",
                row["verdict"],
                row["why"],
            )
            for c, value in enumerate(values):
                item = QTableWidgetItem(str(value))
                if COLUMNS[c] == "verdict" and value in VERDICT_COLOURS:
                    item.setForeground(VERDICT_COLOURS[value])
                self.table.setItem(r, c, item)
        self.table.resizeRowsToContents()
        held = sum(row["verdict"] == "holds" for row in rows)
        self.status.setText(f"{held} of {len(rows)} claims hold")

    def load(self, path: str | Path) -> None:
        """Show a claims.json; a file that cannot be used is one line in the status, the table kept."""
        keys = {"claim", "measured", "number", "verdict", "why"}
        expected = "expected an object whose 'claims' is a list of claims with " + ", ".join(sorted(keys))
        try:
            found = json.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            self.status.setText(f"{path}: cannot read: {exc.strerror or exc}")
            return
        except ValueError as exc:  # not JSON (json.JSONDecodeError, UnicodeDecodeError)
            self.status.setText(f"{path}: not a claims.json: not JSON ({exc})")
            return
        rows = found.get("claims") if isinstance(found, dict) else None
        if not isinstance(rows, list) or not all(isinstance(r, dict) and keys <= set(r) for r in rows):
            self.status.setText(f"{path}: not a claims.json: {expected}")
            return
        self.show_claims(rows)

    def _choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open claims", "", "claims (*.json)")
        if path:
            self.load(path)

    # ----- running --------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self) -> None:
        """Run the quick check on the chosen seed in a background thread."""
        if self.running:
            return
        self._thread, self._worker = QThread(self), ClaimsWorker(self.seed.value())
        self._worker.moveToThread(self._thread)
        self._thread.started.connect(self._worker.run)
        self._worker.progress.connect(self._on_progress)
        self._worker.done.connect(self._on_done)
        self._worker.failed.connect(self._on_failed)
        self.progress.setRange(0, 0)
        self.progress.setVisible(True)
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.status.setText("running the quick check...")
        self._thread.start()

    def cancel(self) -> None:
        """Stop the check after the claim being measured."""
        if self._worker is not None:
            self._worker.cancelled = True
            self.status.setText("cancelling after the current claim...")

    @Slot(int, int, str)
    def _on_progress(self, done: int, total: int, name: str) -> None:
        self.progress.setRange(0, total)
        self.progress.setValue(done)
        self.status.setText(f"check {done} of {total} (a check can measure several claims): {name}")

    @Slot(list)
    def _on_done(self, rows: list) -> None:
        self._finish()
        self.show_claims(rows)

    @Slot(str)
    def _on_failed(self, text: str) -> None:
        self._finish()
        self.status.setText(text)

    def _finish(self) -> None:
        self._thread.quit()
        self._thread.wait()
        self._thread, self._worker = None, None
        self.progress.setVisible(False)
        self.run_button.setEnabled(True)
        self.cancel_button.setEnabled(False)

    def shutdown(self) -> None:
        """Cancel a running check and wait for its thread (call before the window closes)."""
        if self._thread is not None:
            self.cancel()
            self._thread.quit()
            self._thread.wait()

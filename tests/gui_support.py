"""Shared helpers for the GUI tests: a main window on a preset, with its settings in a
temporary file, that is shut down (worker stopped, thread joined) after the test."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QWidget

from gui.colors import apply_dark_theme
from gui.main_window import MainWindow
from sim import Frame, load_preset

TIMEOUT_MS = 30000


def open_window(qtbot, tmp_path: Path, preset: str = "fig5-2d", **kwargs) -> MainWindow:
    from PySide6.QtWidgets import QApplication

    apply_dark_theme(QApplication.instance())
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(load_preset(preset), settings, **kwargs)
    qtbot.addWidget(window, before_close_func=lambda w: w.shutdown())
    with qtbot.waitExposed(window, timeout=TIMEOUT_MS):
        window.show()
    with qtbot.waitActive(window, timeout=TIMEOUT_MS):  # keys go to the active window only
        window.activateWindow()
    wait_for(qtbot, lambda: window.snapshot is not None)
    return window


def show_exposed(qtbot, widget: QWidget) -> None:
    """Show `widget` and wait until its window is on the (virtual) screen. (pytest-qt's
    waitExposed waits only as a context manager, around the show.)"""
    with qtbot.waitExposed(widget, timeout=TIMEOUT_MS):
        widget.show()


def wait_for(qtbot, condition: Callable[[], bool], timeout: int = TIMEOUT_MS) -> None:
    qtbot.waitUntil(lambda: bool(condition()), timeout=timeout)


def frame(window: MainWindow) -> Frame:
    return window.snapshot.frames[0]


def wait_step(qtbot, window: MainWindow, step: int) -> Frame:
    """Wait until the window has drawn a frame at exactly `step` (paused runs)."""
    wait_for(qtbot, lambda: window.snapshot.frames[0].step == step and not window.snapshot.playing)
    return frame(window)


def cluster_means(f: Frame) -> np.ndarray:
    return np.stack([f.X[f.labels == k].mean(0) for k in range(int(f.labels.max()) + 1)])

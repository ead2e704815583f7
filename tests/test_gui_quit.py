"""Quitting (issue 12 item 14): Ctrl+Q while a run plays closes the window with the worker
stopped; the real app, in its own process, ends soon after SIGTERM or QApplication.quit()
with its layout saved, and never with "QThread: Destroyed while thread is still running"."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from gui_support import frame, open_window, wait_for
from PySide6.QtCore import QSettings, Qt

ROOT = Path(__file__).resolve().parent.parent
DEADLINE = 60  # s: generous; on a lightly loaded machine the app ends within about a second

# The app as `main.py fig5-2d` runs it, with a timer that says "playing" on stdout once the
# run's frames arrive, and (with `quit` as argument) then calls QApplication.quit().
APP = """
import sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from gui.app import open_window
from gui.main_window import MainWindow

app = QApplication([sys.argv[0]])

def poll():
    windows = [w for w in app.topLevelWidgets() if isinstance(w, MainWindow)]
    snap = windows[0].snapshot if windows else None
    if snap is not None and snap.playing and snap.frames[0].step > 5:
        print("playing", flush=True)
        if sys.argv[1] == "quit":
            app.quit()
        return
    QTimer.singleShot(50, poll)

QTimer.singleShot(0, poll)
sys.exit(open_window("fig5-2d"))
"""


def run_app(tmp_path: Path, how: str) -> tuple[int, str, float, QSettings]:
    """Start the app, wait until it plays, end it `how` ('term': SIGTERM; 'quit':
    QApplication.quit()); its exit status, stderr, seconds from the end's start to exit, and
    its saved settings."""
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "config"), "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-c", APP, how], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout.readline() == "playing\n"
        start = time.perf_counter()
        if how == "term":
            proc.terminate()
        status = proc.wait(timeout=DEADLINE)
        took = time.perf_counter() - start
    finally:
        proc.kill()
    err = proc.stderr.read()
    files = list((tmp_path / "config").rglob("*.conf"))
    assert len(files) == 1, err
    return status, err, took, QSettings(str(files[0]), QSettings.Format.IniFormat)


def test_sigterm_quits_like_the_quit_action_and_saves_the_layout(tmp_path) -> None:
    status, err, took, settings = run_app(tmp_path, "term")
    assert status == 0, err
    assert "QThread" not in err and "Traceback" not in err, err
    assert settings.value("state") is not None and settings.value("geometry") is not None
    assert settings.value("preset") == "fig5-2d"
    print(f"SIGTERM to exit: {took:.2f} s")


def test_application_quit_stops_the_worker_before_the_threads_go(tmp_path) -> None:
    status, err, took, settings = run_app(tmp_path, "quit")
    assert status == 0, err
    assert "QThread" not in err and "Destroyed" not in err and "Traceback" not in err, err
    assert settings.value("state") is not None
    print(f"QApplication.quit() to exit: {took:.2f} s")


def test_ctrl_q_while_playing_closes_the_window_and_joins_the_worker(qtbot, tmp_path) -> None:
    window = open_window(qtbot, tmp_path)
    window.set_playing(True)
    wait_for(qtbot, lambda: frame(window).step >= 10)
    qtbot.keyClick(window, Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier)
    wait_for(qtbot, lambda: not window.isVisible() and window.thread.isFinished())

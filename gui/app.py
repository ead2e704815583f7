"""Application entry: `open_window(preset)` opens the requested preset (name of a shipped
preset or a path; default: the last one opened, else fig5-2d), creates the QApplication with
the dark theme and shows the main window, which starts playing. A bad preset is a one-line
error on stderr and exit status 2. SIGTERM closes the window as Quit does (layout and
settings saved, the worker stopped). The command line that calls it is cli/window.py."""

from __future__ import annotations

import os
import signal
import socket
import sys

from PySide6.QtCore import QObject, QSettings, QSocketNotifier
from PySide6.QtWidgets import QWidget

from sim import Preset, PresetError, load_preset
from sim.datasets import check_data
from sim.preset import DEFAULT_PRESET

ORGANIZATION = "ContrastiveKernelLab"
APPLICATION = "Contrastive Kernel Lab"


def choose_preset(requested: str | None, settings: QSettings) -> tuple[str, Preset]:
    """The requested preset (errors propagate), else the last one opened, else the default;
    a file preset's data is read first (sim.datasets.check_data)."""
    if requested:
        return requested, check_data(load_preset(requested), requested)
    last = settings.value("preset")
    if isinstance(last, str) and last:
        try:
            return last, check_data(load_preset(last), last)
        except PresetError:
            pass
    return DEFAULT_PRESET, load_preset(DEFAULT_PRESET)


def close_on_terminate(window: QWidget) -> QObject:
    """From now on SIGTERM closes `window` (from the event loop, as Quit would). The signal's
    number is written to a socket (signal.set_wakeup_fd) that a QSocketNotifier watches, so
    the loop wakes even while Qt's C++ code runs. Returns the notifier (kept by `window`)."""
    ours, theirs = socket.socketpair()
    ours.setblocking(False)
    theirs.setblocking(False)
    signal.set_wakeup_fd(theirs.fileno())
    signal.signal(signal.SIGTERM, lambda *_: None)  # Python's handler runs late; the wake-up byte acts
    notifier = QSocketNotifier(ours.fileno(), QSocketNotifier.Type.Read, window)
    notifier.sockets = (ours, theirs)

    def woken() -> None:
        if signal.SIGTERM in ours.recv(64):
            window.close()

    notifier.activated.connect(woken)
    return notifier


def open_window(requested: str | None) -> int:
    """Show the window on `requested` (or the remembered/default preset) and run the event
    loop; the process ends with the loop's exit status once the window has saved its settings
    and stopped its threads. Returns 2 after a one-line error for a bad preset."""
    settings = QSettings(ORGANIZATION, APPLICATION)
    try:
        name, preset = choose_preset(requested, settings)
    except PresetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    from PySide6.QtWidgets import QApplication

    from gui.colors import apply_dark_theme
    from gui.main_window import MainWindow

    app = QApplication.instance() or QApplication([sys.argv[0]])
    app.setApplicationName(APPLICATION)
    app.setOrganizationName(ORGANIZATION)
    apply_dark_theme(app)
    settings.setValue("preset", name)
    window = MainWindow(preset, settings, autoplay=True)
    window.files.note_opened(name)
    app.aboutToQuit.connect(window.close)  # the session ending or QApplication.quit(): saved and stopped too
    close_on_terminate(window)
    window.show()
    status = app.exec()
    window.close()  # saved and stopped, whichever way the loop ended (a second close does nothing)
    settings.sync()
    sys.stdout.flush()
    sys.stderr.flush()
    # Everything is saved and every thread joined; Python's own teardown of the Qt, OpenGL and
    # torch objects would take seconds more (issue 12: 15 s on a busy machine) for nothing.
    os._exit(status)

"""Application entry: `open_window(preset)` opens the requested preset (name of a shipped
preset or a path; default: the last one opened, else fig5-2d), creates the QApplication with
the dark theme and shows the main window, which starts playing. A bad preset is a one-line
error on stderr and exit status 2. The command line that calls it is cli/window.py."""

from __future__ import annotations

import sys

from PySide6.QtCore import QSettings

from sim import Preset, PresetError, load_preset
from sim.preset import DEFAULT_PRESET

ORGANIZATION = "ContrastiveKernelLab"
APPLICATION = "Contrastive Kernel Lab"


def choose_preset(requested: str | None, settings: QSettings) -> tuple[str, Preset]:
    """The requested preset (errors propagate), else the last one opened, else the default."""
    if requested:
        return requested, load_preset(requested)
    last = settings.value("preset")
    if isinstance(last, str) and last:
        try:
            return last, load_preset(last)
        except PresetError:
            pass
    return DEFAULT_PRESET, load_preset(DEFAULT_PRESET)


def open_window(requested: str | None) -> int:
    """Show the window on `requested` (or the remembered/default preset) and run the event
    loop; its exit status (2 after a one-line error for a bad preset)."""
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
    window.show()
    return app.exec()

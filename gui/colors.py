"""The colours every view shares: a fixed qualitative palette for clusters (cluster k is
PALETTE[k % 10] everywhere; sim/palette.py holds it, for the headless figures too), and the
dark theme's background, foreground and accent."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

from sim.palette import CLUSTER_HEX

PALETTE_HEX = CLUSTER_HEX
PALETTE = np.array([[int(h[i : i + 2], 16) / 255 for i in (1, 3, 5)] for h in PALETTE_HEX], dtype=np.float32)

BACKGROUND = "#15171a"
PANEL = "#202327"
FOREGROUND = "#d6d9dd"
MUTED = "#7c828a"
GUIDE = (0.55, 0.58, 0.62, 1.0)


def cluster_rgb(k: int) -> np.ndarray:
    return PALETTE[k % len(PALETTE)]


def cluster_hex(k: int) -> str:
    return PALETTE_HEX[k % len(PALETTE_HEX)]


def label_rgba(labels: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    """(n, 4) float32 colours for integer cluster labels (one table lookup: 100k labels in
    well under a millisecond, as a frame of the embedding view needs)."""
    table = np.concatenate([PALETTE, np.full((len(PALETTE), 1), alpha, dtype=np.float32)], axis=1)
    return np.take(table, np.asarray(labels) % len(PALETTE), axis=0)


def apply_dark_theme(app: QApplication) -> None:
    """Fusion style with a dark palette, matching the canvases' background."""
    app.setStyle("Fusion")
    pal = QPalette()
    base, panel, text = QColor(BACKGROUND), QColor(PANEL), QColor(FOREGROUND)
    for role, color in (
        (QPalette.ColorRole.Window, panel),
        (QPalette.ColorRole.WindowText, text),
        (QPalette.ColorRole.Base, base),
        (QPalette.ColorRole.AlternateBase, panel),
        (QPalette.ColorRole.Text, text),
        (QPalette.ColorRole.Button, QColor("#2b2f34")),
        (QPalette.ColorRole.ButtonText, text),
        (QPalette.ColorRole.ToolTipBase, QColor("#2b2f34")),
        (QPalette.ColorRole.ToolTipText, text),
        (QPalette.ColorRole.Highlight, QColor("#3d7bd9")),
        (QPalette.ColorRole.HighlightedText, QColor("#ffffff")),
        (QPalette.ColorRole.PlaceholderText, QColor(MUTED)),
    ):
        pal.setColor(role, color)
    pal.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text, QColor(MUTED))
    pal.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.ButtonText, QColor(MUTED))
    pal.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.WindowText, QColor(MUTED))
    app.setPalette(pal)

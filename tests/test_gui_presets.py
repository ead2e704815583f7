"""Switching presets in the running window (issue 12 items 1 and 9): a switch between presets
of another dimension (2-D, 3-D, digits' 64-D inputs on a sphere) rebuilds what depends on the
dimension, with no error output from vispy or Qt, and the cluster arrows are drawn after it;
a switch shows the new run's embeddings first (a preview), before its first full frame."""

from __future__ import annotations

import logging
import threading

import numpy as np
from gui_support import frame, open_window, wait_for

from gui.controls import shipped_presets
from sim import load_preset
from sim.driver import RunDriver


def shown_arrows(view) -> np.ndarray:
    """The drawn cluster arrows' segment ends, (2K, m), as the Arrow visual holds them."""
    return view.cluster_arrows._pos


def switch_and_draw(qtbot, window, name: str) -> None:
    """Open shipped preset `name` as the preset list does, wait for its first full frame and
    draw the window once (an error in a visual's draw is raised there)."""
    index = window.controls.preset.findData(name)
    window.controls.preset.setCurrentIndex(index)
    window.controls.preset.activated.emit(index)
    wait_for(qtbot, lambda: window.snapshot.preset.name == name and not window.snapshot.preview)
    window.main_view.grab_pixels()
    window.repaint()


def test_switching_through_every_shipped_preset_both_ways_draws_without_errors(qtbot, tmp_path, capfd) -> None:
    vispy_errors: list[logging.LogRecord] = []
    handler = logging.Handler(level=logging.WARNING)
    handler.emit = vispy_errors.append
    logging.getLogger("vispy").addHandler(handler)
    try:
        window = open_window(qtbot, tmp_path)
        names = shipped_presets()
        for name in [*names, *reversed(names), "fig5-2d"]:
            switch_and_draw(qtbot, window, name)
            m = load_preset(name).network.latent_dim
            f = frame(window)
            assert f.Z.shape[1] == m and window.main_view.latent_dim == m, name
            if name == "uniform-start":  # a stationary start: velocities at round-off, no arrows
                assert not window.main_view.cluster_arrows.visible
                assert window.main_view.scale_label.text() == "arrows: clusters at rest"
                continue
            assert window.main_view.cluster_arrows.visible, name
            arrows = shown_arrows(window.main_view)
            assert arrows.shape == (2 * len(f.centers), m), name
            assert np.allclose(arrows[0::2], 1.1 * f.centers, atol=1e-5), name  # drawn at this run's clusters
    finally:
        logging.getLogger("vispy").removeHandler(handler)
    assert [r.getMessage() for r in vispy_errors] == []
    err = capfd.readouterr().err
    assert "Error" not in err and "Traceback" not in err and "dimension" not in err, err


def test_a_preset_switch_shows_a_preview_before_the_full_frame(qtbot, tmp_path, monkeypatch) -> None:
    """The new run's first full frame is held back (as a slow machine would) until the window
    has drawn something of it: only a preview can be that."""
    previewed = threading.Event()
    frames = RunDriver.frames

    def slow_frames(self: RunDriver, *args, **kwargs):
        if self.main.preset.name == "appendix-b-3d":
            previewed.wait(60)
        return frames(self, *args, **kwargs)

    monkeypatch.setattr(RunDriver, "frames", slow_frames)
    window = open_window(qtbot, tmp_path)
    drawn: list[tuple[str, bool]] = []

    def on_frames(_) -> None:
        drawn.append((window.snapshot.preset.name, window.snapshot.preview))
        if drawn[-1][0] == "appendix-b-3d":
            previewed.set()

    window.state.frames.connect(on_frames)
    window.open_preset("appendix-b-3d")
    wait_for(qtbot, lambda: ("appendix-b-3d", False) in drawn)
    mine = [preview for name, preview in drawn if name == "appendix-b-3d"]
    assert mine[0] is True and mine.index(False) > 0
    assert window.main_view.latent_dim == 3

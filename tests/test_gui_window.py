"""The window with a real event loop: it opens on the default preset and advances, the
kernel switches mid-run without a jump, divergence pauses it, closing mid-run is clean,
and a bad preset on the command line is a one-line error."""

from __future__ import annotations

import numpy as np
from gui_support import frame, open_window, wait_for, wait_step
from PySide6.QtCore import Qt

from main import main
from sim import Divergence, Simulation
from sim.commands import Step


def test_window_opens_on_default_preset_and_advances(qtbot, tmp_path) -> None:
    window = open_window(qtbot, tmp_path)
    assert window.snapshot.preset.name == "fig5-2d"
    assert frame(window).step == 0
    qtbot.keyClick(window, Qt.Key.Key_Space)
    wait_for(qtbot, lambda: frame(window).step >= 40)
    assert window.controls.counter.text() == f"step {frame(window).step}"
    assert window.status_labels["n"].text() == "n = 256"
    assert window.status_labels["device"].text() == "cpu"
    assert window.main_view.last_frame is frame(window)
    wait_for(qtbot, lambda: "steps/s" in window.status_labels["rate"].text() and window.curves.series)
    steps, loss = window.curves.series[(0, "loss")].view()
    assert len(steps) >= 2 and np.all(np.isfinite(loss))


def test_step_and_reset_keys(qtbot, tmp_path) -> None:
    window = open_window(qtbot, tmp_path)
    first = frame(window)
    for _ in range(3):
        qtbot.keyClick(window, Qt.Key.Key_S)
    after = wait_step(qtbot, window, 3)
    assert not np.allclose(after.Z, first.Z)
    qtbot.keyClick(window, Qt.Key.Key_R)
    again = wait_step(qtbot, window, 0)
    np.testing.assert_allclose(again.Z, first.Z, atol=1e-6)


def test_kernel_switch_mid_run_is_continuous_and_changes_dynamics(qtbot, tmp_path) -> None:
    window = open_window(qtbot, tmp_path)
    window.set_playing(True)
    wait_for(qtbot, lambda: frame(window).step >= 20)
    generation = window.snapshot.generation
    qtbot.keyClick(window, Qt.Key.Key_K)  # while running
    assert window.controls.kernel.currentData() == "identity"
    wait_for(qtbot, lambda: any(text == "kernel: identity" for _, text in window.curves.events))
    switched_at = next(step for step, text in window.curves.events if text == "kernel: identity")
    wait_for(qtbot, lambda: frame(window).step > switched_at + 10)
    assert window.snapshot.generation == generation and switched_at >= 20  # no reset
    assert window.main_view.title.text() == "identity kernel"

    # the same switch, replayed deterministically: reset (same seed), 20 NN steps, then
    # one more step with each kernel from that state
    window.set_kernel("nn")
    window.reset()
    window.send(Step(20))
    before = wait_step(qtbot, window, 20)
    window.step_once()
    nn_next = wait_step(qtbot, window, 21)
    window.reset()
    window.send(Step(20))
    wait_step(qtbot, window, 20)
    np.testing.assert_allclose(frame(window).Z, before.Z, atol=1e-6)
    window.set_kernel("identity")
    wait_for(qtbot, lambda: frame(window).kernel == "identity")
    np.testing.assert_array_equal(frame(window).Z, before.Z)  # the switch itself moves nothing
    window.step_once()
    identity_next = wait_step(qtbot, window, 21)
    moved = (identity_next.Z - before.Z).ravel()
    assert np.linalg.norm(identity_next.Z - nn_next.Z) > 0.1 * np.linalg.norm(moved)

    def cos(u: np.ndarray, v: np.ndarray) -> float:
        return float(u @ v / np.linalg.norm(u) / np.linalg.norm(v))

    assert cos(moved, before.velocity["identity"].ravel()) > 0.95
    assert cos(moved, before.velocity["identity"].ravel()) > cos(moved, before.velocity["nn"].ravel())


def test_divergence_pauses_and_keeps_last_good_state(qtbot, tmp_path, monkeypatch) -> None:
    original = Simulation._step_once

    def step_once(self: Simulation) -> None:
        if self.step_count >= 5:
            raise Divergence(f"step {self.step_count}: the loss is not finite")
        original(self)

    monkeypatch.setattr(Simulation, "_step_once", step_once)
    window = open_window(qtbot, tmp_path)
    window.set_playing(True)
    last = wait_step(qtbot, window, 5)
    assert not window.controls.play.isChecked()
    assert "not finite" in window.statusBar().currentMessage()
    assert window.divergence_box.isVisible()
    assert np.all(np.isfinite(last.Z))
    window.divergence_box.close()


def test_closing_mid_run_is_clean(qtbot, tmp_path, qtlog) -> None:
    window = open_window(qtbot, tmp_path)
    window.set_side_by_side(True)
    window.set_playing(True)
    wait_for(qtbot, lambda: frame(window).step >= 10 and len(window.snapshot.frames) == 2)
    window.close()
    assert window.thread.isFinished()
    warnings = [r for r in qtlog.records if r.type.name in ("QtWarningMsg", "QtCriticalMsg", "QtFatalMsg")]
    assert warnings == []


def test_bad_preset_is_a_one_line_error(capsys) -> None:
    assert main(["no-such-preset"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no-such-preset" in err

"""Parameter controls take effect in the running simulation without restarting the app:
tau, step sizes and view noise between two steps; network, latent dimension and preset by
building a new run (said in the status bar); every control has a tooltip; the layout and
the last preset persist in QSettings."""

from __future__ import annotations

from gui_support import frame, open_window, wait_for
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QAbstractButton, QAbstractSpinBox, QCheckBox, QComboBox

from gui.app import choose_preset


def test_training_knobs_apply_between_steps(qtbot, tmp_path) -> None:
    window = open_window(qtbot, tmp_path)
    c = window.controls
    c.tau.setValue(0.2)
    c.lr.setValue(0.01)
    c.lr_points.setValue(0.02)
    c.noise.setValue(0.1)
    window.step_once()
    wait_for(qtbot, lambda: frame(window).step == 1)
    preset = window.snapshot.preset
    assert (preset.loss.tau, preset.training.lr, preset.training.lr_points, preset.views.noise) == (
        0.2,
        0.01,
        0.02,
        0.1,
    )
    sim = window.worker.sims[0]
    assert sim.theta_opt.param_groups[0]["lr"] == 0.01 and sim.delta_opt.param_groups[0]["lr"] == 0.02
    c.steps_per_frame.setValue(3)
    window.set_playing(True)
    wait_for(qtbot, lambda: frame(window).step >= 10)
    assert window.worker.steps_per_frame == 3


def test_network_knobs_rebuild_and_say_so(qtbot, tmp_path) -> None:
    window = open_window(qtbot, tmp_path)
    generation = window.snapshot.generation
    window.controls.width.setValue(32)
    assert "restarts at step 0" in window.statusBar().currentMessage()
    wait_for(qtbot, lambda: window.snapshot.generation > generation)
    assert window.snapshot.preset.network.width == 32 and frame(window).step == 0
    window.controls.latent.setCurrentIndex(window.controls.latent.findData(3))
    wait_for(qtbot, lambda: frame(window).Z.shape[1] == 3)
    assert window.main_view.latent_dim == 3
    window.controls.preset.setCurrentIndex(window.controls.preset.findData("imbalanced"))
    window.open_preset("imbalanced")
    wait_for(qtbot, lambda: window.snapshot.preset.name == "imbalanced")
    assert window.settings.value("preset") == "imbalanced"


def test_every_control_has_a_tooltip(qtbot, tmp_path) -> None:
    window = open_window(qtbot, tmp_path)
    kinds = (QAbstractButton, QAbstractSpinBox, QComboBox, QCheckBox)
    controls = [w for kind in kinds for w in window.controls.findChildren(kind)]
    controls += [w for kind in kinds for w in window.cluster_table.findChildren(kind)]
    assert len(controls) > 20
    assert [w for w in controls if not w.toolTip() and w.isVisibleTo(window)] == []


def test_layout_and_last_preset_persist(qtbot, tmp_path) -> None:
    window = open_window(qtbot, tmp_path)
    window.curves_dock.hide()
    window.close()
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    assert settings.value("state") is not None
    again = open_window(qtbot, tmp_path)
    assert not again.curves_dock.isVisible() and again.input_dock.isVisible()
    settings.setValue("preset", "appendix-b-3d")
    assert choose_preset(None, settings)[0] == "appendix-b-3d"
    assert choose_preset("fig5-2d", settings)[0] == "fig5-2d"
    settings.setValue("preset", "gone-missing")
    assert choose_preset(None, settings)[0] == "fig5-2d"


def test_loss_choice_rebuilds_and_says_what_h_means(qtbot, tmp_path) -> None:
    window = open_window(qtbot, tmp_path)
    c = window.controls
    generation = window.snapshot.generation
    c.loss.setCurrentIndex(c.loss.findData("byol"))
    wait_for(qtbot, lambda: window.snapshot.generation > generation)
    assert window.snapshot.preset.loss.kind == "byol"
    assert window.worker.sims[0].head is not None
    assert "predictor" in c.kernel_meaning.text() and not c.tau.isEnabled()
    window.step_once()
    wait_for(qtbot, lambda: frame(window).step == 1)
    c.loss.setCurrentIndex(c.loss.findData("vicreg"))
    wait_for(qtbot, lambda: window.snapshot.preset.loss.kind == "vicreg")
    assert "VICReg" in c.kernel_meaning.text()

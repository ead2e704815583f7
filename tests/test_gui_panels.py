"""The theory and cluster-dynamics panels in the window, and the `theory` command."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from gui_support import frame, open_window, wait_for
from PySide6.QtCore import QPointF
from PySide6.QtGui import QImage

from gui.colors import PALETTE
from sim.theory import circle_loss

ROOT = Path(__file__).resolve().parent.parent


def test_theory_panel_fills_in_the_background(qtbot, tmp_path) -> None:
    window = open_window(qtbot, tmp_path)
    window.theory_dock.raise_()
    wait_for(qtbot, lambda: window.theory.tables is not None)
    rows = window.theory.tables["loss_vs_k"]
    row = next(r for r in rows if r["tau"] == 0.5 and r["K"] == 7)
    assert abs(row["loss"] - circle_loss(7, 0.5)) < 1e-12
    assert "Theorem 3.2" in window.theory.check.text() and "R^2" in window.theory.check.text()
    assert len(window.theory.loss_k.getPlotItem().listDataItems()) == 4


def test_cluster_panel_shows_predicted_and_measured_velocities(qtbot, tmp_path) -> None:
    window = open_window(qtbot, tmp_path, preset="imbalanced")
    window.cluster_dock.raise_()
    wait_for(qtbot, lambda: window.cluster_panel.flow is not None)
    flow = window.cluster_panel.flow
    assert window.cluster_panel.table.rowCount() == 4
    assert abs(flow.share[3] - 8 / 368) < 1e-12
    err = np.linalg.norm(flow.predicted - flow.measured) / np.linalg.norm(flow.measured)
    assert frame(window).step == 0 and err < 0.05
    window.cluster_panel.sweep_button.click()
    wait_for(qtbot, lambda: window.cluster_panel.sweep_rows is not None, timeout=60000)
    dev = np.array(window.cluster_panel.sweep_rows)[:, 1]
    assert np.all(np.diff(dev) > 0) and dev[0] < 0.03


def run_theory(out: Path, size: str) -> subprocess.CompletedProcess:
    """`main.py theory` as on a machine with no display at all."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    command = [sys.executable, "main.py", "theory", "--out", str(out), "--size", size]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)


def test_theory_command_writes_csv_and_png_without_a_display(tmp_path) -> None:
    out = tmp_path / "theory"
    result = run_theory(out, "900x400")
    assert result.returncode == 0, result.stderr
    assert "R^2" in result.stdout
    assert result.stderr.splitlines() == ["computing the Figure 3 tables..."]  # its own lines only, no Qt warning
    with (out / "loss_vs_k.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    row = next(r for r in rows if float(r["tau"]) == 0.2 and r["K"] == "5")
    assert abs(float(row["loss"]) - circle_loss(5, 0.2)) < 1e-12
    with (out / "threshold_fit.csv").open() as fh:
        fit = next(csv.DictReader(fh))
    assert float(fit["slope"]) > 0 and 0.95 < float(fit["r2"]) <= 1
    image = QImage(str(out / "figure3.png"))
    assert (image.width(), image.height()) == (900, 400)
    result = run_theory(out, "12")
    assert result.returncode == 2 and result.stderr.strip().startswith("error: --size")


def test_high_dimensional_data_shows_its_pca_projection(qtbot, tmp_path) -> None:
    window = open_window(qtbot, tmp_path, preset="digits")
    view = window.input_view
    wait_for(qtbot, lambda: view.X.shape[1] == 64)
    X = view.X.astype(np.float64)
    centred = X - X.mean(0)
    values, vectors = np.linalg.eigh(centred.T @ centred)
    top = vectors[:, ::-1][:, :2]
    expected = centred @ top
    x, y = view.scatter.getData()
    shown = np.stack([x, y], axis=1)
    for c in range(2):  # principal directions are defined up to sign
        sign = np.sign(shown[:, c] @ expected[:, c])
        np.testing.assert_allclose(shown[:, c], sign * expected[:, c], atol=1e-3)
    share = values[::-1][:2].sum() / values.sum()
    assert "PCA of 64-D data" in view.hint.text() and f"{100 * share:.0f}%" in view.hint.text()
    assert not view.movable and not view.axes_box.isVisible()
    legend = [label.text() for label in window.legend.labels]
    assert len(legend) == 5 and "digit 0" in legend[0] and "digit 4" in legend[4] and "(n=100)" in legend[0]
    assert window.legend.title.text() == "classes"
    # each point has its class's colour, from one brush object per class (a brush per point
    # made pyqtgraph render a symbol per point: seconds for 50k points)
    brushes = view.scatter.data["brush"]
    assert len({id(b) for b in brushes}) == 5
    for brush, label in zip(brushes, view.labels):
        expected = np.round(PALETTE[label] * 255).astype(int)
        color = brush.color()
        assert (color.red(), color.green(), color.blue()) == tuple(expected)


def test_figure3_legends_leave_the_curves_free(qapp) -> None:
    """Drawn as `main.py theory` draws it, at its default size and a small one: no point of any
    curve (nor of the segments between its points) lies under its plot's legend."""
    from gui.theory_panel import TheoryPanel
    from sim.theory import figure3_tables

    tables = figure3_tables()
    for size in [(1500, 520), (900, 400)]:
        panel = TheoryPanel(min_cell=(0, 0))
        panel.resize(*size)
        panel.show_tables(tables)
        panel.grab()
        for plot in (panel.loss_k, panel.loss_d2, panel.threshold):
            item = plot.getPlotItem()
            box = item.legend.sceneBoundingRect()
            assert box.width() > 20 and box.height() > 10
            assert item.getViewBox().sceneBoundingRect().contains(box), f"{size}: legend outside its plot"
            for data in item.listDataItems():
                x, y = data.getData()
                t = np.linspace(0, len(x) - 1, 20 * len(x))
                for px, py in zip(np.interp(t, np.arange(len(x)), x), np.interp(t, np.arange(len(y)), y)):
                    point = item.getViewBox().mapViewToScene(QPointF(px, py))
                    assert not box.contains(point), f"{size}: the legend covers ({px:.3g}, {py:.3g})"
        panel.deleteLater()

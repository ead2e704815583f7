"""The theory and cluster-dynamics panels in the window, and the `theory` command."""

from __future__ import annotations

import csv
import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyqtgraph as pg
import pytest
from gui_support import frame, open_window, show_exposed, wait_for
from PySide6.QtCore import QPoint, QPointF, QRectF
from PySide6.QtGui import QColor, QImage

from gui.cluster_panel import COLUMNS
from gui.colors import PALETTE
from sim import Simulation, load_preset
from sim.theory import circle_loss

ROOT = Path(__file__).resolve().parent.parent


def bare_curves(qtbot, size: tuple[int, int] | None = None, show: bool = False):
    """A metric curves widget alone (no minimum cell size), of `size`, shown if asked."""
    from gui.curves import Curves

    curves = Curves(min_cell=(0, 0))
    qtbot.addWidget(curves)
    if size is not None:
        curves.resize(*size)
    if show:
        curves.show()
    return curves


def frames_at(steps: tuple[int, ...]) -> list:
    """fig5-2d's first frame, stamped with each of `steps` (curves drawn over that range)."""
    first = Simulation(load_preset("fig5-2d"), device="cpu").frame(block_ratio=False)
    return [dataclasses.replace(first, step=step) for step in steps]


def test_theory_panel_fills_in_the_background(qtbot, tmp_path) -> None:
    window = open_window(qtbot, tmp_path)
    window.theory_dock.raise_()
    wait_for(qtbot, lambda: window.theory.tables is not None)
    rows = window.theory.tables["loss_vs_k"]
    row = next(r for r in rows if r["tau"] == 0.5 and r["K"] == 7)
    assert abs(row["loss"] - circle_loss(7, 0.5)) < 1e-12
    assert "Theorem 3.2" in window.theory.check.text() and "R^2" in window.theory.check.text()
    assert len(window.theory.loss_k.getPlotItem().listDataItems()) == 4
    # negative: the population loss of an invariant map, not the run's NT-Xent, and so named
    assert row["loss"] < 0 and window.theory.loss_k.getAxis("left").labelText == "L(rho)"
    assert "population loss" in window.theory.loss_k.toolTip()


def test_cluster_panel_shows_predicted_and_measured_velocities(qtbot, tmp_path) -> None:
    window = open_window(qtbot, tmp_path, preset="imbalanced")
    window.cluster_dock.raise_()
    wait_for(qtbot, lambda: window.cluster_panel.flow is not None)
    flow = window.cluster_panel.flow
    assert window.cluster_panel.table.rowCount() == 4
    assert abs(flow.share[3] - 8 / 368) < 1e-12
    err = np.linalg.norm(flow.predicted - flow.measured) / np.linalg.norm(flow.measured)
    assert frame(window).step == 0 and err < 0.05
    panel = window.cluster_panel
    cell = {name: j for j, name in enumerate(COLUMNS)}
    for k in range(4):  # the table shows the flow's own numbers, split and spread included
        shown = {name: panel.table.item(k, j).text() for name, j in cell.items()}
        assert float(shown["|own|"]) == pytest.approx(np.linalg.norm(flow.own[k]), rel=1e-2)
        assert float(shown["|others|"]) == pytest.approx(np.linalg.norm(flow.others[k]), rel=1e-2)
        assert float(shown["spread"]) == pytest.approx(flow.spread[k], abs=1e-3)
    table, header = panel.table, panel.table.horizontalHeader()
    for j, name in enumerate(COLUMNS):  # every header and number whole in its column (none cut to "...")
        assert header.sectionSize(j) >= max(table.sizeHintForColumn(j), header.sectionSizeHint(j)), name
    assert panel.sweep_button.isEnabled()
    panel.sweep_button.click()
    wait_for(qtbot, lambda: panel.sweep_rows is not None, timeout=60000)
    _, dev, spread = np.array(panel.sweep_rows).T
    assert np.all(np.diff(dev) > 0) and dev[0] < 0.03
    assert np.all(np.diff(spread) > 0)  # Theorem 4.5: the velocity spread grows with eps
    labels = [item.text for _, item in panel.eps_plot.getPlotItem().legend.items]
    assert labels == ["deviation of H", "velocity spread"]
    panel.set_data_kind("digits")
    assert not panel.sweep_button.isEnabled() and "digits" in panel.sweep_button.toolTip()


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
    result = run_theory(out, "640x240")  # drawn with its titles cut: refused, naming the least size
    assert result.returncode == 2 and "W >= 800 and H >= 300, got '640x240'" in result.stderr


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
    assert len(legend) == 5 and "digit 0" in legend[0] and "digit 4" in legend[4] and "(n=" not in legend[0]
    assert window.legend.title.text() == "classes (n=100 each)"  # said once: all five fit a 1366-wide window
    content = window.legend.scroll.widget()
    wait_for(qtbot, lambda: content.minimumSizeHint().width() <= 640)
    # each point has its class's colour, from one brush object per class (a brush per point
    # made pyqtgraph render a symbol per point: seconds for 50k points)
    brushes = view.scatter.data["brush"]
    assert len({id(b) for b in brushes}) == 5
    for brush, label in zip(brushes, view.labels):
        expected = np.round(PALETTE[label] * 255).astype(int)
        color = brush.color()
        assert (color.red(), color.green(), color.blue()) == tuple(expected)


def test_figure3_legends_leave_the_curves_free(qapp) -> None:
    """Drawn as `main.py theory` draws it, at its default size and small ones (a dock's): no
    point of any curve (nor of the segments between its points) lies under its plot's legend,
    and the legend is whole within its plot (inside the view, or beside it where every place
    inside covers a curve, as at 700 x 330). At 1366 x 230 and 800 x 300 the command's PNG had
    no tau legends: the panel, never shown, placed them for pyqtgraph's default views."""
    from gui.theory_panel import offscreen_panel
    from sim.theory import figure3_tables

    tables = figure3_tables()
    beside = 0
    for size in [(1500, 520), (900, 400), (700, 330), (420, 560), (1366, 230), (800, 300)]:
        panel = offscreen_panel(tables, *size)
        image = panel.grab().toImage()
        for plot in (panel.loss_k, panel.loss_d2, panel.threshold):
            item = plot.getPlotItem()
            box = item.legend.sceneBoundingRect()
            assert box.width() > 20 and box.height() > 10
            assert QRectF(0, 0, plot.width(), plot.height()).contains(box), f"{size}: legend cut off"
            # and drawn: its names, light on the dark background, in the picture
            drawn = box.toRect().translated(plot.mapTo(panel, QPoint(0, 0)))
            light = sum(
                QColor(image.pixel(x, y)).lightness() > 150
                for x in range(drawn.left(), drawn.right())
                for y in range(drawn.top(), drawn.bottom())
            )
            assert light > 30, f"{size}: no legend drawn in {drawn}"
            beside += not item.getViewBox().sceneBoundingRect().intersects(box)
            for data in item.listDataItems():
                x, y = data.getData()
                t = np.linspace(0, len(x) - 1, 20 * len(x))
                for px, py in zip(np.interp(t, np.arange(len(x)), x), np.interp(t, np.arange(len(y)), y)):
                    point = item.getViewBox().mapViewToScene(QPointF(px, py))
                    assert not box.contains(point), f"{size}: the legend covers ({px:.3g}, {py:.3g})"
        panel.deleteLater()
    assert beside >= 2


def drawn_tick_specs(axis) -> list:
    """The tick labels a pyqtgraph axis draws now, in order: (rect, flags, text) each."""
    from PySide6.QtGui import QPainter, QPixmap

    pixmap = QPixmap(10, 10)
    painter = QPainter(pixmap)
    try:
        return axis.generateDrawSpecs(painter)[2]
    finally:
        painter.end()


def drawn_tick_texts(axis) -> list[str]:
    """The tick labels a pyqtgraph axis draws now, in order."""
    return [text for _, _, text in drawn_tick_specs(axis)]


def test_panels_never_push_the_window_and_stay_readable_in_a_short_wide_dock(qtbot) -> None:
    """Each bottom panel asks for little room (the window's minimum size is not theirs), and in
    a 1400 x 260 dock shows its plots one row high, each at least 140 px tall, with a step axis."""
    from gui.cluster_panel import ClusterPanel
    from gui.curves import Curves
    from gui.kernel_view import KernelView
    from gui.legend import Legend
    from gui.theory_panel import TheoryPanel

    panels = [Curves(), TheoryPanel(), ClusterPanel(), KernelView(), Legend()]
    for panel in panels:
        qtbot.addWidget(panel)
        hint = panel.minimumSizeHint()
        assert hint.width() <= 200 and hint.height() <= 150, (type(panel).__name__, hint)
    panels[4].set_groups([f"digit {k}" for k in range(10)], [100] * 10)
    assert panels[4].minimumSizeHint().width() <= 200  # ten classes scroll sideways
    panels[4].set_groups(["1", "2"], [8, 120], "clusters")  # counts that differ stay with their groups
    assert "(n=8)" in panels[4].labels[0].text() and panels[4].title.text() == "clusters"
    curves = panels[0]
    curves.resize(1400, 260)
    show_exposed(qtbot, curves)
    frame = Simulation(load_preset("fig5-2d"), device="cpu").frame(block_ratio=False)
    curves.add((frame,))
    curves.redraw()
    wait_for(qtbot, lambda: curves.grid.columns == len(curves.plots) == 6)
    for key, plot in curves.plots.items():
        assert plot.getViewBox().height() >= 100, key
        assert plot.getAxis("bottom").labelText == "step"
    assert curves.key_labels[0].isVisible() and not curves.key_labels[1].isVisible()
    assert "solid" in curves.key_labels[0].text() and "NN" in curves.key_labels[0].text()
    twin = dataclasses.replace(frame, kernel="identity")
    curves.add((frame, twin))
    assert curves.key_labels[1].isVisible() and "dashed" in curves.key_labels[1].text()
    assert "identity" in curves.key_labels[1].text()


def test_one_step_of_curves_shows_a_dot_on_a_readable_range(qtbot) -> None:
    """An export's first frame: each metric is a dot, on the export's own step axis, with its
    value inside a y range of sensible size (not pyqtgraph's -0.4..0.4 around nothing)."""
    curves = bare_curves(qtbot, (1200, 220))
    curves.set_step_range(0, 490)
    frame = Simulation(load_preset("fig5-2d"), device="cpu").frame(block_ratio=False)
    curves.add((frame,))
    curves.redraw()
    curves.grab()
    for key, plot in curves.plots.items():
        (x0, x1), (y0, y1) = plot.getViewBox().viewRange()
        assert x0 <= 0 and 490 <= x1 <= 520, key
        per_cluster = {"R": frame.cluster_metrics["R"], "separation": frame.cluster_metrics["neighbour_angle"]}
        value = frame.loss if key == "loss" else per_cluster[key] if key in per_cluster else frame.metrics[key]
        values = np.atleast_1d(value)  # a line per cluster: the range holds every cluster's value
        readable = max(1.0, 0.5 * np.abs(values).max()) + np.ptp(values)
        assert y0 < values.min() and values.max() < y1 and (y1 - y0) < readable, (key, value, y0, y1)
        item = plot.listDataItems()[0]
        assert item.opts["symbol"] == "o"  # a single point is drawn as a dot


def test_the_heatmap_is_square_and_fills_its_plot_along_the_shorter_side(qtbot) -> None:
    """H is square: in a wide short plot it was stretched 4:1 (its blocks slivers); it fills
    the plot's shorter side, centred along the longer one. With the cluster average on, the
    axes count clusters, not samples."""
    from gui.kernel_view import KernelView

    view = KernelView()
    qtbot.addWidget(view)
    frame = Simulation(load_preset("imbalanced"), device="cpu").frame(with_kernel=True)
    for size in [(700, 300), (300, 700)]:
        view.resize(*size)
        show_exposed(qtbot, view)
        view.show_frame(frame)

        def square_and_filling() -> bool:
            box = view.plot.getViewBox().sceneBoundingRect()
            image = view.image.mapRectToScene(view.image.boundingRect())
            short = ("top", "bottom") if box.height() <= box.width() else ("left", "right")
            fills = all(abs(getattr(image, s)() - getattr(box, s)()) <= 2 for s in short)
            centred = (
                abs(image.center().x() - box.center().x()) <= 2 and abs(image.center().y() - box.center().y()) <= 2
            )
            return (
                min(box.width(), box.height()) > 100 and abs(image.width() - image.height()) <= 2 and fills and centred
            )

        wait_for(qtbot, square_and_filling, timeout=5000)
    # the blocks' names over the matrix, on the top axis (inside it they covered its first rows)
    assert [name for _, name in view.block_names] == ["1", "2", "3", "4"] == drawn_tick_texts(view.plot.getAxis("top"))
    view.average.setChecked(True)
    assert view.plot.getAxis("left").labelText == "cluster" == view.plot.getAxis("bottom").labelText


def test_digits_are_named_by_their_own_labels_in_the_dynamics_panel_and_heatmap(qtbot) -> None:
    from gui.cluster_panel import ClusterPanel
    from gui.kernel_view import KernelView
    from gui.legend import group_names, group_word
    from sim.cluster_dynamics import cluster_flow

    preset = load_preset("digits")
    sim = Simulation(preset, device="cpu")
    names = group_names(preset.data, sim.num_clusters)
    assert names == [str(c) for c in preset.data.classes] == ["0", "1", "2", "3", "4"]
    assert group_names(load_preset("fig5-2d").data, 4) == ["1", "2", "3", "4"]
    panel = ClusterPanel()
    qtbot.addWidget(panel)
    panel.set_names(names, group_word(preset.data))
    panel.show_flow(cluster_flow(sim))
    assert [panel.table.item(k, 0).text() for k in range(5)] == names
    assert panel.table.horizontalHeaderItem(0).text() == "digit"
    panel.resize(1400, 300)
    show_exposed(qtbot, panel)
    assert drawn_tick_texts(panel.bars.getAxis("bottom")) == names  # one tick per class, no 1.5 or 2.5
    view = KernelView()
    qtbot.addWidget(view)
    view.set_names(names)
    view.show_frame(sim.frame(with_kernel=True))
    assert [name for _, name in view.block_names] == names
    # in a heatmap too small for all five names, some of them, in order: those drawn stay apart
    long_names = [f"class {name}" for name in names]
    view.set_names(long_names)
    view.resize(260, 200)
    show_exposed(qtbot, view)
    top = view.plot.getAxis("top")
    wait_for(qtbot, lambda: 0 < len(drawn_tick_specs(top)) < len(names))
    rects = [rect for rect, _, _ in drawn_tick_specs(top)]
    assert all(not a.intersects(b) for i, a in enumerate(rects) for b in rects[i + 1 :])
    texts = drawn_tick_texts(top)
    assert texts[0] == long_names[0] and texts == [name for name in long_names if name in texts]  # in order


@pytest.mark.parametrize(
    ("count", "size", "columns"),
    [
        (5, (1400, 260), 5),  # the metrics in a wide bottom dock: one row
        (5, (400, 800), 1),  # floated tall and narrow: one column
        (5, (1400, 60), 5),  # shorter than a cell: one row to scroll, not five
        (3, (1500, 300), 3),
        (3, (500, 900), 1),
        (4, (800, 520), 2),  # two rows of two: 400 x 260 cells beat 800 x 140 or 200 x 520
    ],
)
def test_plot_grid_columns_give_the_largest_readable_cells(count, size, columns) -> None:
    from gui.plot_grid import columns_for

    assert columns_for(count, size, (200, 140), 1.6) == columns


def test_curves_against_flow_time_follow_the_frames_and_the_choice(qtbot) -> None:
    """Issue 13: the curves' x axis is the step or the flow time t. Each line's x values are the
    frames' own steps or flow times, an event line sits at its step's flow time, the axis label
    says which, and the key's chooser switches it."""
    curves = bare_curves(qtbot, (1200, 240))
    sim = Simulation(load_preset("fig5-2d"), device="cpu")
    frames = [sim.frame(block_ratio=False)]
    for _ in range(3):
        sim.step(5)
        frames.append(sim.frame(block_ratio=False))
    for f in frames:
        curves.add((f,))
    curves.mark(10, "kernel: identity")
    curves.set_x_axis("flow_time")
    times = np.array([f.flow_time for f in frames])
    assert np.all(np.diff(times) > 0) and times[-1] < 15 * sim.preset.training.lr  # the step rule cut steps
    line = curves.lines[(0, "loss")][0]
    np.testing.assert_array_equal(line.xData, times)
    np.testing.assert_array_equal(line.yData, [f.loss for f in frames])
    assert curves.plots["silhouette"].getAxis("bottom").labelText == "flow time t"
    markers = [line for plot, line, step in curves._markers if step == 10]
    assert markers and all(m.value() == pytest.approx(frames[2].flow_time) for m in markers)
    (x0, x1), _ = curves.plots["loss"].getViewBox().viewRange()
    assert x0 <= times[0] and times[-1] <= x1 < times[-1] + 0.2 * (times[-1] - times[0])
    separation = curves.lines[(0, "separation")]  # a line per cluster: its angle to the nearest other
    assert len(separation) == 4
    for k, item in enumerate(separation):
        np.testing.assert_allclose(item.yData, [f.cluster_metrics["neighbour_angle"][k] for f in frames])
    curves.x_choice.setCurrentIndex(0)  # the chooser in the key row
    assert curves.x_axis == "step"
    np.testing.assert_array_equal(curves.lines[(0, "loss")][0].xData, [0, 5, 10, 15])
    assert all(m.value() == 10 for m in markers)
    # the switch's label lies whole inside the loss plot (it was drawn above its top edge)
    labelled = [m for m in markers if getattr(m, "label", None) is not None]
    curves.show()
    assert len(labelled) == 1 and labelled[0].label.toPlainText() == "identity"
    view = curves.plots["loss"].getViewBox()
    qtbot.waitUntil(lambda: view.sceneBoundingRect().contains(labelled[0].label.sceneBoundingRect()))
    with pytest.raises(ValueError, match="x axis"):
        curves.set_x_axis("time")


def test_per_cluster_curves_follow_each_cluster_through_a_removal(qtbot) -> None:
    """Removing cluster 2 of 4 blanked every cluster's R_k history; now each line keeps its
    cluster's, the removed one's ends, and the lines take the colour of their cluster's new
    place (cluster 3 is drawn as cluster 2 now, as in every other view)."""
    from gui.colors import cluster_hex

    curves = bare_curves(qtbot)
    frame = Simulation(load_preset("fig5-2d"), device="cpu").frame(block_ratio=False)
    R = np.array([0.1, 0.2, 0.3, 0.4])
    before = dataclasses.replace(frame, cluster_metrics={**frame.cluster_metrics, "R": R})
    curves.add((before,))
    kept = [0, 2, 3]
    after = dataclasses.replace(
        frame,
        step=20,
        cluster_ids=np.array(kept),
        cluster_metrics={k: v[kept] + 0.5 for k, v in before.cluster_metrics.items()},
    )
    curves.add((after,))
    curves.redraw()
    steps, values = curves.series[(0, "R")].view()
    np.testing.assert_array_equal(steps, [0, 20])
    np.testing.assert_allclose(values, [[0.1, 0.2, 0.3, 0.4], [0.6, np.nan, 0.8, 0.9]])
    lines = curves.lines[(0, "R")]
    assert [line.opts["pen"].color().name() for line in lines] == [cluster_hex(k) for k in (0, 1, 1, 2)]


def test_event_labels_never_overlap_or_leave_the_loss_plot(qtbot) -> None:
    """Many edits and switches close together (a fresh-user look: "emoved cluster 1: n=64
    ster 5", labels cut at the plot's left edge): the labels shown lie whole inside the plot
    and apart; the newest is always shown; the others are hidden where no row has room."""
    curves = bare_curves(qtbot, (900, 600), show=True)
    for stamped in frames_at((0, 400)):
        curves.add((stamped,))
    texts = ["moved cluster 2", "kernel: identity", "cluster 1: n=64", "removed cluster 4", "kernel: NN"]
    for i in range(13):  # the newest an edit (a kernel switch's label waits for room right of its line)
        curves.mark(5 + 30 * i, texts[i % len(texts)])
    view = curves.plots["loss"].getViewBox()
    labels = [line.label for _, line, _ in curves._markers if getattr(line, "label", None) is not None]
    qtbot.waitUntil(lambda: view.sceneBoundingRect().adjusted(-1, -1, 1, 1).contains(labels[-1].sceneBoundingRect()))
    shown = [label.sceneBoundingRect() for label in labels if label.isVisible()]
    assert labels[-1].isVisible() and 3 <= len(shown) < len(labels)
    for i, box in enumerate(shown):
        assert view.sceneBoundingRect().adjusted(-1, -1, 1, 1).contains(box), box
        assert not any(box.intersects(other.adjusted(1, 1, -1, -1)) for other in shown[i + 1 :]), box


def test_values_equal_up_to_round_off_get_a_readable_range(qtbot) -> None:
    """uniform-start is stationary: its loss wobbles by 1e-14 and the auto range zoomed into
    that, with 17-digit tick labels ("5.05596717511719") that squeezed the plots to slivers.
    Equal values up to round-off get the padded range a single value gets."""
    curves = bare_curves(qtbot, (1400, 300), show=True)
    frames = frames_at(tuple(range(0, 101, 20)))
    wobble = 5.05596717511719 + 1e-14 * np.array([0, 1, -1, 2, 0, 1])
    for stamped, loss in zip(frames, wobble, strict=True):
        curves.add((dataclasses.replace(stamped, loss=float(loss)),))
    curves.redraw()
    (_, _), (y0, y1) = curves.plots["loss"].getViewBox().viewRange()
    assert y1 - y0 > 0.1  # not 1e-13 wide
    axis = curves.plots["loss"].getAxis("left")
    qtbot.waitUntil(lambda: len(drawn_tick_texts(axis)) >= 2)
    assert max(len(text) for text in drawn_tick_texts(axis)) <= 5, drawn_tick_texts(axis)


@pytest.mark.parametrize("height", [400, 190])
def test_the_loss_curve_keeps_under_the_switch_labels(qtbot, height) -> None:
    """The labels sat over the loss curve (a fresh-user look): the loss plot's range leaves a
    band on top as deep as the label rows shown (up to half the plot), so no curve point lies
    under a label; with no labels the curve has the whole plot. In a short plot (190 px: the
    loss plot about 70 px, as in the window at 1366 x 768) three stacked labels did not fit in
    half of it and still touched the curve: only the rows that fit are used, the newest label
    shown, the older ones hidden."""
    from PySide6.QtCore import QPointF

    curves = bare_curves(qtbot, (1400, height), show=True)
    frames = frames_at(tuple(range(0, 401, 20)))
    losses = 6.0 - 0.002 * np.arange(len(frames)) * 20 + 0.3 * (np.arange(len(frames)) % 2)  # high early, jagged
    for stamped, loss in zip(frames, losses, strict=True):
        curves.add((dataclasses.replace(stamped, loss=float(loss)),))
    curves.redraw()
    view = curves.plots["loss"].getViewBox()
    (_, _), (_, top_bare) = view.viewRange()
    for step, text in ((20, "kernel: identity"), (60, "kernel: NN"), (100, "kernel: identity")):
        curves.mark(step, text)
    curves.redraw()
    labels = [line.label for _, line, _ in curves._markers if getattr(line, "label", None) is not None]
    row = labels[0].boundingRect().height()
    qtbot.waitUntil(lambda: labels[-1].isVisible())
    assert curves._label_rows == 1 or curves._label_rows * row <= view.height() / 2  # the rows used fit in half
    if height < 300:  # three rows would not fit in half of it: not every label is shown
        assert view.height() < 6 * row and not all(label.isVisible() for label in labels)
    else:
        assert all(label.isVisible() for label in labels)
    curves.redraw()
    (_, _), (_, top) = view.viewRange()
    assert top > top_bare  # the band

    def clear_of_labels() -> bool:
        """Every curve point in a shown label's columns lies below the label (scene y grows down)."""
        points = [view.mapViewToScene(QPointF(20 * i, float(v))) for i, v in enumerate(losses)]
        boxes = [label.sceneBoundingRect() for label in labels if label.isVisible()]
        return all(
            all(pt.y() >= box.bottom() - 1 for pt in points if box.left() <= pt.x() <= box.right())
            and any(box.left() <= pt.x() <= box.right() for pt in points)
            for box in boxes
        )

    qtbot.waitUntil(clear_of_labels)  # the labels are placed again once the new range is drawn


def test_a_kernel_switch_is_labelled_over_the_stretch_its_kernel_ran(qtbot) -> None:
    """NN -> identity -> infinite width -> NN: each kernel's name right of its own line (a
    fresh-user look saw "infinite width" over the identity stretch); a switch at the plot's
    right edge has no room there and waits, rather than sitting over the kernel before it."""
    curves = bare_curves(qtbot, (1400, 300), show=True)
    for stamped in frames_at((0, 600)):
        curves.add((stamped,))
    for step, text in ((150, "kernel: identity"), (280, "kernel: infinite width"), (595, "kernel: NN")):
        curves.mark(step, text)
    curves.redraw()
    view = curves.plots["loss"].getViewBox()
    lines = [line for _, line, _ in curves._markers if getattr(line, "label", None) is not None]
    qtbot.waitUntil(lambda: lines[0].label.isVisible() and lines[0].label.sceneBoundingRect().width() > 0)
    for line in lines[:2]:
        x = view.mapViewToScene(pg.Point(line.value(), 0)).x()
        assert line.label.isVisible() and line.label.sceneBoundingRect().left() >= x - 1, line.label.toPlainText()
    assert not lines[2].label.isVisible()  # no room right of step 595 yet


def test_small_metric_plots_keep_their_ticks_apart_and_drop_axis_titles(qtbot) -> None:
    """A 640 x 360 export gives each metric plot ~100 x 50 px: pyqtgraph's own spacing wrote
    the step labels over each other ("100200300") and the axis titles squeezed the plot
    titles to "alignme"; the curves' axes keep ticks MIN_TICK_PIXELS apart and a plot
    narrower than COMPACT_WIDTH drops its axis titles."""
    import pyqtgraph as pg

    from gui.curves import COMPACT_WIDTH, MIN_TICK_PIXELS, CurvePlot, SparseAxis

    for side, least in (("bottom", MIN_TICK_PIXELS[0]), ("left", MIN_TICK_PIXELS[1])):
        for low, high, size in ((0, 400, 65), (0, 3000, 100), (5.0, 6.5, 40), (0, 400, 600)):
            assert all(s / (high - low) * size >= least for s, _ in SparseAxis(side).tickSpacing(low, high, size))
    assert min(s for s, _ in pg.AxisItem("bottom").tickSpacing(0, 400, 65)) / 400 * 65 < MIN_TICK_PIXELS[0]
    plot = CurvePlot()
    qtbot.addWidget(plot)
    plot.resize(COMPACT_WIDTH - 60, 80)
    plot.show()
    axes = [plot.getPlotItem().getAxis(side) for side in ("left", "bottom")]
    for axis in axes:
        axis.setLabel("an axis title")  # shown by setLabel: the plot hides it again while narrow
    plot.resize(COMPACT_WIDTH - 59, 80)
    qtbot.waitUntil(lambda: not any(axis.label.isVisible() for axis in axes))
    plot.resize(COMPACT_WIDTH + 60, 160)
    qtbot.waitUntil(lambda: all(axis.label.isVisible() for axis in axes))


def test_the_eps_sweep_starts_before_the_first_frame_and_says_how_far(qtbot, tmp_path, monkeypatch) -> None:
    """Pressed before the run's first frame it measures the loaded preset (it raised an
    AttributeError on the missing snapshot); the button says which radius it measures; the
    runs have at most SWEEP_MAX_PER_CLUSTER samples a cluster."""
    from PySide6.QtCore import QSettings

    import gui.cluster_panel
    from gui.cluster_panel import SWEEP_EPS, SWEEP_MAX_PER_CLUSTER
    from gui.main_window import MainWindow
    from sim.preset import with_changes

    sizes = []
    measure = gui.cluster_panel.cluster_flow
    monkeypatch.setattr(gui.cluster_panel, "cluster_flow", lambda sim: (sizes.append(sim.n), measure(sim))[1])
    big = with_changes(load_preset("fig5-2d"), {f"data.clusters[{k}].count": 200 for k in range(4)})
    window = MainWindow(big, QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window, before_close_func=lambda w: w.shutdown())
    panel = window.cluster_panel
    said = []
    panel.sweep_button.clicked.emit()  # at once: the worker is still fitting the run's start
    assert window.snapshot is None and panel._job is not None and panel._job.preset.n == 800
    panel._job.progress.connect(said.append)
    wait_for(qtbot, lambda: panel.sweep_rows is not None, timeout=120000)
    assert [eps for eps, _, _ in panel.sweep_rows] == list(SWEEP_EPS)
    assert sizes == [4 * SWEEP_MAX_PER_CLUSTER] * len(SWEEP_EPS)
    assert said and said[-1] == f"measuring eps = {SWEEP_EPS[-1]:g} ({len(SWEEP_EPS)} of {len(SWEEP_EPS)})..."
    assert panel.sweep_button.text() == "Measure against eps"


@pytest.mark.parametrize("width", [1366, 1000])
def test_cluster_dynamics_table_shows_every_column_without_scrolling(qtbot, width) -> None:
    """The bottom dock at 1366 wide (and narrower, while the plots keep their minimum width)
    gives the table the width its columns need: nothing hidden behind a sideways scroll bar."""
    from gui.cluster_panel import ClusterPanel
    from sim.cluster_dynamics import cluster_flow

    panel = ClusterPanel()
    qtbot.addWidget(panel)
    panel.resize(width, 190)
    show_exposed(qtbot, panel)
    panel.show_flow(cluster_flow(Simulation(load_preset("fig5-2d"), device="cpu")))
    table = panel.table

    def whole() -> bool:
        return table.viewport().width() >= table.horizontalHeader().length() and panel.grid.columns == 3

    wait_for(qtbot, whole, timeout=5000)
    assert not table.horizontalScrollBar().isVisible()
    for plot in (panel.bars, panel.eps_plot):
        assert plot.width() >= 260 - 1  # the plots keep their cells' minimum


def test_the_kernel_info_keeps_its_ratio_in_sight_in_a_narrow_dock(qtbot) -> None:
    """At 1366 x 768 the kernel dock is about 230 px wide: the info beside the toggle was cut to
    "within/between ...". Narrow, it takes a line under the toggle and shows the ratio and the
    step; wide, it stays beside the toggle."""
    from PySide6.QtWidgets import QBoxLayout

    from gui.kernel_view import KernelView

    frame = Simulation(load_preset("imbalanced"), device="cpu").frame(with_kernel=True)
    view = KernelView()
    qtbot.addWidget(view)
    view.resize(230, 240)
    show_exposed(qtbot, view)
    view.show_frame(frame)
    head = f"within/between = {frame.metrics['block_ratio']:.3g}   step 0"
    wait_for(qtbot, lambda: view.info.shown_text().startswith(head), timeout=5000)
    assert view.top.direction() == QBoxLayout.Direction.TopToBottom
    assert view.info.geometry().top() >= view.average.geometry().bottom()  # under the toggle
    view.resize(900, 240)
    wait_for(qtbot, lambda: view.top.direction() == QBoxLayout.Direction.LeftToRight, timeout=5000)
    wait_for(qtbot, lambda: view.info.geometry().left() >= view.average.geometry().right(), timeout=5000)
    assert view.info.shown_text() == view.info.text()  # the whole line, subsample note included
    assert "subsample" in view.info.text()


def test_block_names_are_pushed_apart_not_dropped(qtbot) -> None:
    """imbalanced's smallest cluster, the one the preset is about, lost its name in a small
    heatmap (the names were thinned from the left); now the names move aside to fit, apart and
    in order, and with the K x K average every axis names the clusters at the cells' middles."""
    import itertools

    from gui.kernel_view import KernelView, spread

    assert spread([1.0, 2.0, 9.0], [1.0, 1.0, 1.0], 0.0, 10.0) == [1.0, 3.0, 9.0]
    assert spread([9.5, 9.8], [1.0, 1.0], 0.0, 10.0) == [7.0, 9.0]  # pushed back inside the edge
    assert spread([1.0, 2.0], [3.0, 3.0], 0.0, 10.0) is None  # 12 wide in 10: cannot fit
    view = KernelView()
    qtbot.addWidget(view)
    view.resize(260, 180)
    show_exposed(qtbot, view)
    view.show_frame(Simulation(load_preset("imbalanced"), device="cpu").frame(with_kernel=True))
    top = view.plot.getAxis("top")
    wait_for(qtbot, lambda: drawn_tick_texts(top) == ["1", "2", "3", "4"], timeout=5000)
    rects = [rect for rect, _, _ in drawn_tick_specs(top)]
    assert all(a.right() <= b.left() for a, b in itertools.pairwise(rects))
    view.average.setChecked(True)
    for side in ("top", "left", "bottom"):
        axis = view.plot.getAxis(side)
        wait_for(qtbot, lambda axis=axis: drawn_tick_texts(axis) == ["1", "2", "3", "4"], timeout=5000)


def test_the_sample_axes_of_a_small_heatmap_keep_their_labels_apart(qtbot) -> None:
    """fig5-2d with one cluster at 32 samples (224 in all) in the 1366 x 768 kernel dock: the
    sample axis read "50 100150". Its tick step now follows the pixels a sample has: 1, 2, 5,
    10, 20, 50, ... samples, the smallest whose labels stay apart."""
    import itertools

    from gui.kernel_view import KernelView, sample_tick_step
    from sim.preset import with_changes

    assert [sample_tick_step(p, 21) for p in (100, 5, 1, 0.4, 0.05)] == [1, 10, 50, 100, 1000]
    preset = with_changes(load_preset("fig5-2d"), {"data.clusters[0].count": 32})
    view = KernelView()
    qtbot.addWidget(view)
    view.resize(230, 200)
    show_exposed(qtbot, view)
    view.show_frame(Simulation(preset, device="cpu").frame(with_kernel=True))
    for side, least in (("bottom", 1), ("left", 2)):  # pyqtgraph drops a label crossing the axis's end
        axis = view.plot.getAxis(side)
        wait_for(qtbot, lambda axis=axis, least=least: len(drawn_tick_texts(axis)) >= least, timeout=5000)
        rects = [rect for rect, _, _ in drawn_tick_specs(axis)]
        if side == "bottom":
            assert all(a.right() + 4 <= b.left() for a, b in itertools.pairwise(rects)), drawn_tick_texts(axis)
        else:
            assert all(a.bottom() <= b.top() for a, b in itertools.pairwise(rects)), drawn_tick_texts(axis)


def test_the_heatmap_says_when_its_kernel_is_not_the_one_moving_the_run(qtbot) -> None:
    """Under the identity or infinite-width kernel the dock still showed H(theta) as "Kernel
    H(theta)" with nothing saying the run was moved by another kernel (a fresh-user look)."""
    import dataclasses

    from gui.kernel_view import KernelView

    frame = Simulation(load_preset("imbalanced"), device="cpu").frame(with_kernel=True)
    view = KernelView()
    qtbot.addWidget(view)
    view.resize(230, 240)  # the kernel dock at 1366 x 768: the end of the info line is cut there
    show_exposed(qtbot, view)
    view.show_frame(frame)
    assert view.note.isHidden()
    view.show_frame(dataclasses.replace(frame, kernel="identity"))
    wait_for(qtbot, view.note.isVisible, timeout=5000)
    assert view.note.text() == "the network's kernel; the run moves by the identity kernel"
    lines = view.note.height() // view.note.fontMetrics().lineSpacing()
    assert lines >= 2 and view.note.width() <= 230  # wrapped to the dock's width: all of it shown
    view.show_frame(dataclasses.replace(frame, kernel="nn"))
    assert view.note.isHidden()

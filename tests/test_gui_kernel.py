"""The kernel heatmap: it updates while its panel is visible (throttled) and not while it
is hidden, its rows are sorted by cluster with the boundaries drawn, its block structure
follows the clusters (moving one cluster changes only that cluster's blocks), and the
K x K toggle shows the block means."""

from __future__ import annotations

import time

import numpy as np
from gui_support import frame, open_window, wait_for

from gui import undo
from gui.kernel_view import block_means
from gui.worker import KERNEL_INTERVAL
from sim import load_preset
from sim.preset import save_preset, with_changes


def within_block_share(H: np.ndarray, labels: np.ndarray) -> float:
    """Share of H's variance left inside the cluster blocks (small: H is blockwise constant)."""
    ks = np.unique(labels)
    within = sum(
        ((H[np.ix_(labels == a, labels == b)] - H[np.ix_(labels == a, labels == b)].mean()) ** 2).sum()
        for a in ks
        for b in ks
    )
    return float(within / ((H - H.mean()) ** 2).sum())


def test_heatmap_updates_only_when_visible_and_follows_clusters(qtbot, tmp_path) -> None:
    # fig5-2d's data with a smooth network at its own start, where H is blockwise constant up to
    # O(eps) (Theorem 4.5; the shipped fitted start's kernel varies inside the clusters)
    smooth = with_changes(load_preset("fig5-2d"), {"network.init_gain": 1.0, "training.start": "network"})
    save_preset(smooth, tmp_path / "smooth.toml")
    window = open_window(qtbot, tmp_path, str(tmp_path / "smooth.toml"))
    kv = window.kernel_view
    assert kv.updates == 0
    window.kernel_dock.raise_()
    wait_for(qtbot, lambda: kv.updates >= 1)
    shown = kv.frame
    labels = shown.labels[shown.H_index]
    assert kv.shown.shape == (256, 256)
    assert np.all(np.diff(labels) >= 0)
    x, y = kv._lines[0].getData()  # 3 edges, across and down, each from 0 to 256: inside the matrix
    edges = list(np.cumsum([int((labels == k).sum()) for k in range(3)]))
    assert sorted(zip(x.tolist(), y.tolist())) == sorted(
        [(e, 0.0) for e in edges]
        + [(e, 256.0) for e in edges]
        + [(0.0, e) for e in edges]
        + [(256.0, e) for e in edges]
    )
    assert kv.levels == (float(shown.H.min()), float(shown.H.max()))
    assert within_block_share(shown.H, labels) < 0.05
    before = block_means(shown.H, labels)

    window.undo_stack.push(undo.move(window.send, 1, [-1.0, 0.0], [0.0, 3.0]))
    wait_for(qtbot, lambda: kv.frame is not shown and kv.frame.X[kv.frame.labels == 1][:, 1].mean() > 2.0)
    after = block_means(kv.frame.H, kv.frame.labels[kv.frame.H_index])
    untouched = [(a, b) for a in (0, 2, 3) for b in (0, 2, 3)]
    for a, b in untouched:
        assert abs(after[a, b] - before[a, b]) < 1e-3 * abs(before).max()
    assert abs(after[1, 1] - before[1, 1]) > 0.1 * abs(before[1, 1])

    kv.average.setChecked(True)
    assert kv.shown.shape == (4, 4)
    np.testing.assert_allclose(kv.shown, after, rtol=1e-5)


def test_heatmap_is_throttled_while_running_and_stops_when_hidden(qtbot, tmp_path) -> None:
    window = open_window(qtbot, tmp_path)
    kv = window.kernel_view
    window.kernel_dock.raise_()
    window.set_playing(True)
    wait_for(qtbot, lambda: kv.updates >= 1 and frame(window).step > 0)
    start = kv.updates
    wait_for(qtbot, lambda: kv.updates > start)
    first, t0 = kv.updates, time.perf_counter()  # just after an update
    wait_for(qtbot, lambda: kv.updates >= first + 8)
    # the frames that carry H start KERNEL_INTERVAL (0.25 s) apart: eight more take 2 s less
    # the first one's making (a margin of 0.75 s for a busy machine); unthrottled, they come
    # as fast as H is computed and drawn (8 a second here)
    assert time.perf_counter() - t0 >= 5 * KERNEL_INTERVAL
    assert kv.frame.step > 0
    window.table_dock.raise_()
    wait_for(qtbot, lambda: not window._kernel_wanted)
    qtbot.wait(300)
    frozen = kv.updates
    step = frame(window).step
    wait_for(qtbot, lambda: frame(window).step > step + 20)
    assert kv.updates == frozen


def test_large_n_heatmap_is_a_subsample_and_says_so(qtbot, tmp_path) -> None:
    window = open_window(qtbot, tmp_path, preset="imbalanced")
    kv = window.kernel_view
    window.kernel_dock.raise_()
    wait_for(qtbot, lambda: kv.updates >= 1)
    assert kv.shown.shape == (256, 256) and len(kv.frame.labels) == 368
    assert "subsample of 256 of the 368 samples" in kv.info.text()

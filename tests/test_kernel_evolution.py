"""Kernel evolution (sim/kernel_evolution.py) against an independent numpy computation, in
every frame and in the .npz, without changing the run."""

from __future__ import annotations

import numpy as np
import torch

from sim.driver import RunDriver
from sim.headless import record, run
from sim.kernel_evolution import EIGENVALUES, measures
from sim.preset import load_preset, with_changes


def numpy_measures(H: np.ndarray, H0: np.ndarray, labels: np.ndarray) -> dict[str, object]:
    """The same measures by other formulas: CKA as HSIC with an explicit centering matrix,
    the top-K share from the principal angles between the eigenspace and the indicators."""
    s = H.shape[0]
    C = np.eye(s) - np.ones((s, s)) / s
    Y = (labels[:, None] == labels[None, :]).astype(float)

    def hsic(A, B):
        return np.trace(A @ C @ B @ C)

    cka = hsic(H, Y) / np.sqrt(hsic(H, H) * hsic(Y, Y))
    values, vectors = np.linalg.eigh((H + H.T) / 2)
    classes = np.unique(labels)
    k = len(classes)
    Q, _ = np.linalg.qr(np.stack([(labels == c).astype(float) for c in classes], axis=1))
    cosines = np.linalg.svd(Q.T @ vectors[:, -k:], compute_uv=False)
    top = np.sort(values)[::-1][:EIGENVALUES]
    return {
        "distance": np.sqrt(((H - H0) ** 2).sum() / (H0**2).sum()),
        "alignment": cka,
        "eigenvalues": np.pad(top, (0, EIGENVALUES - len(top)), constant_values=np.nan),
        "top_share": (cosines**2).sum() / k,
    }


def test_measures_match_an_independent_numpy_computation() -> None:
    rng = np.random.default_rng(4)
    for s, k in ((5, 2), (40, 4), (97, 3)):
        labels = np.sort(rng.permutation(np.arange(s) % k))
        A, B = rng.normal(size=(s, s + 3)), rng.normal(size=(s, s + 3))
        H, H0 = A @ A.T, B @ B.T
        got = measures(torch.tensor(H), torch.tensor(H0), torch.tensor(labels))
        want = numpy_measures(H, H0, labels)
        for name, value in want.items():
            np.testing.assert_allclose(got[name], value, rtol=1e-9, atol=1e-12, err_msg=name)


def test_cluster_shaped_kernel_scores_one_and_unmoved_kernel_scores_zero() -> None:
    labels = torch.tensor([0, 0, 0, 1, 1, 2, 2, 2, 2])
    Y = (labels[:, None] == labels[None, :]).double() * 3.0
    got = measures(Y, Y, labels)
    assert got["distance"] == 0.0
    assert abs(got["alignment"] - 1.0) < 1e-12 and abs(got["top_share"] - 1.0) < 1e-12


def _small(**changes):
    preset = load_preset("fig5-2d")
    clusters = [{**c.model_dump(), "count": 12} for c in preset.data.clusters]
    return with_changes(preset, {"data.clusters": clusters, "device": "cpu", **changes})


def test_every_frame_carries_the_measures_of_its_heatmap_against_the_first() -> None:
    driver = RunDriver(_small())
    frames = [f for (f, *_), _ in driver.record(30, 10, with_kernel=True)]
    H0 = frames[0].H.astype(np.float64)
    for frame in frames:
        labels = frame.labels[frame.H_index]
        want = numpy_measures(frame.H.astype(np.float64), H0, labels)
        for name, value in want.items():
            np.testing.assert_allclose(frame.kernel_evolution[name], value, rtol=2e-5, atol=1e-6, err_msg=name)
    assert frames[0].kernel_evolution["distance"] == 0.0 and frames[-1].kernel_evolution["distance"] > 0.01


def test_npz_holds_the_measures_and_computing_them_leaves_the_run_unchanged() -> None:
    with_h = record(run(RunDriver(_small()), 30, 10))
    without = [f for (f, *_), _ in RunDriver(_small()).record(30, 10, block_ratio=False)]
    assert with_h["kernel_distance"].shape == (4,) and with_h["kernel_eigenvalues"].shape == (4, EIGENVALUES)
    for key in ("kernel_alignment", "kernel_top_share"):
        assert with_h[key].shape == (4,) and np.all(np.isfinite(with_h[key]))
    assert np.array_equal(with_h["Z"], np.stack([f.Z for f in without]))
    assert np.all(np.isnan(without[-1].kernel_evolution["eigenvalues"]))

"""Cluster-level dynamics (Theorem 4.5, Remark 4.4) against loops and the network itself."""

import numpy as np
import pytest
import torch

from sim import Simulation, load_preset
from sim.cluster_dynamics import block_means, cluster_flow, within_deviation
from sim.preset import with_changes


def test_block_means_match_loops():
    g = torch.Generator().manual_seed(0)
    H = torch.randn(7, 7, 2, 2, generator=g, dtype=torch.float64)
    labels = torch.tensor([0, 2, 1, 0, 2, 2, 0])
    means = block_means(H, labels, 3)
    for k in range(3):
        for m in range(3):
            rows, cols = (labels == k).nonzero().flatten(), (labels == m).nonzero().flatten()
            expected = sum(H[i, j] for i in rows for j in cols) / (len(rows) * len(cols))
            assert torch.allclose(means[k, m], expected)
    assert within_deviation(means[labels][:, labels], labels, 3) == pytest.approx(0.0, abs=1e-15)


@pytest.mark.parametrize("name", ["fig5-2d", "one-hidden-layer"])
def test_cluster_flow_predicts_the_networks_cluster_velocities(name):
    # Theorem 4.5's regime: a smooth network at its own start (fig5-2d ships hidden weights 6 x
    # torch's default fitted to a data-blind map)
    smooth = {"network.init_gain": 1.0, "training.start": "network"}
    flow = cluster_flow(Simulation(with_changes(load_preset(name), smooth)))
    err = np.linalg.norm(flow.predicted - flow.measured) / np.linalg.norm(flow.measured)
    assert err < 0.05, err


def test_within_cluster_deviation_is_order_eps():
    devs = []
    for eps in (0.05, 0.1, 0.2):
        p = with_changes(load_preset("fig5-2d"), {"network.init_gain": 1.0, "training.start": "network"})
        p = with_changes(p, {f"data.clusters[{k}].radius": eps for k in range(len(p.data.clusters))})
        devs.append(cluster_flow(Simulation(p)).deviation)
    assert devs[0] < 0.02
    assert devs[1] / devs[0] == pytest.approx(2, rel=0.25)
    assert devs[2] / devs[1] == pytest.approx(2, rel=0.25)


def test_remark_4_4_a_clusters_push_carries_its_share():
    sim = Simulation(load_preset("imbalanced"))
    flow = cluster_flow(sim)
    # independent of the module: per-point gradients of the loss as a function on the data
    per_point = (sim.n * sim.point_gradients()).numpy()
    labels = sim.labels.numpy()
    for k in range(sim.num_clusters):
        mean_field = per_point[labels == k].mean(0)
        np.testing.assert_allclose(flow.gradient[k], flow.share[k] * mean_field, rtol=1e-5, atol=1e-9)
    small = int(np.argmin(flow.share))
    assert flow.share[small] == pytest.approx(8 / 368)
    # its pull on the flow is scaled down by n_k / n: far below the big clusters'
    assert np.linalg.norm(flow.gradient[small]) < 0.2 * np.median(np.linalg.norm(flow.gradient, axis=1))


def capture_step(count: int, k: int = 3, steps: int = 500, every: int = 25) -> int:
    """First step at which cluster k's mean is more than 45 degrees from every other cluster's."""
    sim = Simulation(with_changes(load_preset("imbalanced"), {f"data.clusters[{k}].count": count}), device="cpu")
    while sim.step_count <= steps:
        if sim.frame(block_ratio=False).cluster_metrics["neighbour_angle"][k] > 45:
            return sim.step_count
        sim.step(every)
    return steps + every


def test_remark_4_4_the_small_cluster_is_captured_late():
    balanced = capture_step(120)
    small = capture_step(8)
    assert balanced <= 200
    assert small >= 2 * balanced


def counting_losses(sim: Simulation) -> list[int]:
    """A list that grows by one for every loss and gradient the simulation evaluates
    (Simulation._gradients, by the compiled calls or through torch)."""
    losses: list[int] = []
    gradients = sim._gradients

    def counted(views):
        losses.append(1)
        return gradients(views)

    sim._gradients = counted
    return losses


def test_the_flow_after_a_frame_reuses_its_loss_and_gradient_and_matches_a_fresh_one():
    sim = Simulation(load_preset("fig5-2d"))
    sim.step(3)
    fresh = sim.copy()
    losses = counting_losses(sim)
    sim.frame()
    assert len(losses) == 1
    flow = cluster_flow(sim)
    assert len(losses) == 1  # the flow's velocities and point gradients came with the frame
    expected = cluster_flow(fresh)
    for name in ("Hbar", "gradient", "predicted", "measured"):
        np.testing.assert_array_equal(getattr(flow, name), getattr(expected, name))


def test_velocities_are_computed_again_when_what_they_depend_on_changes():
    sim = Simulation(load_preset("fig5-2d"))
    losses = counting_losses(sim)
    _, before, _ = sim.velocities()
    sim.change({"training.lr": 0.1})  # the moves scale with the step size
    _, faster, _ = sim.velocities()
    torch.testing.assert_close(faster["nn"], 2 * before["nn"])
    sim.change({"loss.tau": 0.3})
    sim.velocities()
    sim.move_cluster(0, [-2.5, 0.0])
    sim.velocities()
    sim.step(1)
    sim.velocities()
    assert len(losses) == 5  # the step reused the last gradient: five losses in all

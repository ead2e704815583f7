"""Cluster edits on a running Simulation (add, remove, resize, recount): the samples, labels,
offsets Delta, optimisers and preset stay consistent, and the run steps on afterwards."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sim import PresetError, Simulation, load_preset
from sim.preset import with_changes


@pytest.fixture
def sim() -> Simulation:
    s = Simulation(load_preset("fig5-2d"), device="cpu")
    s.step(3)
    return s


def consistent(s: Simulation) -> None:
    """Every per-sample array has n rows, labels are sorted 0..K-1, the preset matches."""
    n = s.n
    assert s.delta.shape == (n, s.preset.network.latent_dim)
    assert s.labels.shape == (n,)
    assert s._views.shape[1] == n
    assert s.num_clusters == len(s.preset.data.clusters)
    counts = torch.bincount(s.labels, minlength=s.num_clusters).tolist()
    assert counts == [c.count for c in s.preset.data.clusters]
    assert torch.all(s.labels[1:] >= s.labels[:-1])
    assert s.delta_opt.param_groups[0]["params"][0] is s.delta
    assert s.delta.requires_grad


def test_add_cluster_appends_samples_in_its_ball_and_steps_on(sim: Simulation) -> None:
    k = sim.add_cluster([0.0, 2.0], 10, 0.25)
    assert k == 4
    consistent(sim)
    new = sim.X[sim.labels == 4].numpy()
    assert new.shape == (10, 2)
    assert np.all(np.linalg.norm(new - [0.0, 2.0], axis=1) <= 0.25 + 1e-6)
    sim.step(2)
    f = sim.frame()
    assert f.centers.shape == (5, 2) and np.all(np.isfinite(f.Z))


def test_add_cluster_copies_existing_offsets(sim: Simulation) -> None:
    with torch.no_grad():
        sim.delta.copy_(torch.randn_like(sim.delta))
    old = {tuple(r) for r in sim.delta.detach().numpy().round(6)}
    sim.add_cluster([0.0, 2.0], 8, 0.1)
    new = sim.delta.detach()[sim.labels == 4].numpy().round(6)
    assert all(tuple(r) in old for r in new)


def test_add_cluster_at_an_index_shifts_later_clusters(sim: Simulation) -> None:
    before = sim.X[sim.labels == 1].clone()
    sim.add_cluster([0.0, -2.0], 5, 0.1, index=1)
    consistent(sim)
    assert sim.preset.data.clusters[1].center == [0.0, -2.0]
    assert torch.equal(sim.X[sim.labels == 2], before)


def test_remove_cluster_relabels_and_keeps_other_samples(sim: Simulation) -> None:
    kept = sim.X[sim.labels == 2].clone()
    z_before = sim.embed()[sim.labels == 2].clone()
    sim.remove_cluster(1)
    consistent(sim)
    assert sim.num_clusters == 3
    assert torch.equal(sim.X[sim.labels == 1], kept)
    assert torch.allclose(sim.embed()[sim.labels == 1], z_before)
    sim.step(2)
    assert sim.frame().centers.shape == (3, 2)


def test_remove_last_cluster_is_refused() -> None:
    s = Simulation(load_preset("fig5-2d"), device="cpu")
    for _ in range(3):
        s.remove_cluster(0)
    with pytest.raises(PresetError):
        s.remove_cluster(0)


def test_set_count_grows_and_shrinks(sim: Simulation) -> None:
    sim.set_cluster_count(2, 100)
    consistent(sim)
    assert int((sim.labels == 2).sum()) == 100
    sim.set_cluster_count(2, 10)
    consistent(sim)
    assert int((sim.labels == 2).sum()) == 10
    sim.step(2)
    assert np.all(np.isfinite(sim.frame().Z))


def test_set_radius_scales_about_center(sim: Simulation) -> None:
    sim.set_cluster_radius(0, 0.6)
    consistent(sim)
    pts = sim.X[sim.labels == 0].numpy()
    dist = np.linalg.norm(pts - [-3.0, 0.0], axis=1)
    assert dist.max() <= 0.6 + 1e-5 and dist.max() > 0.45
    assert sim.preset.data.clusters[0].radius == 0.6


def test_bad_edits_are_refused(sim: Simulation) -> None:
    with pytest.raises(PresetError):
        sim.add_cluster([0.0], 5, 0.1)
    with pytest.raises(PresetError):
        sim.set_cluster_count(9, 5)
    with pytest.raises(PresetError):
        sim.set_cluster_radius(0, -1.0)
    consistent(sim)


def test_edits_then_move_keep_offsets_consistent(sim: Simulation) -> None:
    sim.add_cluster([0.0, 2.0], 10, 0.25)
    sim.set_cluster_count(0, 30)
    sim.set_cluster_radius(1, 0.1)
    sim.remove_cluster(2)
    sim.move_cluster(1, [5.0, 5.0])
    consistent(sim)
    pts = sim.X[sim.labels == 1].numpy()
    assert np.linalg.norm(pts - [5.0, 5.0], axis=1).max() <= 0.1 + 1e-5
    new = sim.X[sim.labels == 3].numpy()
    assert np.linalg.norm(new - [0.0, 2.0], axis=1).max() <= 0.25 + 1e-5


def test_a_copy_edited_alike_stays_identical(sim: Simulation) -> None:
    twin = sim.copy()
    for s in (sim, twin):
        s.set_cluster_radius(0, 0.6)
        s.add_cluster([0.0, 2.0], 5, 0.1)
    assert torch.equal(sim.X, twin.X)
    assert np.linalg.norm(sim.X[sim.labels == 0].numpy() - [-3.0, 0.0], axis=1).max() <= 0.6 + 1e-5


def test_data_without_editable_clusters_refuses_edits_with_one_line() -> None:
    sim = Simulation(with_changes(load_preset("digits"), {"data.per_class": 5}))
    for edit in (
        lambda: sim.move_cluster(0, [0.0] * 64),
        lambda: sim.add_cluster([0.0] * 64, 3, 0.1),
        lambda: sim.remove_cluster(0),
        lambda: sim.set_cluster_radius(0, 0.1),
    ):
        with pytest.raises(PresetError, match="cluster: ") as err:
            edit()
        assert "\n" not in str(err.value)
    assert sim.n == 25

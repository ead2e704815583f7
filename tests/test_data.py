"""Data and views against their defining laws: uniform in the ball (eq 16), on the curve,
noise orthogonal to the curve, rotations that keep norms, seeded reproducibility."""

import math

import numpy as np
import pytest
import torch
from preset_support import helix_clusters

from sim import Simulation, load_preset
from sim.preset import ViewsSpec, with_changes
from sim.starts import evenly_spaced
from sim.synthetic import Cluster, Curve, sample_clusters, sample_on_curve
from sim.views import make_views


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("d", [1, 2, 3, 7])
def test_clusters_are_uniform_in_their_ball(d):
    X, labels = sample_clusters([Cluster((1.0,) * d, 20000, 0.5), Cluster((-2.0,) * d, 10, 0.1)], gen(), torch.float64)
    assert X.shape == (20010, d) and labels.tolist().count(1) == 10
    r = (X[labels == 0] - 1.0).norm(dim=1) / 0.5
    assert float(r.max()) <= 1.0
    # uniform in the ball: P(r <= t) = t^d
    for t in (0.5, 0.8, 0.95):
        assert float((r <= t).double().mean()) == pytest.approx(t**d, abs=0.015)
    # and isotropic: the mean direction is near zero
    assert float(((X[labels == 0] - 1.0) / r[:, None]).mean(0).norm()) < 0.05


def test_same_seed_same_data():
    a, _ = sample_clusters([Cluster((0.0, 0.0), 50, 1.0)], gen(4), torch.float64)
    b, _ = sample_clusters([Cluster((0.0, 0.0), 50, 1.0)], gen(4), torch.float64)
    c, _ = sample_clusters([Cluster((0.0, 0.0), 50, 1.0)], gen(5), torch.float64)
    assert torch.equal(a, b) and not torch.equal(a, c)


@pytest.mark.parametrize("kind,dim", [("circle", 2), ("circle", 5), ("helix", 3)])
def test_curve_samples_lie_on_the_curve_and_orthogonal_noise_is_orthogonal(kind, dim):
    curve = Curve(kind, dim, radius=2.0, pitch=0.3)
    X, labels, t = sample_on_curve(curve, [Cluster((0.5,), 100, 0.2), Cluster((2.0,), 50, 0.1)], gen(), torch.float64)
    assert torch.allclose(X[:, 0], 2.0 * torch.cos(t)) and torch.allclose(X[:, 1], 2.0 * torch.sin(t))
    assert float((t[labels == 0] - 0.5).abs().max()) <= 0.2
    tangents = curve.tangent(t)
    # tangent is the normalised derivative of the curve, checked by finite differences
    h = 1e-6
    fd = (curve.point(t + h) - curve.point(t - h)) / (2 * h)
    assert torch.allclose(tangents, fd / fd.norm(dim=1, keepdim=True), atol=1e-6)
    views = make_views(X, ViewsSpec(count=3, noise=0.0, orthogonal_noise=0.1), gen(1), tangents)
    offsets = views - X
    assert float((offsets * tangents).sum(-1).abs().max()) < 1e-12
    assert float(offsets.norm(dim=-1).mean()) > 0.05


def test_gaussian_views_have_the_asked_spread():
    X = torch.zeros(20000, 3, dtype=torch.float64)
    views = make_views(X, ViewsSpec(count=2, noise=0.3), gen(), None)
    assert views.shape == (2, 20000, 3)
    assert float(views.std()) == pytest.approx(0.3, rel=0.02)
    assert not torch.equal(views[0], views[1])


def test_rotation_views_keep_norms_and_turn_by_at_most_the_angle():
    X = torch.randn(5000, 4, generator=gen(2), dtype=torch.float64)
    views = make_views(X, ViewsSpec(count=2, noise=0.0, rotation=0.3), gen(3), None)
    assert torch.allclose(views.norm(dim=-1), X.norm(dim=-1).expand(2, -1))
    cos = (views * X).sum(-1) / X.norm(dim=-1) ** 2
    angles = torch.arccos(cos.clamp(-1, 1))
    assert float(angles.max()) <= 0.3 + 1e-9 and float(angles.max()) > 0.25


def test_scale_views_scale_within_the_range():
    X = torch.randn(5000, 2, generator=gen(2), dtype=torch.float64)
    views = make_views(X, ViewsSpec(count=2, noise=0.0, scale=0.2), gen(3), None)
    ratio = views.norm(dim=-1) / X.norm(dim=-1)
    assert float(ratio.min()) >= 0.8 - 1e-12 and float(ratio.max()) <= 1.2 + 1e-12
    assert float(ratio.min()) < 0.82 and float(ratio.max()) > 1.18


@pytest.mark.parametrize("m", [2, 3])
def test_evenly_spaced_points(m):
    z = evenly_spaced(400, m, gen(), torch.float64)
    assert torch.allclose(z.norm(dim=1), torch.ones(400, dtype=torch.float64))
    assert float(z.mean(0).norm()) < 1e-3
    if m == 2:
        gaps = np.diff(np.sort(torch.atan2(z[:, 1], z[:, 0]).numpy()))
        assert np.allclose(gaps, 2 * math.pi / 400)


def test_manifold_preset_runs_with_orthogonal_views():
    sim = Simulation(with_changes(load_preset("fig5-2d"), helix_clusters(30)))
    sim.step(3)
    assert sim.frame().X.shape == (90, 3)

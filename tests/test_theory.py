"""Theory (paper section 3) against closed forms and Theorem 3.2."""

import itertools
import math

import numpy as np
import pytest
import torch

from sim.theory import (
    circle_loss,
    circle_points,
    linear_fit,
    measure_loss,
    min_squared_distance,
    sphere_sets,
    tangential_gradient,
    threshold,
    uniform_circle_loss,
)


@pytest.mark.parametrize("tau", [0.1, 0.5, 2.0])
def test_two_and_infinitely_many_points_closed_forms(tau):
    assert circle_loss(2, tau) == pytest.approx(math.log((1 + math.exp(-2 / tau)) / 2), rel=1e-12)
    # uniform law on S^1: log( e^(-1/tau) I_0(1/tau) )
    assert uniform_circle_loss(tau) == pytest.approx(math.log(math.exp(-1 / tau) * np.i0(1 / tau)), rel=1e-9)


def test_loss_decreases_with_k_and_levels_off():
    losses = [circle_loss(k, 0.3) for k in range(1, 40)]
    assert losses[0] == 0.0  # one point: all mass collapsed
    assert all(b <= a + 1e-15 for a, b in itertools.pairwise(losses))
    assert losses[-1] - uniform_circle_loss(0.3) < 1e-9


@pytest.mark.parametrize("k", [2, 3, 5, 12, 101])
def test_theorem_3_2_evenly_spaced_circle_points_are_stationary(k):
    g = tangential_gradient(circle_points(k), 0.5)
    assert float(g.abs().max()) < 1e-13
    assert min_squared_distance(circle_points(k)) == pytest.approx(2 - 2 * math.cos(2 * math.pi / k), rel=1e-9)


def test_theorem_3_2_platonic_sets_are_stationary_and_a_perturbed_set_is_not():
    for name, z in sphere_sets().items():
        assert float(tangential_gradient(z, 0.4).abs().max()) < 1e-13, name
    z = sphere_sets()["cube"].clone()
    z[0] = z[0] + torch.tensor([0.1, 0.0, 0.0], dtype=torch.float64)
    z[0] = z[0] / z[0].norm()
    assert float(tangential_gradient(z, 0.4).abs().max()) > 1e-3


def test_measure_loss_matches_loops():
    z = sphere_sets()["octahedron"]
    tau = 0.7
    expected = np.mean([math.log(np.mean([math.exp((float(a @ b) - 1) / tau) for b in z])) for a in z])
    assert float(measure_loss(z, tau)) == pytest.approx(expected, rel=1e-12)


def test_threshold_grows_with_tau_close_to_linearly():
    taus = np.linspace(0.05, 0.5, 10)
    d2 = np.array([threshold(t).d2 for t in taus])
    assert np.all(np.diff(d2) > 0)
    slope, _, r2 = linear_fit(taus, d2)
    assert slope > 0 and r2 > 0.95
    # the threshold sits between the two bracketing K's squared distances
    t = threshold(0.2)
    k = math.floor(t.k)
    assert 2 - 2 * math.cos(2 * math.pi / (k + 1)) <= t.d2 <= 2 - 2 * math.cos(2 * math.pi / k)


def test_linear_fit_recovers_a_line():
    x = np.linspace(0, 1, 7)
    assert linear_fit(x, 3 * x - 1) == pytest.approx((3.0, -1.0, 1.0))

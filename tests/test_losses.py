"""Losses against loop-by-loop references written here and against closed forms."""

import math

import pytest
import torch

from sim.losses import generalized_loss, nt_xent, views_nt_xent


def unit(n, m, seed):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, m, generator=g, dtype=torch.float64)
    return z / z.norm(dim=1, keepdim=True)


def nt_xent_loops(za, zb, tau):
    rows = list(za) + list(zb)
    n = len(za)
    total = 0.0
    for a in range(2 * n):
        pos = (a + n) % (2 * n)
        s = [float(rows[a] @ rows[b]) / tau for b in range(2 * n)]
        denom = sum(math.exp(s[b]) for b in range(2 * n) if b != a)
        total += -s[pos] + math.log(denom)
    return total / (2 * n)


@pytest.mark.parametrize("n,m,tau", [(5, 2, 0.5), (9, 3, 0.1), (16, 3, 1.0)])
def test_nt_xent_matches_loops(n, m, tau):
    za, zb = unit(n, m, 1), unit(n, m, 2)
    assert float(nt_xent(za, zb, tau)) == pytest.approx(nt_xent_loops(za, zb, tau), rel=1e-12)


@pytest.mark.parametrize("n", [1, 7, 100])
def test_nt_xent_all_equal_is_log_2n_minus_1(n):
    z = torch.zeros(n, 2, dtype=torch.float64)
    z[:, 0] = 1
    assert float(nt_xent(z, z, 0.3)) == pytest.approx(math.log(2 * n - 1), rel=1e-12)


def test_more_views_average_positives():
    V, n, m, tau = 3, 6, 3, 0.4
    Z = torch.stack([unit(n, m, s) for s in range(V)])
    rows = Z.reshape(V * n, m)
    total = 0.0
    for a in range(V * n):
        pos = [b for b in range(V * n) if b != a and b % n == a % n]
        s = [float(rows[a] @ rows[b]) / tau for b in range(V * n)]
        total += -sum(s[b] for b in pos) / len(pos) + math.log(sum(math.exp(s[b]) for b in range(V * n) if b != a))
    assert float(views_nt_xent(Z, tau)) == pytest.approx(total / (V * n), rel=1e-12)


@pytest.mark.parametrize("psi", ["log", "linear"])
def test_generalized_matches_loops(psi):
    n, m, tau = 6, 3, 0.5
    Z = torch.stack([unit(n, m, 3), unit(n, m, 4)])
    rows = Z.reshape(2 * n, m)

    def s(u, v):
        return math.exp(-float(((u - v) ** 2).sum()) / (2 * tau))

    attraction = sum(-math.log(s(rows[a], rows[(a + n) % (2 * n)])) for a in range(2 * n)) / (2 * n)
    inner = [sum(s(rows[a], rows[b]) for b in range(2 * n)) / (2 * n) for a in range(2 * n)]
    outer = sum(math.log(v) if psi == "log" else v for v in inner) / (2 * n)
    assert float(generalized_loss(Z, tau, psi)) == pytest.approx(attraction + outer, rel=1e-12)


def test_generalized_log_is_nt_xent_shape_on_sphere():
    # On the sphere with psi = log, both losses have the same gradient in the attraction term and
    # differ in repulsion only by the self/positive terms; at a configuration where every view pair
    # coincides, both reduce to constants plus the same log-sum-exp over distinct points.
    n, tau = 8, 0.5
    z = unit(n, 2, 5)
    Z = torch.stack([z, z])
    # generalized: 0 attraction + mean log( (2/2n) sum_j exp((z_i.z_j - 1)/tau) )
    expected = float(torch.logsumexp((z @ z.T - 1) / tau, dim=1).mean()) - math.log(n)
    assert float(generalized_loss(Z, tau)) == pytest.approx(expected, rel=1e-12)

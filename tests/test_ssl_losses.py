"""VICReg and BYOL (paper Appendix A.1) against loop references, and BYOL's moving-average
target and stop-gradient inside a run."""

import math

import numpy as np
import pytest
import torch

from sim import Simulation, load_preset
from sim.preset import with_changes
from sim.ssl_losses import byol_loss, vicreg_loss


def unit(V, n, m, seed):
    z = torch.randn(V, n, m, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return z / z.norm(dim=-1, keepdim=True)


def test_vicreg_matches_loops():
    V, n, m = 2, 9, 3
    Z = unit(V, n, m, 0)
    lam, mu, nu = 25.0, 20.0, 3.0
    zs = Z.numpy()
    inv = np.mean([np.sum((zs[0, i] - zs[1, i]) ** 2) for i in range(n)])
    var_term, cov_term = 0.0, 0.0
    for v in range(V):
        for j in range(m):
            col = zs[v, :, j]
            std = math.sqrt(np.var(col, ddof=1) + 1e-4)
            var_term += max(0.0, 1 / math.sqrt(m) - std) / m
        c = np.cov(zs[v].T)
        cov_term += sum(c[j, k] ** 2 for j in range(m) for k in range(m) if j != k) / m
    expected = lam * inv + mu * var_term + nu * cov_term
    assert float(vicreg_loss(Z, lam, mu, nu)) == pytest.approx(expected, rel=1e-10)


def test_byol_loss_is_two_minus_two_cosine():
    P, T = unit(3, 5, 2, 1), unit(3, 5, 2, 2)
    cos = [float((P[a] * T[b]).sum(-1).mean()) for a in range(3) for b in range(3) if a != b]
    assert float(byol_loss(P, T)) == pytest.approx(2 - 2 * np.mean(cos), rel=1e-12)
    T.requires_grad_(True)
    byol_loss(P.requires_grad_(True), T).backward()
    assert T.grad is None  # stop-gradient on the target


@pytest.mark.parametrize("kind", ["vicreg", "byol"])
@pytest.mark.parametrize("kernel", ["nn", "identity"])
def test_runs_with_either_kernel_and_lowers_the_loss(kind, kernel):
    p = with_changes(load_preset("fig5-2d"), {"loss.kind": kind, "training.kernel": kernel})
    sim = Simulation(p)
    first = sim.frame().loss
    sim.step(60)
    frame = sim.frame()
    assert np.isfinite(frame.loss) and frame.loss < first
    assert set(frame.velocity) >= {"nn", "identity"}


def test_byol_target_is_a_moving_average_of_the_online_network():
    p = with_changes(load_preset("fig5-2d"), {"loss.kind": "byol", "loss.byol_ema": 0.9})
    sim = Simulation(p)
    sim.step(3)
    target_before = [t.clone() for t in sim.head.target.parameters()]
    sim.step()
    for before, t, o in zip(target_before, sim.head.target.parameters(), sim.model.parameters()):
        torch.testing.assert_close(t, 0.9 * before + 0.1 * o.detach())
    # the copy carries its own predictor and target
    other = sim.copy()
    other.step()
    assert not torch.equal(next(other.head.target.parameters()), next(sim.head.target.parameters()))

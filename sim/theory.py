"""Paper section 3 (Theorem 3.2, Figure 3): the loss of data-blind, symmetric embeddings.

For an invariant map the attraction term is constant and the NT-Xent population loss of an
embedded measure rho = (1/K) sum delta_{z_k} is
    L(rho) = mean_i log mean_j exp((z_i . z_j - 1) / tau).
This module evaluates it for K points evenly spaced on S^1 and for symmetric sets on S^2 (the
Platonic solids), the tangential gradient at those sets (Theorem 3.2: zero), and the
threshold of the minimum squared distance below which adding points no longer lowers the
loss, as a function of tau, with a linear fit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from sim.files import atomic_write_text

THRESHOLD_TOLERANCE = 1e-3


def circle_points(k: int) -> torch.Tensor:
    """k points evenly spaced on S^1, float64."""
    angle = 2 * math.pi * torch.arange(k, dtype=torch.float64) / k
    return torch.stack([torch.cos(angle), torch.sin(angle)], dim=1)


def _normalise(points: list[list[float]]) -> torch.Tensor:
    p = torch.tensor(points, dtype=torch.float64)
    return p / p.norm(dim=1, keepdim=True)


def sphere_sets() -> dict[str, torch.Tensor]:
    """Symmetric sets on S^2: the vertices of the five Platonic solids, plus two antipodal points."""
    phi = (1 + math.sqrt(5)) / 2
    signs = [-1.0, 1.0]
    cube = [[a, b, c] for a in signs for b in signs for c in signs]
    icosa = [p for a in signs for b in signs for p in ([0, a, b * phi], [a, b * phi, 0], [b * phi, 0, a])]
    dodeca = cube + [
        p for a in signs for b in signs for p in ([0, a / phi, b * phi], [a / phi, b * phi, 0], [b * phi, 0, a / phi])
    ]
    return {
        "antipodal pair": _normalise([[0, 0, 1], [0, 0, -1]]),
        "tetrahedron": _normalise([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]]),
        "octahedron": _normalise([[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]]),
        "cube": _normalise(cube),
        "icosahedron": _normalise(icosa),
        "dodecahedron": _normalise(dodeca),
    }


def measure_loss(z: torch.Tensor, tau: float) -> torch.Tensor:
    """mean_i log mean_j exp((z_i . z_j - 1) / tau) for unit rows z (equal weights)."""
    logits = (z @ z.T - 1) / tau
    return (torch.logsumexp(logits, dim=1) - math.log(z.shape[0])).mean()


def tangential_gradient(z: torch.Tensor, tau: float) -> torch.Tensor:
    """(K, m) gradient of the measure loss, per unit mass of each point, projected tangent to
    the sphere: Theorem 3.2 says it vanishes at symmetric sets."""
    z = z.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(measure_loss(z, tau), [z])
    g = g * z.shape[0]
    z = z.detach()
    return g - (g * z).sum(1, keepdim=True) * z


def min_squared_distance(z: torch.Tensor) -> float:
    d = torch.cdist(z, z).pow(2)
    d.fill_diagonal_(float("inf"))
    return float(d.min())


def circle_loss(k: int, tau: float) -> float:
    """Loss of k evenly spaced points on S^1; every point sees the same row, so one row of
    angles 2 pi j / k gives it in O(k)."""
    logits = (np.cos(2 * np.pi * np.arange(k) / k) - 1) / tau
    top = logits.max()
    return float(top + np.log(np.mean(np.exp(logits - top))))


def uniform_circle_loss(tau: float) -> float:
    """The loss of the uniform law on S^1 (the K -> infinity limit), log(e^(-1/tau) I_0(1/tau)),
    with I_0 summed as its power series in float64 (no overflow: terms are scaled by e^(-1/tau))."""
    x = 1.0 / tau
    j = np.arange(0, int(4 * x) + 60)
    log_terms = 2 * j * np.log(x / 2) - 2 * np.array([math.lgamma(v + 1) for v in j]) - x
    top = log_terms.max()
    return float(top + np.log(np.exp(log_terms - top).sum()))


@dataclass
class Threshold:
    tau: float
    k: float
    d2: float


def threshold(tau: float, k_max: int = 400, tolerance: float = THRESHOLD_TOLERANCE) -> Threshold:
    """The minimum squared distance at which the loss of K evenly spaced points has come within
    `tolerance` (relative to the K = 2 gap) of the uniform law's, interpolated between the two
    K that bracket it (linear in d^2, log-linear in the gap)."""
    plateau = uniform_circle_loss(tau)
    ks = np.arange(2, k_max + 1)
    gaps = np.array([circle_loss(int(k), tau) - plateau for k in ks])
    target = tolerance * gaps[0]
    below = np.nonzero(gaps <= target)[0]
    if below.size == 0 or below[0] == 0:
        raise ValueError(f"tau: expected a temperature whose plateau is reached for 2 < K <= {k_max}, got {tau}")
    i = int(below[0])
    d2 = 2 - 2 * np.cos(2 * np.pi / ks)
    lo, hi = np.log(max(gaps[i - 1], 1e-300)), np.log(max(gaps[i], 1e-300))
    f = (np.log(target) - lo) / (hi - lo) if hi != lo else 1.0
    return Threshold(tau, float(ks[i - 1] + f), float(d2[i - 1] + f * (d2[i] - d2[i - 1])))


def linear_fit(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """Least-squares y = slope x + intercept; returns (slope, intercept, R^2)."""
    slope, intercept = np.polyfit(x, y, 1)
    residual = y - (slope * x + intercept)
    r2 = 1 - float((residual**2).sum() / ((y - y.mean()) ** 2).sum())
    return float(slope), float(intercept), r2


CURVE_TAUS = (0.1, 0.2, 0.5, 1.0)
THRESHOLD_TAUS = tuple(float(t) for t in np.round(np.linspace(0.05, 0.5, 10), 3))
K_MAX = 40


def figure3_tables(
    curve_taus: tuple[float, ...] = CURVE_TAUS, threshold_taus: tuple[float, ...] = THRESHOLD_TAUS, k_max: int = K_MAX
) -> dict[str, list[dict[str, float | str]]]:
    """The rows behind Figure 3 and the Theorem 3.2 check, as plain tables:
    loss_vs_k (tau, K, min squared distance, loss, largest tangential gradient),
    threshold_vs_tau (tau, threshold d^2, K at the threshold, the linear fit's value),
    threshold_fit (slope, intercept, R^2), sphere_sets (Platonic sets on S^2)."""
    loss_vs_k = []
    for tau in curve_taus:
        for k in range(2, k_max + 1):
            z = circle_points(k)
            loss_vs_k.append(
                {
                    "tau": tau,
                    "K": k,
                    "min_sq_distance": min_squared_distance(z),
                    "loss": float(measure_loss(z, tau)),
                    "tangential_gradient_max": float(tangential_gradient(z, tau).abs().max()),
                }
            )
    found = [threshold(t) for t in threshold_taus]
    x = np.array([t.tau for t in found])
    y = np.array([t.d2 for t in found])
    slope, intercept, r2 = linear_fit(x, y)
    thresholds = [
        {"tau": t.tau, "threshold_d2": t.d2, "threshold_K": t.k, "fit_d2": slope * t.tau + intercept} for t in found
    ]
    sets = []
    for tau in curve_taus:
        for name, z in sphere_sets().items():
            sets.append(
                {
                    "set": name,
                    "K": z.shape[0],
                    "tau": tau,
                    "min_sq_distance": min_squared_distance(z),
                    "loss": float(measure_loss(z, tau)),
                    "tangential_gradient_max": float(tangential_gradient(z, tau).abs().max()),
                }
            )
    return {
        "loss_vs_k": loss_vs_k,
        "threshold_vs_tau": thresholds,
        "threshold_fit": [{"slope": slope, "intercept": intercept, "r2": r2}],
        "sphere_sets": sets,
    }


def write_csv(rows: list[dict[str, float | str]], path: Path) -> None:
    """One table as CSV (header from the first row's keys), written atomically."""
    lines = [",".join(rows[0])] + [",".join(str(v) for v in row.values()) for row in rows]
    atomic_write_text(path, "\n".join(lines) + "\n")

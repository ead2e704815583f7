"""The frame metrics against plain float64 loops written here (scikit-learn's definition of
the silhouette; Wang & Isola's uniformity), in float32 as a run computes them, also on
clusters so tight that a distance through |a|^2 + |b|^2 - 2 a.b loses them."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from sim.metrics import silhouette, uniformity


def points(spread: float, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """256 points on the circle in 4 clusters 90 degrees apart, angles jittered by `spread`."""
    g = np.random.default_rng(seed)
    labels = np.repeat(np.arange(4), 64)
    angle = labels * math.pi / 2 + spread * g.standard_normal(256)
    return torch.tensor(np.stack([np.cos(angle), np.sin(angle)], 1)), torch.tensor(labels)


def reference_silhouette(z: np.ndarray, labels: np.ndarray) -> float:
    values = []
    for i in range(len(z)):
        d = np.sqrt(((z - z[i]) ** 2).sum(1))
        own = labels == labels[i]
        a = d[own].sum() / (own.sum() - 1)
        b = min(d[labels == k].mean() for k in set(labels.tolist()) - {labels[i]})
        values.append((b - a) / max(a, b))
    return float(np.mean(values))


def reference_uniformity(z: np.ndarray) -> float:
    n = len(z)
    terms = [math.exp(-2 * float(((z[i] - z[j]) ** 2).sum())) for i in range(n) for j in range(n) if i != j]
    return math.log(sum(terms) / len(terms))


@pytest.mark.parametrize("spread", [1e-4, 1e-3, 0.3, 2.0])
def test_silhouette_and_uniformity_in_float32_match_float64_loops(spread: float) -> None:
    z, labels = points(spread)
    want_s = reference_silhouette(z.numpy(), labels.numpy())
    z32 = z.float()
    assert silhouette(z32, labels) == pytest.approx(want_s, abs=2e-6)
    assert uniformity(z32) == pytest.approx(reference_uniformity(z32.double().numpy()), abs=2e-6)

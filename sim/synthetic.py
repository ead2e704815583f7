"""Clean synthetic data (SPEC section 1): clusters of samples uniform in balls (paper eq 16)
and clusters along a curve (a circle or a helix, paper section 4.2).

Everything here is seeded through an explicit torch.Generator and is device-agnostic:
tensors come out on the generator's device in the asked dtype.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Cluster:
    """One clean cluster: `count` samples uniform in the ball of `radius` about `center`.
    On a curve, `center` holds the curve parameter in its first entry."""

    center: tuple[float, ...]
    count: int
    radius: float


def uniform_ball(n: int, dim: int, generator: torch.Generator, dtype: torch.dtype) -> torch.Tensor:
    """n points uniform in the unit ball of R^dim: direction uniform, radius U^(1/dim)."""
    device = generator.device
    u = torch.randn(n, dim, generator=generator, device=device, dtype=dtype)
    u = u / u.norm(dim=1, keepdim=True).clamp_min(1e-12)
    r = torch.rand(n, 1, generator=generator, device=device, dtype=dtype) ** (1.0 / dim)
    return u * r


def cluster_offsets(
    clusters: list[Cluster], generator: torch.Generator, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor]:
    """Each sample's offset from its cluster's center, eps_k * (point uniform in the unit ball),
    and the labels. Offsets do not depend on the centers, so moving a center moves its samples
    exactly as regenerating them at the new center would."""
    device = generator.device
    parts, labels = [], []
    for k, cluster in enumerate(clusters):
        ball = uniform_ball(cluster.count, len(cluster.center), generator, dtype)
        parts.append(cluster.radius * ball)
        labels.append(torch.full((cluster.count,), k, device=device, dtype=torch.long))
    return torch.cat(parts), torch.cat(labels)


def centers_of(clusters: list[Cluster], labels: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """(n, d): each sample's cluster center."""
    centers = torch.tensor([c.center for c in clusters], device=labels.device, dtype=dtype)
    return centers[labels]


def sample_clusters(
    clusters: list[Cluster], generator: torch.Generator, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor]:
    """Samples x = c_k + eps_k * (point uniform in the unit ball); returns X (n, d), labels (n)."""
    offsets, labels = cluster_offsets(clusters, generator, dtype)
    return centers_of(clusters, labels, dtype) + offsets, labels


class Curve:
    """A curve in R^dim: `circle` (in the first two coordinates) or `helix` (dim >= 3,
    rising `pitch` per radian along the third). Gives points and unit tangents at parameters t."""

    def __init__(self, kind: str, dim: int, radius: float = 1.0, pitch: float = 0.0):
        self.kind, self.dim, self.radius, self.pitch = kind, dim, radius, pitch

    def point(self, t: torch.Tensor) -> torch.Tensor:
        p = torch.zeros(t.shape[0], self.dim, device=t.device, dtype=t.dtype)
        p[:, 0] = self.radius * torch.cos(t)
        p[:, 1] = self.radius * torch.sin(t)
        if self.kind == "helix":
            p[:, 2] = self.pitch * t
        return p

    def tangent(self, t: torch.Tensor) -> torch.Tensor:
        v = torch.zeros(t.shape[0], self.dim, device=t.device, dtype=t.dtype)
        v[:, 0] = -self.radius * torch.sin(t)
        v[:, 1] = self.radius * torch.cos(t)
        if self.kind == "helix":
            v[:, 2] = self.pitch
        return v / v.norm(dim=1, keepdim=True)


def sample_on_curve(
    curve: Curve, clusters: list[Cluster], generator: torch.Generator, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Cluster k spreads along the curve over parameters t_k +- radius_k (t_k = center[0]).
    Returns X (n, d) on the curve, labels (n) and the curve parameters t (n)."""
    device = generator.device
    ts, labels = [], []
    for k, cluster in enumerate(clusters):
        u = 2.0 * torch.rand(cluster.count, generator=generator, device=device, dtype=dtype) - 1.0
        ts.append(cluster.center[0] + cluster.radius * u)
        labels.append(torch.full((cluster.count,), k, device=device, dtype=torch.long))
    t = torch.cat(ts)
    return curve.point(t), torch.cat(labels), t

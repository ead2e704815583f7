"""Clean data and its views: clusters in a ball (paper eq 16), clusters on a curve
(paper section 4.2), and the augmentations that make a sample's views.

Everything here is seeded through an explicit torch.Generator and is device-agnostic:
tensors come out on the generator's device in the asked dtype.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from sim.preset import ViewsSpec


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


def shift_images(x: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """Each row of x is a square image (d = s * s pixels); move it by a random whole number
    of pixels in +-max_shift along each axis, filling the uncovered border with 0."""
    n, d = x.shape
    side = round(d**0.5)
    if side * side != d:
        raise ValueError(f"views.shift: expected square images (d = s * s), got d = {d}")
    images = x.reshape(n, side, side)
    pad = torch.nn.functional.pad(images, (max_shift,) * 4)
    dy, dx = torch.randint(0, 2 * max_shift + 1, (2, n), generator=generator, device=x.device)
    rows = dy[:, None] + torch.arange(side, device=x.device)[None, :]
    cols = dx[:, None] + torch.arange(side, device=x.device)[None, :]
    out = pad[torch.arange(n, device=x.device)[:, None, None], rows[:, :, None], cols[:, None, :]]
    return out.reshape(n, d)


def _rotate(x: torch.Tensor, max_angle: float, generator: torch.Generator) -> torch.Tensor:
    n, d = x.shape
    device, dtype = x.device, x.dtype
    a = torch.randn(n, d, generator=generator, device=device, dtype=dtype)
    a = a / a.norm(dim=1, keepdim=True).clamp_min(1e-12)
    b = torch.randn(n, d, generator=generator, device=device, dtype=dtype)
    b = b - (b * a).sum(1, keepdim=True) * a
    b = b / b.norm(dim=1, keepdim=True).clamp_min(1e-12)
    angle = (2.0 * torch.rand(n, 1, generator=generator, device=device, dtype=dtype) - 1.0) * max_angle
    xa, xb = (x * a).sum(1, keepdim=True), (x * b).sum(1, keepdim=True)
    cos, sin = torch.cos(angle), torch.sin(angle)
    return x + (cos - 1.0) * (xa * a + xb * b) + sin * (xa * b - xb * a)


def make_views(
    X: torch.Tensor,
    spec: ViewsSpec,
    generator: torch.Generator,
    tangents: torch.Tensor | None = None,
) -> torch.Tensor:
    """Fresh views of every sample: (V, n, d), each x' = (1 + s) R shift(x) + noise, with
    shift moving square images by whole pixels in +-spec.shift, s uniform in +-spec.scale, R a
    rotation by an angle uniform in +-spec.rotation (radians) in a random 2-plane, noise
    Gaussian of std spec.noise plus Gaussian of std spec.orthogonal_noise normal to the data
    curve. `tangents` (n, d) are the curve's unit tangents at the samples (None: no curve)."""
    views = []
    for _ in range(spec.count):
        x = X
        if spec.shift > 0:
            x = shift_images(x, spec.shift, generator)
        if spec.rotation > 0:
            x = _rotate(x, spec.rotation, generator)
        if spec.scale > 0:
            s = 2.0 * torch.rand(X.shape[0], 1, generator=generator, device=X.device, dtype=X.dtype) - 1.0
            x = x * (1.0 + spec.scale * s)
        if spec.noise > 0:
            x = x + spec.noise * torch.randn(x.shape, generator=generator, device=X.device, dtype=X.dtype)
        if spec.orthogonal_noise > 0 and tangents is not None:
            xi = torch.randn(x.shape, generator=generator, device=X.device, dtype=X.dtype)
            xi = xi - (xi * tangents).sum(1, keepdim=True) * tangents
            x = x + spec.orthogonal_noise * xi
        views.append(x)
    return torch.stack(views)


def evenly_spaced(n: int, m: int, generator: torch.Generator, dtype: torch.dtype) -> torch.Tensor:
    """n points spread evenly over S^(m-1): equal angles on the circle (exactly symmetric),
    a Fibonacci lattice on the sphere; randomly rotated and randomly assigned to samples."""
    device = generator.device
    order = torch.randperm(n, generator=generator, device=device)
    if m == 2:
        phase = float(torch.rand(1, generator=generator, device=device)) * 2 * math.pi
        angle = phase + 2 * math.pi * torch.arange(n, device=device, dtype=dtype) / n
        points = torch.stack([torch.cos(angle), torch.sin(angle)], dim=1)
    else:
        i = torch.arange(n, device=device, dtype=dtype) + 0.5
        zc = 1.0 - 2.0 * i / n
        golden = math.pi * (3.0 - math.sqrt(5.0))
        r = torch.sqrt((1.0 - zc * zc).clamp_min(0))
        points = torch.stack([r * torch.cos(golden * i), r * torch.sin(golden * i), zc], dim=1)
        q, _ = torch.linalg.qr(torch.randn(3, 3, generator=generator, device=device, dtype=dtype))
        points = points @ q
    return points[order]


def random_cap(n: int, m: int, width: float, generator: torch.Generator, dtype: torch.dtype) -> torch.Tensor:
    """n points in a random clump on S^(m-1): a random direction plus Gaussian spread `width`,
    projected; unrelated to the data."""
    device = generator.device
    pole = torch.randn(m, generator=generator, device=device, dtype=dtype)
    pole = pole / pole.norm()
    z = pole + width * torch.randn(n, m, generator=generator, device=device, dtype=dtype)
    return z / z.norm(dim=1, keepdim=True)

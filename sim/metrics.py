"""The quantities every frame carries (SPEC section 6), as plain torch functions of the
embedding: alignment, uniformity, silhouette, per-cluster resultant length, angles between
neighbouring cluster means, invariance error and the kernel block ratio.

Pairwise quantities run on at most `max_points` samples (an evenly strided subsample) so a
frame stays cheap at any n.
"""

from __future__ import annotations

import math

import torch


def subsample(n: int, max_points: int, device: torch.device) -> torch.Tensor:
    """Indices of at most max_points samples, evenly strided over 0..n-1."""
    if n <= max_points:
        return torch.arange(n, device=device)
    return torch.linspace(0, n - 1, max_points, device=device).round().long()


def _distances(z: torch.Tensor) -> torch.Tensor:
    """(n, n) Euclidean distances between the rows of z from their differences: cdist's
    matrix-product form (|a|^2 + |b|^2 - 2 a.b) loses the small distances of tight clusters in
    float32 (a silhouette of 0.999948 for 0.999914)."""
    return torch.cdist(z, z, compute_mode="donot_use_mm_for_euclid_dist")


def alignment(Z: torch.Tensor) -> float:
    """Mean |z_a - z_a+|^2 over ordered pairs of different views of one sample; Z is (V, n, m)."""
    V = Z.shape[0]
    total = sum(((Z[a] - Z[b]) ** 2).sum(1).mean() for a in range(V) for b in range(V) if a != b)
    return float(total / (V * (V - 1)))


def uniformity(z: torch.Tensor, max_points: int = 2048) -> float:
    """log mean_{i != j} exp(-2 |z_i - z_j|^2) (Wang & Isola 2020) of (n, m) points."""
    z = z[subsample(z.shape[0], max_points, z.device)]
    n = z.shape[0]
    if n < 2:
        return float("nan")
    sq = _distances(z).pow(2)
    off = ~torch.eye(n, dtype=torch.bool, device=z.device)
    return float(torch.logsumexp(-2 * sq[off], dim=0) - math.log(n * (n - 1)))


def silhouette(z: torch.Tensor, labels: torch.Tensor, max_points: int = 2048) -> float:
    """Mean silhouette of the points under the true labels (Euclidean distance); nan for one
    cluster, where it has no value (scikit-learn's silhouette_score refuses it)."""
    idx = subsample(z.shape[0], max_points, z.device)
    z, labels = z[idx], labels[idx]
    classes = torch.unique(labels)
    if classes.numel() < 2:
        return float("nan")
    d = _distances(z)
    onehot = (labels[:, None] == classes[None, :]).to(z.dtype)
    sizes = onehot.sum(0)
    sums = d @ onehot
    own = labels[:, None] == classes[None, :]
    own_size = (onehot * sizes).sum(1)
    a = (sums * own).sum(1) / (own_size - 1).clamp_min(1)
    other = (sums / sizes).masked_fill(own, float("inf"))
    b = other.min(1).values
    s = (b - a) / torch.maximum(a, b).clamp_min(1e-12)
    s = torch.where(own_size > 1, s, torch.zeros_like(s))
    return float(s.mean())


def cluster_means(z: torch.Tensor, labels: torch.Tensor, k: int) -> torch.Tensor:
    """(K, m) mean of z over each cluster (not normalised)."""
    onehot = torch.nn.functional.one_hot(labels, k).to(z.dtype)
    return (onehot.T @ z) / onehot.sum(0).clamp_min(1)[:, None]


def resultant_lengths(means: torch.Tensor) -> torch.Tensor:
    """R_k = |mean of z over cluster k|: 1 when the cluster sits on one point."""
    return means.norm(dim=1)


def neighbour_angles(means: torch.Tensor) -> torch.Tensor:
    """For each cluster, the angle in degrees from its mean direction to the nearest other one."""
    k = means.shape[0]
    if k < 2:
        return torch.full((k,), float("nan"), dtype=means.dtype, device=means.device)
    u = means / means.norm(dim=1, keepdim=True).clamp_min(1e-12)
    cos = (u @ u.T).clamp(-1, 1)
    angle = torch.rad2deg(torch.arccos(cos))
    angle.fill_diagonal_(float("inf"))
    return angle.min(1).values


def invariance_error(Z: torch.Tensor) -> float:
    """Spread of a sample's views: mean over samples and views of |z_v - mean_v z|^2."""
    return float(((Z - Z.mean(0, keepdim=True)) ** 2).sum(-1).mean())


def block_ratio(H: torch.Tensor, labels: torch.Tensor) -> float:
    """Mean |entry| of an (s, s) kernel within clusters (diagonal excluded) over the mean
    |entry| between clusters: how much more H mixes a cluster with itself; nan with one cluster."""
    same = labels[:, None] == labels[None, :]
    off = ~torch.eye(H.shape[0], dtype=torch.bool, device=H.device)
    within, between = H[same & off].abs(), H[~same].abs()
    if within.numel() == 0 or between.numel() == 0:
        return float("nan")
    return float(within.mean() / between.mean())

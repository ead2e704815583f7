"""Cluster-level dynamics (paper Theorem 4.5, Remark 4.4).

When the kernel is nearly constant on each pair of clusters, H_ij ~ Hbar_{k(i) l(j)}, the
NN-kernel flow of every point of cluster k is the same:
    du_k = -lr * sum_l Hbar_kl G_l,   G_l = sum_{j in l} dL/du_j,
and G_l carries the cluster's share n_l / n (Remark 4.4): a small cluster pushes, and is
pushed by its own repulsion, in proportion to its size. This module measures Hbar, the
within-cluster deviation of H from it (O(eps) by Theorem 4.5), and the cluster velocities
the flow predicts, next to those the network actually produces; each predicted velocity
split into its own term -lr Hbar_kk G_k (the one that scales with n_k / n) and the other
clusters' terms -lr sum_{l != k} Hbar_kl G_l; and the spread of the network's velocities
within each cluster (Theorem 4.5: the same velocity up to O(eps)).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from sim.metrics import cluster_means, subsample
from sim.ntk import ntk
from sim.simulation import KERNEL_MAX_POINTS, Simulation, tangent_part


def block_means(H: torch.Tensor, labels: torch.Tensor, k: int) -> torch.Tensor:
    """(K, K, ...) mean of the (s, s, ...) kernel H over each pair of clusters."""
    onehot = torch.nn.functional.one_hot(labels, k).to(H.dtype)
    counts = onehot.sum(0)
    flat = H.reshape(H.shape[0], H.shape[1], -1)
    sums = torch.einsum("ik,ijc,jl->klc", onehot, flat, onehot)
    means = sums / (counts[:, None, None] * counts[None, :, None]).clamp_min(1)
    return means.reshape(k, k, *H.shape[2:])


def within_deviation(H: torch.Tensor, labels: torch.Tensor, k: int) -> float:
    """RMS of H_ij - Hbar_{k(i) l(j)} over all pairs, relative to the RMS of Hbar_{k(i) l(j)}."""
    expanded = block_means(H, labels, k)[labels][:, labels]
    return float((H - expanded).pow(2).mean().sqrt() / expanded.pow(2).mean().sqrt())


@dataclass(frozen=True)
class ClusterFlow:
    """share (K): n_k / n; Hbar (K, K, m, m); deviation: within_deviation of H on the sample;
    gradient (K, m): G_k; predicted / measured (K, m): tangent cluster velocities for one
    NN-kernel step, from the cluster-level flow and from the network itself; own / others
    (K, m): predicted = own + others, the cluster's own term and the other clusters' terms
    through Hbar; spread (K): RMS over cluster k of |v_i - mean v| of the network's per-point
    velocities, over the RMS of |v_i| (0 when every point of the cluster moves alike)."""

    share: np.ndarray
    Hbar: np.ndarray
    deviation: float
    gradient: np.ndarray
    predicted: np.ndarray
    measured: np.ndarray
    own: np.ndarray
    others: np.ndarray
    spread: np.ndarray


def cluster_flow(sim: Simulation) -> ClusterFlow:
    """The cluster-level prediction against the measured NN velocities, now. Hbar comes from
    H(theta) on at most KERNEL_MAX_POINTS samples; the gradients G_l from every sample."""
    k, labels = sim.num_clusters, sim.labels
    idx = subsample(sim.n, KERNEL_MAX_POINTS, sim.device)
    H = ntk(sim.model, sim.X[idx]).detach()
    Hbar = block_means(H, labels[idx], k)
    _, moves, _ = sim.velocities()
    g_delta = sim.point_gradients()
    G = cluster_means(g_delta, labels, k) * torch.bincount(labels, minlength=k)[:, None].to(g_delta.dtype)
    du = -sim.preset.training.lr * torch.einsum("klab,lb->ka", Hbar, G)
    z = sim.embed()
    centers = cluster_means(z, labels, k)
    centers = centers / centers.norm(dim=1, keepdim=True).clamp_min(1e-12)
    raw_norm = cluster_means(sim.raw_outputs().norm(dim=1, keepdim=True), labels, k)
    predicted = tangent_part(centers, du) / raw_norm
    own = tangent_part(centers, -sim.preset.training.lr * torch.einsum("kkab,kb->ka", Hbar, G)) / raw_norm
    measured = tangent_part(centers, cluster_means(moves["nn"], labels, k))

    def cpu(t: torch.Tensor) -> np.ndarray:
        return t.detach().cpu().numpy().astype(np.float64)

    share = torch.bincount(labels, minlength=k).double() / sim.n
    return ClusterFlow(
        share=cpu(share),
        Hbar=cpu(Hbar),
        deviation=within_deviation(H, labels[idx], k),
        gradient=cpu(G),
        predicted=cpu(predicted),
        measured=cpu(measured),
        own=cpu(own),
        others=cpu(predicted - own),
        spread=cpu(velocity_spread(moves["nn"], labels, k)),
    )


def velocity_spread(v: torch.Tensor, labels: torch.Tensor, k: int) -> torch.Tensor:
    """(K,) for (n, m) velocities v: RMS of |v_i - mean of v over i's cluster| over the RMS of
    |v_i|, per cluster (Theorem 4.5: O(eps) under the NN kernel)."""
    deviation = (v - cluster_means(v, labels, k)[labels]).pow(2).sum(1, keepdim=True)
    size = v.pow(2).sum(1, keepdim=True)
    return (cluster_means(deviation, labels, k) / cluster_means(size, labels, k).clamp_min(1e-30))[:, 0].sqrt()

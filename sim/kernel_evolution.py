"""Kernel evolution: how far the network kernel H(theta) has moved from its start and how
much of it has become about the clusters (lazy vs rich training).

All measures read the trace kernel H (s, s) on the heatmap's subsample (at most 256 samples,
`Simulation.kernel_sample`) and H0, the kernel of the network as the run started on those
same samples:
  distance    ||H - H0||_F / ||H0||_F (the relative kernel distance of the lazy-training
              literature: near 0 in the kernel regime the paper analyses, Prop 4.4);
  alignment   centered kernel alignment of H with the cluster-indicator kernel Y = y y^T
              (Y_ij = 1 when samples i and j share a cluster; Cortes, Mohri & Rostamizadeh
              2012): <C H C, C Y C>_F / (||C H C||_F ||C Y C||_F), C = I - 11^T / s;
  eigenvalues the EIGENVALUES largest eigenvalues of H, descending (nan past s);
  top_share   the share of the top-K eigenspace of H (K clusters in the subsample) lying in
              the span of the cluster indicators: ||P U_K||_F^2 / K, P the orthogonal
              projector onto that span; 1 when H's leading directions are the clusters.
"""

from __future__ import annotations

import functools
import math
import threading

import numpy as np
import scipy.linalg
import threadpoolctl
import torch

EIGENVALUES = 8
_ONE_BLAS_THREAD = threading.Lock()
NAMES = ("distance", "alignment", "eigenvalues", "top_share")


def empty() -> dict[str, np.ndarray]:
    """The measures of a frame without H(theta): nan, with the shapes `measures` gives."""
    nan = np.float64("nan")
    return {"distance": nan, "alignment": nan, "eigenvalues": np.full(EIGENVALUES, nan), "top_share": nan}


def measures(H: torch.Tensor, H0: torch.Tensor, labels: torch.Tensor) -> dict[str, np.ndarray]:
    """The kernel-evolution measures (module docstring) of the trace kernel H (s, s) against
    the starting kernel H0 (s, s), both on the same s samples with cluster labels (s,).
    Float64 numpy values: scalars for distance, alignment, top_share; (EIGENVALUES,) for
    eigenvalues. ValueError if the shapes disagree."""
    if H.shape != H0.shape or H.ndim != 2 or H.shape[0] != H.shape[1] or labels.shape != H.shape[:1]:
        raise ValueError(
            f"kernel measures: expected H, H0 (s, s) and labels (s,), got {H.shape}, {H0.shape}, {labels.shape}"
        )
    H64, H0_64 = H.detach().to(torch.float64), H0.detach().to(torch.float64)
    scale = torch.linalg.matrix_norm(H0_64)
    distance = float(torch.linalg.matrix_norm(H64 - H0_64) / scale) if scale > 0 else math.nan
    _, inverse = torch.unique(labels, return_inverse=True)
    indicators = torch.nn.functional.one_hot(inverse).to(torch.float64)  # (s, K)
    sym = (H64 + H64.T) / 2
    values, vectors = _top_eigenpairs(sym, max(EIGENVALUES, indicators.shape[1]))
    eigenvalues = np.full(EIGENVALUES, math.nan)
    top = values.flip(0)[:EIGENVALUES].numpy()
    eigenvalues[: top.shape[0]] = top
    return {
        "distance": np.float64(distance),
        "alignment": np.float64(_centered_alignment(sym, indicators)),
        "eigenvalues": eigenvalues,
        "top_share": np.float64(_top_share(vectors, indicators.cpu())),
    }


def _top_eigenpairs(sym: torch.Tensor, count: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The `count` largest eigenvalues of the symmetric (s, s) matrix, ascending, and their
    eigenvectors as columns (on the CPU, float64): LAPACK's dsyevr for those alone, about
    twice as fast as the whole spectrum at s = 256. In one BLAS thread: the eigenvectors'
    last digits depend on the thread count, and a run gives the same numbers in any process
    on one CPU type (OpenBLAS picks its kernels by CPU type: between types the last bits move,
    2.6e-15 relative measured). One call at a time: the limit is process-wide, and a second
    thread's call ending first would lift it under the first's."""
    s = sym.shape[0]
    with _ONE_BLAS_THREAD, _blas().limit(limits=1, user_api="blas"):
        values, vectors = scipy.linalg.eigh(sym.cpu().numpy(), subset_by_index=[max(0, s - count), s - 1], driver="evr")
    return torch.from_numpy(values), torch.from_numpy(vectors)


@functools.cache
def _blas() -> threadpoolctl.ThreadpoolController:
    """The BLAS libraries loaded (scipy's among them), found once."""
    return threadpoolctl.ThreadpoolController()


def _centered_alignment(A: torch.Tensor, Y: torch.Tensor) -> float:
    """<C A C, C B C>_F / (||C A C||_F ||C B C||_F) for B = Y Y^T, Y the (s, K) indicators,
    nan when either centered kernel is 0. Through Y, without B: <C A C, C B C> = tr(Y^T (C A
    C) Y) (C is a projector) and ||C B C||_F = ||(C Y)^T (C Y)||_F."""
    Ac = A - A.mean(0, keepdim=True) - A.mean(1, keepdim=True) + A.mean()
    Yc = Y - Y.mean(0, keepdim=True)
    denominator = torch.linalg.matrix_norm(Ac) * torch.linalg.matrix_norm(Yc.T @ Yc)
    return float((Y.T @ Ac @ Y).trace() / denominator) if denominator > 0 else math.nan


def _top_share(vectors: torch.Tensor, indicators: torch.Tensor) -> float:
    """||P U_K||_F^2 / K for the K eigenvectors of largest eigenvalue (the last K columns of
    eigh's ascending `vectors`) and P the projector onto the indicators' span."""
    k = indicators.shape[1]
    U = vectors[:, -k:]
    sizes = indicators.sum(0)
    projected = indicators @ ((indicators.T @ U) / sizes[:, None])  # P U with P = Y diag(1/n_k) Y^T
    return float((projected * projected).sum() / k)

"""Contrastive losses on unit vectors: NT-Xent (SimCLR, paper eq 1) and the generalized
Gaussian-similarity loss (paper eq 4-5).

Views arrive as a (V, n, m) tensor: V views of n samples. Views of one sample are
positives, every other row is a negative. With V = 2 `views_nt_xent` is exactly NT-Xent;
with more views each row averages its V - 1 positives.
"""

from __future__ import annotations

import math

import torch

PSI = ("log", "linear")


def _positive_mask(V: int, n: int, device: torch.device) -> torch.Tensor:
    sample = torch.arange(n, device=device).repeat(V)
    same = sample[:, None] == sample[None, :]
    return same & ~torch.eye(V * n, dtype=torch.bool, device=device)


def views_nt_xent(Z: torch.Tensor, tau: float) -> torch.Tensor:
    """Mean over the V*n rows a of  -mean_{a+} s(z_a, z_a+)/tau + log sum_{b != a} exp(s(z_a, z_b)/tau),
    with s the cosine similarity of unit vectors."""
    V, n, m = Z.shape
    rows = Z.reshape(V * n, m)
    logits = rows @ rows.T / tau
    positive = _positive_mask(V, n, Z.device)
    attraction = (logits * positive).sum(1) / (V - 1)
    logits = logits.masked_fill(torch.eye(V * n, dtype=torch.bool, device=Z.device), float("-inf"))
    return (torch.logsumexp(logits, dim=1) - attraction).mean()


def nt_xent(z_a: torch.Tensor, z_b: torch.Tensor, tau: float) -> torch.Tensor:
    """NT-Xent of two (n, m) batches of unit vectors whose rows are positive pairs:
    (1/2n) sum_a [ -s(z_a, z_a+)/tau + log sum_{b != a} exp(s(z_a, z_b)/tau) ]."""
    return views_nt_xent(torch.stack([z_a, z_b]), tau)


def generalized_loss(Z: torch.Tensor, tau: float, psi: str = "log") -> torch.Tensor:
    """E[-log s(z - z+)] + E_x[ psi( E_x' s(z - z') ) ] with s(v) = exp(-|v|^2 / (2 tau));
    the inner mean runs over every row, the row itself included (no indicator)."""
    V, n, m = Z.shape
    rows = Z.reshape(V * n, m)
    norms = (rows * rows).sum(1)
    sq = (norms[:, None] + norms[None, :] - 2 * rows @ rows.T).clamp_min(0)
    positive = _positive_mask(V, n, Z.device)
    attraction = (sq * positive).sum() / positive.sum() / (2 * tau)
    if psi == "log":
        repulsion = (torch.logsumexp(-sq / (2 * tau), dim=1) - math.log(V * n)).mean()
    elif psi == "linear":
        repulsion = torch.exp(-sq / (2 * tau)).mean()
    else:
        raise ValueError(f"psi: expected one of {', '.join(PSI)}, got {psi!r}")
    return attraction + repulsion


def contrastive_loss(Z: torch.Tensor, kind: str, tau: float, psi: str = "log") -> torch.Tensor:
    """The loss named `kind` ('nt_xent' or 'generalized') of (V, n, m) unit views."""
    if kind == "nt_xent":
        return views_nt_xent(Z, tau)
    if kind == "generalized":
        return generalized_loss(Z, tau, psi)
    raise ValueError(f"loss.kind: expected 'nt_xent' or 'generalized', got {kind!r}")

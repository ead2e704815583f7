"""Non-contrastive losses of paper Appendix A.1, for comparison with NT-Xent: VICReg
(invariance, variance, covariance) and BYOL's prediction loss. Both take (V, n, m) views;
the BYOL predictor and moving-average target live in the Simulation, which hands this
module the predictions and the (already detached) targets.
"""

from __future__ import annotations

import math

import torch


def _pairs(V: int) -> list[tuple[int, int]]:
    return [(a, b) for a in range(V) for b in range(V) if a != b]


def vicreg_loss(
    Z: torch.Tensor, invariance: float = 25.0, variance: float = 25.0, covariance: float = 1.0, eps: float = 1e-4
) -> torch.Tensor:
    """invariance * mean_pairs mean_i |z_a,i - z_b,i|^2
    + variance * sum_views mean_j relu(gamma - sqrt(Var_i z_i,j + eps))
    + covariance * sum_views (1/m) sum_{j != k} Cov_jk^2,
    with gamma = 1/sqrt(m), the per-coordinate std of the uniform law on the unit sphere
    (Bardes et al. 2021 use gamma = 1 for unnormalised features)."""
    V, n, m = Z.shape
    inv = sum(((Z[a] - Z[b]) ** 2).sum(-1).mean() for a, b in _pairs(V)) / (V * (V - 1))
    centred = Z - Z.mean(1, keepdim=True)
    var = (centred**2).sum(1) / max(n - 1, 1)
    std_term = torch.relu(1.0 / math.sqrt(m) - torch.sqrt(var + eps)).mean(-1).sum()
    cov = torch.einsum("vij,vik->vjk", centred, centred) / max(n - 1, 1)
    off = cov - torch.diag_embed(torch.diagonal(cov, dim1=-2, dim2=-1))
    cov_term = (off**2).sum((-2, -1)).sum() / m
    return invariance * inv + variance * std_term + covariance * cov_term


def byol_loss(P: torch.Tensor, T: torch.Tensor) -> torch.Tensor:
    """mean over ordered view pairs (a, b), a != b, and samples of |p_a - t_b|^2 = 2 - 2 cos,
    P the online predictions and T the target embeddings, both (V, n, m) unit vectors; T
    carries no gradient (stop-gradient)."""
    V = P.shape[0]
    return sum(((P[a] - T[b].detach()) ** 2).sum(-1).mean() for a, b in _pairs(V)) / (V * (V - 1))


class ByolHead:
    """BYOL's extra state: a predictor q (one hidden layer, trained with its own plain gradient
    step) and a target copy of the network, moved towards the online one by an exponential
    moving average after each step. The target embedding uses the online Delta (detached)."""

    def __init__(self, model: torch.nn.Module, latent_dim: int, width: int, ema: float, lr: float, seed: int):
        import copy

        from sim.networks import MLP

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed + 4)
            predictor = MLP(latent_dim, latent_dim, width, 1, "relu")
        param = next(model.parameters())
        self.predictor = predictor.to(param.device, param.dtype)
        self.target = copy.deepcopy(model).requires_grad_(False)
        self.ema = ema
        self.optimiser = torch.optim.SGD(self.predictor.parameters(), lr=lr)

    def parameters(self) -> list[torch.Tensor]:
        return list(self.predictor.parameters())

    def loss(self, Z: torch.Tensor, views: torch.Tensor, delta: torch.Tensor) -> torch.Tensor:
        """BYOL loss of online views Z (V, n, m); the target embeds the same views."""
        V, n, m = Z.shape
        p = self.predictor(Z.reshape(V * n, m)).reshape(V, n, m)
        p = p / p.norm(dim=-1, keepdim=True)
        with torch.no_grad():
            t = self.target(views.reshape(V * n, -1)).reshape(V, n, m) + delta.detach()
            t = t / t.norm(dim=-1, keepdim=True)
        return byol_loss(p, t)

    def step(self, grads: list[torch.Tensor], model: torch.nn.Module) -> None:
        """Apply the predictor's gradient, then move the target towards the online network."""
        for p, g in zip(self.predictor.parameters(), grads):
            p.grad = g
        self.optimiser.step()
        with torch.no_grad():
            for t, o in zip(self.target.parameters(), model.parameters()):
                t.mul_(self.ema).add_(o.detach(), alpha=1 - self.ema)

"""The embedding networks f_theta: the paper's averaging net (eq 18) and an MLP.

Both map (n, d) inputs to (n, m) raw outputs; projection onto the sphere happens in the
simulation. Each activation comes with its derivative, which the closed-form kernels of
`sim.ntk` needs.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from sim.preset import ACTIVATIONS


def activate(name: str, a: torch.Tensor) -> torch.Tensor:
    """sigma(a) for the named activation."""
    if name == "relu":
        return torch.relu(a)
    if name == "tanh":
        return torch.tanh(a)
    if name == "gelu":
        return torch.nn.functional.gelu(a)
    if name == "softplus":
        return torch.nn.functional.softplus(a)
    if name == "erf":
        return torch.erf(a)
    raise ValueError(f"activation: expected one of {', '.join(ACTIVATIONS)}, got {name!r}")


def activate_derivative(name: str, a: torch.Tensor) -> torch.Tensor:
    """sigma'(a) for the named activation (relu' taken as 1[a > 0])."""
    if name == "relu":
        return (a > 0).to(a.dtype)
    if name == "tanh":
        return 1.0 - torch.tanh(a) ** 2
    if name == "gelu":
        return 0.5 * (1.0 + torch.erf(a / math.sqrt(2.0))) + a * torch.exp(-0.5 * a * a) / math.sqrt(2.0 * math.pi)
    if name == "softplus":
        return torch.sigmoid(a)
    if name == "erf":
        return 2.0 / math.sqrt(math.pi) * torch.exp(-a * a)
    raise ValueError(f"activation: expected one of {', '.join(ACTIVATIONS)}, got {name!r}")


class AveragingNet(nn.Module):
    """f^k(x) = (1/N) sum_r sigma(w_{k,r} . x): one hidden layer of m*N units, output k the
    mean of its own block of N units (paper eq 18). Only W is trained; rows start N(0, I)."""

    def __init__(self, in_dim: int, out_dim: int, width: int, activation: str = "relu"):
        super().__init__()
        activate(activation, torch.zeros(1))
        self.in_dim, self.out_dim, self.width, self.activation = in_dim, out_dim, width, activation
        self.weight = nn.Parameter(torch.randn(out_dim * width, in_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_with((self.weight,), x)

    def forward_with(self, weights: Sequence[torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        """f(x) with the given parameter tensors in parameters() order (W): what
        torch.func.functional_call gives, without swapping the module's own."""
        hidden = activate(self.activation, x @ weights[0].T)
        return hidden.reshape(x.shape[0], self.out_dim, self.width).mean(dim=-1)


class MLP(nn.Module):
    """A fully connected net: `depth` hidden layers of `width` units, then a linear output.
    `gain` multiplies the hidden layers' initial weights (torch's default initialisation
    times gain): above about 2 a tanh net is in the chaotic regime, where nearby inputs get
    unrelated outputs, so the start carries little of the data's clusters."""

    def __init__(self, in_dim: int, out_dim: int, width: int, depth: int, activation: str = "tanh", gain: float = 1.0):
        super().__init__()
        activate(activation, torch.zeros(1))
        sizes = [in_dim] + [width] * depth + [out_dim]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in itertools.pairwise(sizes))
        self.gain = gain
        self.apply_gain()
        self.activation = activation
        self.in_dim, self.out_dim, self.width, self.depth = in_dim, out_dim, width, depth

    def apply_gain(self) -> None:
        """Multiply the hidden layers' weights by `gain` (after torch's default initialisation of
        every layer: at construction, and by sim/ntk.py when it draws fresh networks)."""
        if self.gain != 1.0:
            with torch.no_grad():
                for layer in self.layers[:-1]:
                    layer.weight.mul_(self.gain)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_with(tuple(self.parameters()), x)

    def forward_with(self, weights: Sequence[torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        """f(x) with the given parameter tensors in parameters() order (W_1, b_1, W_2, ...):
        what torch.func.functional_call gives, without swapping the module's own."""
        last = len(weights) // 2 - 1
        for i in range(last):
            x = activate(self.activation, F.linear(x, weights[2 * i], weights[2 * i + 1]))
        return F.linear(x, weights[2 * last], weights[2 * last + 1])

    def zero_output(self) -> None:
        """Make f identically zero (and so invariant to every view) without killing the kernel:
        the hidden layers keep their features, so the output layer still gets gradient."""
        with torch.no_grad():
            self.layers[-1].weight.zero_()
            self.layers[-1].bias.zero_()

"""The embedding networks f_theta: the paper's averaging net (eq 18) and an MLP.

Both map (n, d) inputs to (n, m) raw outputs; projection onto the sphere happens in the
simulation. Each activation comes with its derivative, which the closed-form kernels of
`sim.ntk` needs. Each network also gives one forward pass with what it saved
(`forward_saving`) and, from that, the forward-mode derivative along a change of its weights
(`tangent`): J_theta f(x) dtheta, what torch.func.jvp gives (the same numbers for tanh), without
a second forward pass when the saved one is at hand.
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


def _tangent_through(name: str, da: torch.Tensor, a: torch.Tensor | None, y: torch.Tensor) -> torch.Tensor:
    """sigma'(a) da, given y = sigma(a); for tanh from y alone (a may be None), by the formula
    torch's forward-mode AD uses, so the numbers equal torch.func.jvp's."""
    if name == "tanh":
        return torch.ops.aten.tanh_backward(da, y)
    return da * activate_derivative(name, a)


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
        return self.forward_saving(weights, x)[0]

    def forward_saving(self, weights: Sequence[torch.Tensor], x: torch.Tensor) -> tuple[torch.Tensor, tuple]:
        """(f(x), saved): `saved` = (x, a, sigma(a)) with a = x W^T (n, m N), what `tangent` needs."""
        a = x @ weights[0].T
        hidden = activate(self.activation, a)
        return hidden.reshape(x.shape[0], self.out_dim, self.width).mean(dim=-1), (x, a, hidden)

    def tangent(self, weights: Sequence[torch.Tensor], tangents: Sequence[torch.Tensor], saved: tuple) -> torch.Tensor:
        """(n, m): J_W f(x) dW for dW = tangents[0], at the pass `saved` of forward_saving:
        the mean over each output's units of sigma'(a) (x dW^T)."""
        x, a, hidden = saved
        dh = _tangent_through(self.activation, x @ tangents[0].T, a, hidden)
        return dh.reshape(x.shape[0], self.out_dim, self.width).mean(dim=-1)


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
        return self.forward_saving(weights, x)[0]

    def forward_saving(self, weights: Sequence[torch.Tensor], x: torch.Tensor) -> tuple[torch.Tensor, tuple]:
        """(f(x), saved): `saved` holds each layer's input (x, then every hidden layer's
        activations sigma(a), (n, width)) and, except for tanh (whose derivative comes from
        sigma(a)), each hidden layer's pre-activation a: what `tangent` needs."""
        inputs, pre = [x], []
        last = len(weights) // 2 - 1
        for i in range(last):
            a = F.linear(inputs[-1], weights[2 * i], weights[2 * i + 1])
            pre.append(None if self.activation == "tanh" else a)
            inputs.append(activate(self.activation, a))
        return F.linear(inputs[-1], weights[2 * last], weights[2 * last + 1]), (inputs, pre)

    def tangent(self, weights: Sequence[torch.Tensor], tangents: Sequence[torch.Tensor], saved: tuple) -> torch.Tensor:
        """(n, m): J_theta f(x) dtheta for dtheta = `tangents` (parameters() order) at the pass
        `saved` of forward_saving, layer by layer: da_l = db_l + dx_{l-1} W_l^T + x_{l-1} dW_l^T,
        dx_l = sigma'(a_l) da_l (dx_0 = 0), summed in the order torch's forward-mode AD sums
        them, so for tanh the numbers equal torch.func.jvp's."""
        inputs, pre = saved
        dx = None
        for i, x in enumerate(inputs):  # the hidden layers, then the output layer
            W, dW, db = weights[2 * i], tangents[2 * i], tangents[2 * i + 1]
            da = db + x.mm(dW.t()) if dx is None else db + dx.mm(W.t()) + x.mm(dW.t())
            if i < len(pre):
                dx = _tangent_through(self.activation, da, pre[i], inputs[i + 1])
        return da

    def zero_output(self) -> None:
        """Make f identically zero (and so invariant to every view) without killing the kernel:
        the hidden layers keep their features, so the output layer still gets gradient."""
        with torch.no_grad():
            self.layers[-1].weight.zero_()
            self.layers[-1].bias.zero_()

"""Checks of sim.ntk against references written out here: the Jacobian contraction J J^T
from torch.func, Prop 4.3 with explicit loops, the ReLU arc-cosine limit via atan2, and a
Monte Carlo expectation for the erf limit."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.func import functional_call, jacrev, vmap

from sim import ntk as ntk_module
from sim.networks import MLP, AveragingNet
from sim.ntk import limit_kernel, limit_kernel_averaging, ntk, trace_kernel, trace_ntk


def jacobian_kernel(model: nn.Module, X: torch.Tensor) -> torch.Tensor:
    """Reference: H[i,j,k,l] = sum over trained parameters of J[i,k,:] . J[j,l,:]."""
    params = {name: p.detach() for name, p in model.named_parameters() if p.requires_grad}
    frozen = {name: p.detach() for name, p in model.named_parameters() if not p.requires_grad}

    def f(p: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        return functional_call(model, {**p, **frozen}, (x[None],))[0]

    J = vmap(jacrev(f), in_dims=(None, 0))(params, X)
    return sum(torch.einsum("ik...,jl...->ijkl", j, j) for j in J.values())


def points(n: int, d: int, seed: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=dtype)


@pytest.mark.parametrize("activation", ["tanh", "relu", "gelu", "softplus", "erf"])
def test_mlp_ntk_matches_jacobian_contraction(activation: str) -> None:
    torch.manual_seed(0)
    model = MLP(2, 2, width=16, depth=3, activation=activation).double()
    X = points(11, 2, seed=1)
    H = ntk(model, X)
    assert H.shape == (11, 11, 2, 2)
    torch.testing.assert_close(H, jacobian_kernel(model, X), rtol=1e-5, atol=1e-10)


def test_mlp_ntk_three_outputs_depth_one_float32() -> None:
    torch.manual_seed(1)
    model = MLP(3, 3, width=8, depth=1, activation="gelu")
    X = points(7, 3, seed=2, dtype=torch.float32)
    H = ntk(model, X)
    assert H.dtype == torch.float32
    torch.testing.assert_close(H, jacobian_kernel(model, X), rtol=1e-4, atol=1e-5)


def test_mlp_ntk_counts_only_trained_parameters() -> None:
    torch.manual_seed(2)
    model = MLP(2, 2, width=12, depth=2, activation="tanh").double()
    model.layers[0].weight.requires_grad_(False)
    model.layers[2].bias.requires_grad_(False)
    X = points(9, 2, seed=3)
    torch.testing.assert_close(ntk(model, X), jacobian_kernel(model, X), rtol=1e-5, atol=1e-10)


def test_mlp_ntk_after_zero_output_is_not_zero() -> None:
    torch.manual_seed(3)
    model = MLP(2, 2, width=10, depth=2).double()
    model.zero_output()
    X = points(6, 2, seed=4)
    H = ntk(model, X)
    torch.testing.assert_close(H, jacobian_kernel(model, X), rtol=1e-5, atol=1e-10)
    assert trace_kernel(H).diagonal().min() > 0


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_averaging_ntk_matches_jacobian_contraction(activation: str) -> None:
    torch.manual_seed(4)
    model = AveragingNet(3, 2, width=25, activation=activation).double()
    X = points(10, 3, seed=5)
    torch.testing.assert_close(ntk(model, X), jacobian_kernel(model, X), rtol=1e-5, atol=1e-12)


def test_averaging_ntk_is_prop_4_3_written_out() -> None:
    torch.manual_seed(5)
    n, d, m, N = 4, 2, 3, 5
    model = AveragingNet(d, m, width=N, activation="tanh").double()
    X = points(n, d, seed=6)
    W = model.weight.detach()

    def slope(a: float) -> float:
        return 1.0 - math.tanh(a) ** 2

    expected = torch.zeros(n, n, m, m, dtype=torch.float64)
    for i in range(n):
        for j in range(n):
            dot = float(X[i] @ X[j])
            for k in range(m):
                total = 0.0
                for r in range(N):
                    w = W[k * N + r]
                    total += slope(float(w @ X[i])) * slope(float(w @ X[j]))
                expected[i, j, k, k] = dot / N**2 * total
    torch.testing.assert_close(ntk(model, X), expected, rtol=1e-10, atol=1e-14)


class Bilinear(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.first = nn.Linear(3, 6)
        self.second = nn.Linear(3, 6)
        self.out = nn.Linear(6, 2)
        self.register_buffer("shift", torch.tensor(0.3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.first(x) * torch.sin(self.second(x)) + self.shift)


def test_general_path_with_layernorm_matches_jacobian_contraction() -> None:
    torch.manual_seed(6)
    model = nn.Sequential(nn.Linear(3, 8), nn.LayerNorm(8), nn.Tanh(), nn.Linear(8, 2)).double()
    model[0].bias.requires_grad_(False)
    X = points(9, 3, seed=7)
    torch.testing.assert_close(ntk(model, X), jacobian_kernel(model, X), rtol=1e-5, atol=1e-12)


def test_general_path_bilinear_and_chunked(monkeypatch: pytest.MonkeyPatch) -> None:
    torch.manual_seed(7)
    model = Bilinear().double()
    X = points(13, 3, seed=8)
    expected = jacobian_kernel(model, X)
    torch.testing.assert_close(ntk(model, X), expected, rtol=1e-5, atol=1e-12)
    monkeypatch.setattr(ntk_module, "JACOBIAN_CHUNK_BYTES", 2 * 2 * 80 * 8)
    torch.testing.assert_close(ntk(model, X), expected, rtol=1e-5, atol=1e-12)


def test_ntk_leaves_parameters_and_grads_unchanged() -> None:
    torch.manual_seed(8)
    X = points(5, 2, seed=9)
    models = [
        MLP(2, 2, width=8, depth=2).double(),
        AveragingNet(2, 2, width=8).double(),
        nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 2)).double(),
    ]
    for model in models:
        model(X).square().sum().backward()
        before = {k: (p.detach().clone(), p.grad.clone()) for k, p in model.named_parameters()}
        ntk(model, X)
        limit_kernel(model, X, draws=2, generator=torch.Generator().manual_seed(0))
        for name, p in model.named_parameters():
            assert torch.equal(p, before[name][0])
            assert torch.equal(p.grad, before[name][1])


def relu_limit(X: torch.Tensor) -> torch.Tensor:
    """(x.y) (pi - angle) / (2 pi), the angle from atan2(|x| |y| sin, x.y) with |x| |y| sin
    from Lagrange's identity (sum over pairs a < b of (x_a y_b - x_b y_a)^2)."""
    out = torch.zeros(X.shape[0], X.shape[0], dtype=torch.float64)
    for i, x in enumerate(X.tolist()):
        for j, y in enumerate(X.tolist()):
            dot = sum(a * b for a, b in zip(x, y))
            pairs = [(a, b) for a in range(len(x)) for b in range(a + 1, len(x))]
            cross = math.sqrt(sum((x[a] * y[b] - x[b] * y[a]) ** 2 for a, b in pairs))
            angle = math.atan2(cross, dot)
            out[i, j] = dot * (math.pi - angle) / (2 * math.pi)
    return out


def test_relu_limit_closed_form() -> None:
    X = torch.cat([points(6, 3, seed=10), torch.zeros(1, 3)])
    X[1] = -2.0 * X[0]
    X[2] = 0.5 * X[3]
    K = limit_kernel_averaging(X, "relu")
    torch.testing.assert_close(K, relu_limit(X), rtol=1e-9, atol=1e-12)


def test_wide_relu_averaging_net_approaches_limit() -> None:
    torch.manual_seed(9)
    N = 20000
    model = AveragingNet(3, 2, width=N, activation="relu").double()
    X = points(5, 3, seed=11)
    K = relu_limit(X)
    H = ntk(model, X)
    scale = K.abs().max()
    for k in range(2):
        assert (N * H[:, :, k, k] - K).abs().max() < 0.03 * scale
    assert H[:, :, 0, 1].abs().max() == 0
    torch.testing.assert_close(N * limit_kernel(model, X)[:, :, 1, 1], K, rtol=1e-9, atol=1e-12)


def test_erf_limit_matches_monte_carlo() -> None:
    X = points(5, 2, seed=12)
    g = torch.Generator().manual_seed(13)
    W = torch.randn(400000, 2, generator=g, dtype=torch.float64)
    slope = 2.0 / math.sqrt(math.pi) * torch.exp(-((X @ W.T) ** 2))
    expected = (slope @ slope.T / W.shape[0]) * (X @ X.T)
    K = limit_kernel_averaging(X, "erf")
    torch.testing.assert_close(K, expected, rtol=0.0, atol=0.01 * float(expected.abs().max()))


def test_erf_limit_matches_wide_erf_net() -> None:
    torch.manual_seed(14)
    N = 20000
    model = AveragingNet(2, 2, width=N, activation="erf").double()
    X = points(4, 2, seed=15)
    K = limit_kernel_averaging(X, "erf")
    got = N * ntk(model, X)[:, :, 0, 0]
    assert (got - K).abs().max() < 0.03 * K.abs().max()


def test_monte_carlo_limit_for_tanh_matches_wide_net_and_is_seeded() -> None:
    torch.manual_seed(16)
    N = 20000
    model = AveragingNet(2, 2, width=N, activation="tanh").double()
    X = points(4, 2, seed=17)
    K = limit_kernel_averaging(X, "tanh", generator=torch.Generator().manual_seed(1))
    again = limit_kernel_averaging(X, "tanh", generator=torch.Generator().manual_seed(1))
    assert torch.equal(K, again)
    got = N * ntk(model, X)[:, :, 1, 1]
    assert (got - K).abs().max() < 0.03 * K.abs().max()


def test_mlp_limit_kernel_is_mean_over_fresh_initialisations() -> None:
    torch.manual_seed(18)
    model = MLP(2, 2, width=512, depth=2, activation="tanh").double()
    X = points(6, 2, seed=19)
    rng_before = torch.random.get_rng_state()
    limit = limit_kernel(model, X, draws=6, generator=torch.Generator().manual_seed(2))
    assert torch.equal(torch.random.get_rng_state(), rng_before)
    again = limit_kernel(model, X, draws=6, generator=torch.Generator().manual_seed(2))
    assert torch.equal(limit, again)
    assert not torch.allclose(limit, ntk(model, X), rtol=1e-6)
    relative = (limit - ntk(model, X)).norm() / limit.norm()
    assert relative < 0.1


def test_trace_kernel_sums_output_diagonal() -> None:
    H = torch.randn(4, 4, 3, 3, generator=torch.Generator().manual_seed(20))
    expected = H[:, :, 0, 0] + H[:, :, 1, 1] + H[:, :, 2, 2]
    torch.testing.assert_close(trace_kernel(H), expected)


@pytest.mark.parametrize("activation", ["tanh", "relu", "erf"])
def test_trace_ntk_is_the_trace_of_the_jacobian_contraction(activation: str) -> None:
    """The MLP's layer-wise trace (no (n, n, m, m) kernel), with a frozen layer, and the
    averaging net's (through ntk), against the trace of J J^T."""
    torch.manual_seed(21)
    mlp = MLP(2, 3, width=12, depth=3, activation=activation, gain=2.0).double()
    mlp.layers[1].bias.requires_grad_(False)
    X = points(10, 2, seed=22)
    torch.testing.assert_close(trace_ntk(mlp, X), trace_kernel(jacobian_kernel(mlp, X)), rtol=1e-6, atol=1e-10)
    averaging = AveragingNet(2, 2, width=30, activation=activation).double()
    torch.testing.assert_close(
        trace_ntk(averaging, X), trace_kernel(jacobian_kernel(averaging, X)), rtol=1e-6, atol=1e-10
    )


def test_mlp_limit_kernel_draws_networks_with_the_models_init_gain() -> None:
    """fig5-2d's MLP starts with hidden weights 6 x default: the limit kernel averages fresh
    networks of that same law, so a wide net's own kernel lies near it, and far from the
    kernel of torch's default law."""
    torch.manual_seed(21)
    model = MLP(2, 2, width=512, depth=2, activation="tanh", gain=6.0).double()
    X = points(6, 2, seed=22)
    limit = limit_kernel(model, X, draws=6, generator=torch.Generator().manual_seed(3))
    own = ntk(model, X)
    assert (limit - own).norm() / limit.norm() < 0.15
    default = MLP(2, 2, width=512, depth=2, activation="tanh").double()
    other = limit_kernel(default, X, draws=6, generator=torch.Generator().manual_seed(3))
    assert (limit - other).norm() / limit.norm() > 0.5

"""The kernels that move the embedding: the empirical neural tangent kernel H(theta) of a
network's raw output (paper eq 11-12), computed without building the Jacobian for the two
networks of `sim.networks` (layer-wise Gram form for the MLP, Prop 4.3 for the averaging net)
and through torch.func for any other module; the fixed infinite-width kernel on the same
scale (closed forms for the averaging net with ReLU and erf, Monte Carlo otherwise); and the
trace over outputs that the heatmap shows. Every kernel here has shape (n, n, m, m) with
H[i, j, k, l] = <d f^k(x_i)/d theta, d f^l(x_j)/d theta>.
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn
from torch.func import functional_call, jacrev, vmap

from sim.networks import MLP, AveragingNet, activate, activate_derivative

JACOBIAN_CHUNK_BYTES = 256 * 2**20
MC_CHUNK = 4096


def ntk(model: nn.Module, X: torch.Tensor) -> torch.Tensor:
    """The empirical NTK of `model` at inputs X (n, d): (n, n, m, m), summed over the
    parameters that require grad. Exactly `MLP` and `AveragingNet` (not subclasses, which may
    change forward) take the closed forms; anything else the Jacobian contraction. Leaves the
    parameters and their .grad untouched."""
    with torch.no_grad():
        if type(model) is MLP:
            return _ntk_mlp(model, X)
        if type(model) is AveragingNet:
            return _ntk_averaging(model, X)
    return _ntk_jacobian(model, X)


def trace_ntk(model: nn.Module, X: torch.Tensor) -> torch.Tensor:
    """(n, n) trace over the outputs of `ntk(model, X)`: sum_k H[i, j, k, k], what the heatmap
    and the kernel measures read. The MLP's is summed layer by layer without the (n, n, m, m)
    kernel (a few times faster); any other model traces `ntk`. Leaves the parameters untouched."""
    if type(model) is MLP:
        with torch.no_grad():
            return _trace_ntk_mlp(model, X)
    return trace_kernel(ntk(model, X))


def trace_kernel(H: torch.Tensor) -> torch.Tensor:
    """(n, n) trace over the outputs of an (n, n, m, m) kernel."""
    return H.diagonal(dim1=2, dim2=3).sum(dim=-1)


def limit_kernel(
    model: nn.Module,
    X: torch.Tensor,
    draws: int = 8,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """The infinite-width kernel (n, n, m, m) on the scale of `ntk(model, X)`.

    Averaging net: delta_kl K(x_i, x_j) / N with K the limit of N H^{kk} (Prop 4.4).
    Any other model: the mean of `ntk` over `draws` fresh initialisations of a copy of it
    (each module's reset_parameters), a Monte Carlo estimate of E_theta0[H(theta0)].
    Seeds come from `generator`, or from the global RNG when it is None."""
    if draws < 1:
        raise ValueError(f"limit_kernel: draws must be >= 1, got {draws}")
    if type(model) is AveragingNet:
        K = limit_kernel_averaging(X, model.activation, generator=generator)
        if not model.weight.requires_grad:
            K = torch.zeros_like(K)
        return _block_diagonal(K / model.width, model.out_dim)
    total = ntk(_reinitialised_copy(model, generator), X)
    for _ in range(draws - 1):
        total += ntk(_reinitialised_copy(model, generator), X)
    return total / draws


def limit_kernel_averaging(
    X: torch.Tensor,
    activation: str,
    mc_samples: int = 20000,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """K(x_i, x_j) = E_w[sigma'(w.x_i) sigma'(w.x_j)] (x_i . x_j) with w ~ N(0, I): the
    (n, n) limit of N * H^{kk} for the averaging net. Closed form for relu and erf (computed
    in float64), Monte Carlo with `mc_samples` draws for the other activations."""
    if activation == "relu":
        X64 = X.to(torch.float64)
        dots = X64 @ X64.T
        return (dots * (math.pi - _angles(X64)) / (2.0 * math.pi)).to(X.dtype)
    if activation == "erf":
        X64 = X.to(torch.float64)
        dots = X64 @ X64.T
        sq = dots.diagonal()
        det = (1.0 + 2.0 * sq[:, None]) * (1.0 + 2.0 * sq[None, :]) - 4.0 * dots**2
        return (dots * (4.0 / math.pi) / det.sqrt()).to(X.dtype)
    activate(activation, torch.zeros(1))
    return _expected_derivative_product(X, activation, mc_samples, generator) * (X @ X.T)


def _angles(X: torch.Tensor) -> torch.Tensor:
    """Pairwise angles between the rows of X, as 2 atan2(|u - v|, |u + v|) of the unit rows
    (accurate near 0 and pi, where arccos of the cosine loses half the digits); 0 for x = 0."""
    unit = X / X.norm(dim=1, keepdim=True).clamp_min(torch.finfo(X.dtype).tiny)
    exact = "donot_use_mm_for_euclid_dist"
    apart = torch.cdist(unit, unit, compute_mode=exact)
    together = torch.cdist(unit, -unit, compute_mode=exact)
    return 2.0 * torch.atan2(apart, together)


def _backpropagated(model: MLP, X: torch.Tensor):
    """For each layer from the output down: (layer, its inputs (n, fan_in), the signals
    d f^k / d its pre-activation (n, m, fan_out)), the signals found analytically."""
    layers = list(model.layers)
    inputs, pre = [], []
    h = X
    for layer in layers:
        inputs.append(h)
        a = layer(h)
        pre.append(a)
        h = activate(model.activation, a)
    n, m = X.shape[0], model.out_dim
    signal = torch.eye(m, dtype=X.dtype, device=X.device).expand(n, m, m)
    for index in range(len(layers) - 1, -1, -1):
        layer = layers[index]
        yield layer, inputs[index], signal
        if index > 0:
            slope = activate_derivative(model.activation, pre[index - 1])
            signal = (signal @ layer.weight) * slope[:, None, :]


def _ntk_mlp(model: MLP, X: torch.Tensor) -> torch.Tensor:
    """Sum over layers of (Gram of the layer's inputs + 1) * (Gram of the backpropagated
    signals d f^k / d pre-activation)."""
    n, m = X.shape[0], model.out_dim
    H = torch.zeros(n, m, n, m, dtype=X.dtype, device=X.device)  # summed as (i, k, j, l): contiguous
    for layer, inputs, signal in _backpropagated(model, X):
        _add_layer_term(H, layer, inputs, signal)
    return H.permute(0, 2, 1, 3).contiguous()


def _trace_ntk_mlp(model: MLP, X: torch.Tensor) -> torch.Tensor:
    """_ntk_mlp's trace over the outputs without the (n, n, m, m) kernel: per layer, the
    factor of _add_layer_term times sum_k S_k S_k^T, S_k (n, fan_out) the signals of output k."""
    n = X.shape[0]
    H = torch.zeros(n, n, dtype=X.dtype, device=X.device)
    for layer, inputs, signal in _backpropagated(model, X):
        factor = _layer_factor(layer, inputs, n, H.dtype)
        if factor is not None:
            per_output = signal.transpose(0, 1)  # (m, n, fan_out)
            H.addcmul_(factor, torch.bmm(per_output, per_output.transpose(1, 2)).sum(0))
    return H


def _layer_factor(layer: nn.Linear, inputs: torch.Tensor, n: int, dtype: torch.dtype) -> torch.Tensor | None:
    """(n, n): the Gram of the layer's inputs if its weight is trained, plus 1 if its bias is;
    None when neither is."""
    weight = layer.weight.requires_grad
    bias = layer.bias is not None and layer.bias.requires_grad
    if not (weight or bias):
        return None
    factor = inputs @ inputs.T if weight else torch.zeros(n, n, dtype=dtype, device=inputs.device)
    return factor + 1.0 if bias else factor


def _add_layer_term(H: torch.Tensor, layer: nn.Linear, inputs: torch.Tensor, signal: torch.Tensor) -> None:
    """H (n, m, n, m) += (inputs Gram [if weight trained] + 1 [if bias trained]) * signal Gram."""
    n, m = signal.shape[:2]
    factor = _layer_factor(layer, inputs, n, H.dtype)
    if factor is None:
        return
    flat = signal.reshape(n * m, -1)
    H.addcmul_(factor[:, None, :, None], (flat @ flat.T).view(n, m, n, m))


def _ntk_averaging(model: AveragingNet, X: torch.Tensor) -> torch.Tensor:
    """Prop 4.3: delta_kl (x_i . x_j / N^2) sum_r sigma'(w_{k,r} . x_i) sigma'(w_{k,r} . x_j)."""
    n, m, N = X.shape[0], model.out_dim, model.width
    if not model.weight.requires_grad:
        return torch.zeros(n, n, m, m, dtype=X.dtype, device=X.device)
    slope = activate_derivative(model.activation, X @ model.weight.T).reshape(n, m, N)
    per_output = slope.permute(1, 0, 2) @ slope.permute(1, 2, 0)
    return _block_diagonal((X @ X.T) * per_output / N**2, m)


def _block_diagonal(K: torch.Tensor, m: int) -> torch.Tensor:
    """(n, n, m, m) kernel that is zero off the output diagonal, from K (n, n) shared by all
    outputs or (m, n, n) one per output."""
    n = K.shape[-1]
    H = torch.zeros(n, n, m, m, dtype=K.dtype, device=K.device)
    diagonal = H.diagonal(dim1=2, dim2=3)
    diagonal.copy_(K.permute(1, 2, 0) if K.dim() == 3 else K[:, :, None].expand(n, n, m))
    return H


def _ntk_jacobian(model: nn.Module, X: torch.Tensor) -> torch.Tensor:
    """J J^T with the per-sample Jacobian from vmap(jacrev), built a chunk of samples at a time;
    chunks are kept when all of J fits in a few chunks' memory and recomputed otherwise."""
    trained = {name: p.detach() for name, p in model.named_parameters() if p.requires_grad}
    fixed = {name: p.detach() for name, p in model.named_parameters() if not p.requires_grad}
    fixed.update(dict(model.named_buffers()))
    n = X.shape[0]

    def single(params: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        out = functional_call(model, {**params, **fixed}, (x.unsqueeze(0),))
        return out.reshape(-1)

    per_sample = vmap(jacrev(single), in_dims=(None, 0))

    def jacobian(rows: slice) -> torch.Tensor:
        blocks = per_sample(trained, X[rows])
        return torch.cat([b.flatten(start_dim=2) for b in blocks.values()], dim=2)

    with torch.no_grad():
        m = single(trained, X[0]).numel()
    if not trained:
        return torch.zeros(n, n, m, m, dtype=X.dtype, device=X.device)
    count = sum(p.numel() for p in trained.values())
    chunk = max(1, JACOBIAN_CHUNK_BYTES // (m * count * X.element_size()))
    starts = list(range(0, n, chunk))
    keep = len(starts) <= 4
    cache = [jacobian(slice(s, s + chunk)) for s in starts] if keep else []
    H = torch.zeros(n, n, m, m, dtype=X.dtype, device=X.device)
    for a, sa in enumerate(starts):
        Ja = cache[a] if keep else jacobian(slice(sa, sa + chunk))
        for b in range(a + 1):
            sb = starts[b]
            Jb = cache[b] if keep else (Ja if a == b else jacobian(slice(sb, sb + chunk)))
            block = torch.einsum("ikp,jlp->ijkl", Ja, Jb)
            H[sa : sa + chunk, sb : sb + chunk] = block
            H[sb : sb + chunk, sa : sa + chunk] = block.permute(1, 0, 3, 2)
    return H


def _reinitialised_copy(model: nn.Module, generator: torch.Generator | None) -> nn.Module:
    """A deep copy of `model` with every submodule's reset_parameters() rerun under a seed drawn
    from `generator` (an MLP's hidden weights then times its init gain, as at its construction),
    on the model's device. The weights are drawn by the CPU's generator and moved there, so a
    copy on a GPU has the very weights of the CPU's; the global RNG state is left as it was."""
    where = next(model.parameters()).device
    clone = copy.deepcopy(model).to("cpu")
    seed = int(torch.randint(2**62, (1,), generator=generator, device=generator.device if generator else None).item())
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for module in clone.modules():
            owns = any(True for _ in module.parameters(recurse=False))
            reset = getattr(module, "reset_parameters", None)
            if owns and reset is None:
                raise ValueError(
                    f"limit_kernel: {type(module).__name__} has parameters but no "
                    "reset_parameters(), so it cannot be re-initialised"
                )
            if owns:
                reset()
    if isinstance(clone, MLP):
        clone.apply_gain()
    return clone.to(where)


def _expected_derivative_product(
    X: torch.Tensor, activation: str, samples: int, generator: torch.Generator | None
) -> torch.Tensor:
    """Monte Carlo E_w[sigma'(w.x_i) sigma'(w.x_j)], w ~ N(0, I), from `samples` draws."""
    n, d = X.shape
    total = torch.zeros(n, n, dtype=X.dtype, device=X.device)
    where = generator.device if generator is not None else X.device
    for start in range(0, samples, MC_CHUNK):
        count = min(MC_CHUNK, samples - start)
        W = torch.randn(count, d, generator=generator, device=where, dtype=X.dtype).to(X.device)
        slope = activate_derivative(activation, X @ W.T)
        total += slope @ slope.T
    return total / samples

"""Start points for a data-blind start (paper eq 17): targets on the latent circle or sphere
unrelated to the data, evenly spaced (a symmetric, stationary measure; Theorem 3.2) or a
random clump in a cap; and `fit_network`, which makes the network itself map the data onto
such targets (the "fitted" start, which training can move because it lives in theta), with
the fitted weights of the last few fits kept in memory (a replay, an export or a restart of
the same run fits once).

Seeded through an explicit torch.Generator; tensors come out in the asked dtype.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

import torch
from torch import nn

FIT_LR = 3e-3  # Adam's step for fit_network: fast for the presets' small MLPs, no divergence seen
FIT_COPIES = 2  # jittered copies of the samples in each fit step
FIT_BATCH = 1024  # samples the fit sees: all of them up to this many, else a fixed random subset
FIT_PROGRESS_EVERY = 50  # fit steps between two calls of fit_network's progress
FITS_KEPT = 8
_fits: OrderedDict[Hashable, dict[str, torch.Tensor]] = OrderedDict()
_fits_lock = threading.Lock()


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


def fit_network(
    model: nn.Module,
    X: torch.Tensor,
    targets: torch.Tensor,
    steps: int,
    noise: float,
    generator: torch.Generator,
    progress: Callable[[int, int], None] | None = None,
) -> float:
    """Fit `model` in place to the data-blind map sample i -> targets[i] (paper eq 17's
    targets, realised by the network): `steps` Adam steps (lr FIT_LR) on the mean squared
    error |f(x) - target_i|^2 over FIT_COPIES copies of the samples X (n, d), each jittered by
    Gaussian noise of std `noise` (input units, drawn from `generator`); targets (n, m). Above
    FIT_BATCH samples the fit takes a random FIT_BATCH of them, drawn once, with their
    targets, so its cost does not grow with n; the other samples go where the fitted map sends
    them. (A fresh random subset every step asked the same map for a different scatter each
    time, and at 100k samples it sent each cluster to one place: on fig5-2d's data at 100k,
    silhouette 0.07 and uniformity -0.71 at step 0, against -0.06 and -1.35 with the subset
    kept; the uniform law's uniformity is -1.575.) A width-64 MLP cannot memorise n random targets, so the fit is
    partial (mean squared error about 0.9 of |target|^2 for fig5-2d), but what it leaves has
    no trace of the clusters. The jitter sets how smooth the fitted map is, measured on
    fig5-2d (40 seeds for the start, 12 for the run): 0 leaves a map so rough that the step
    rule stalls the run on 2 of 12 seeds; 0.05 gives step-0 silhouettes of at most 0.09 and
    groups within 1000 steps; the
    views' own 0.1 smooths enough to keep some clusters (silhouette up to 0.29). Runs in one
    intra-op thread, so the fitted weights are the same for any thread count. `progress(done,
    steps)`, when given, is called every FIT_PROGRESS_EVERY steps and after the last; an
    exception from it ends the fit there. Returns the last mean squared error."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        optimiser = torch.optim.Adam(model.parameters(), lr=FIT_LR)
        error = torch.zeros(())
        if X.shape[0] > FIT_BATCH:
            kept = torch.randperm(X.shape[0], generator=generator, device=X.device)[:FIT_BATCH]
            X, targets = X[kept], targets[kept]
        shape = (FIT_COPIES, *X.shape)
        for step in range(1, steps + 1):
            inputs = X + noise * torch.randn(shape, generator=generator, device=X.device, dtype=X.dtype)
            out = model(inputs.reshape(-1, X.shape[1])).reshape(FIT_COPIES, X.shape[0], -1)
            error = ((out - targets) ** 2).sum(-1).mean()
            optimiser.zero_grad(set_to_none=True)
            error.backward()
            optimiser.step()
            if progress is not None and (step % FIT_PROGRESS_EVERY == 0 or step == steps):
                progress(step, steps)
        model.zero_grad(set_to_none=True)
        return float(error.detach())
    finally:
        torch.set_num_threads(threads)


def fit_network_once(key: Hashable, fit: Callable[[], float], model: nn.Module) -> None:
    """fit() (fit_network on `model`), or the weights it gave for the same `key` (everything
    the fit depends on: the samples, the network's spec and seed, the targets, the steps, the
    jitter) when one of the last FITS_KEPT fits had it; the result is the same either way."""
    with _fits_lock:
        state = _fits.get(key)
        if state is not None:
            _fits.move_to_end(key)
    if state is None:
        fit()
        state = {name: value.detach().clone() for name, value in model.state_dict().items()}
        with _fits_lock:
            _fits[key] = state
            while len(_fits) > FITS_KEPT:
                _fits.popitem(last=False)
    else:
        model.load_state_dict(state)

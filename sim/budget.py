"""Memory budget: an estimate, from the preset and the number of samples alone, of the most
memory a run holds at once, checked against what the device has free before anything large
is allocated, so a run that cannot fit is refused with one line instead of failing inside
torch's allocator.

The estimate counts, in the run's float size: the samples and their views; the network's
parameters with their gradients and optimiser state; the activations a forward and backward
pass over all views keeps (each hidden layer's pre- and post-activation and its gradient,
twice over for the network's pass over the clean samples, kept between steps, and its
forward-mode derivative); the loss's tiles; the infinite-width kernel (an (n m)^2 matrix)
when the limit kernel may be used; and a fixed allowance for torch itself.
"""

from __future__ import annotations

import os

import torch

from sim.preset import Preset, PresetError

TILE_BYTES = 64 * 2**20  # the tiled loss's working set, with room (sim/losses.py)
OVERHEAD_BYTES = 256 * 2**20  # torch's own allocations, the heatmap's subsample, frames
OPTIMISER_COPIES = {"gd": 2, "momentum": 3, "adam": 4}  # parameter, gradient, and state


def parameters(preset: Preset, dim: int) -> int:
    """The network's parameter count for inputs of `dim` features (sim/networks.py)."""
    net, m = preset.network, preset.network.latent_dim
    if net.kind == "averaging":
        return m * net.width * dim
    w = net.width  # `depth` hidden layers of `width` units, then a linear output
    return (dim + 1) * w + (net.depth - 1) * (w + 1) * w + (w + 1) * m


def estimate_bytes(preset: Preset, n: int, dim: int) -> int:
    """Bytes a run of `preset` on n samples of `dim` features holds at its peak (an estimate,
    on the generous side)."""
    size = 8 if preset.dtype == "float64" else 4
    rows = n * preset.views.count
    net = preset.network
    layers = 1 if net.kind == "averaging" else net.depth
    width = net.width * (net.latent_dim if net.kind == "averaging" else 1)
    activations = 2 * 3 * rows * width * layers
    data = (n + rows) * dim * 2
    params = parameters(preset, dim) * OPTIMISER_COPIES[preset.training.optimizer]
    kernels = {preset.training.kernel, *(s.kernel for s in preset.training.switches)}
    limit = (n * net.latent_dim) ** 2 if "limit" in kernels else 0
    return size * (activations + data + params) + 8 * limit + TILE_BYTES + OVERHEAD_BYTES


def available_bytes(device: torch.device) -> int:
    """Memory free for the run now: the GPU's free memory, or the system's available memory."""
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return int(free)
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")


def check_fits(preset: Preset, n: int, dim: int, device: torch.device, source: str) -> None:
    """PresetError, one line naming `source` with the estimate and the memory available, when
    the run would not fit on `device`."""
    need, free = estimate_bytes(preset, n, dim), available_bytes(device)
    if need > free:
        raise PresetError(
            f"{source}: memory: the run needs about {need / 2**30:.1f} GiB ({n:,} samples, {preset.views.count} views, "
            f"network {preset.network.depth} x {preset.network.width}) but {device} has {free / 2**30:.1f} GiB free; "
            "use fewer samples, views or a smaller network"
        )

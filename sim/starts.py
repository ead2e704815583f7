"""Start points for a data-blind start (paper eq 17): targets on the latent circle or sphere
unrelated to the data, evenly spaced (a symmetric, stationary measure; Theorem 3.2) or a
random clump in a cap.

Seeded through an explicit torch.Generator; tensors come out in the asked dtype.
"""

from __future__ import annotations

import math

import torch


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

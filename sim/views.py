"""Views (augmentations, the set G with law nu of the paper): each sample's V views, drawn
afresh each step: Gaussian noise, noise orthogonal to the data's curve, small rotations and
rescalings, and one-pixel shifts of images.

Everything here is seeded through an explicit torch.Generator.
"""

from __future__ import annotations

import torch

from sim.preset import ViewsSpec


def shift_images(x: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """Each row of x is a square image (d = s * s pixels); move it by a random whole number
    of pixels in +-max_shift along each axis, filling the uncovered border with 0."""
    n, d = x.shape
    side = round(d**0.5)
    if side * side != d:
        raise ValueError(f"views.shift: expected square images (d = s * s), got d = {d}")
    images = x.reshape(n, side, side)
    pad = torch.nn.functional.pad(images, (max_shift,) * 4)
    dy, dx = torch.randint(0, 2 * max_shift + 1, (2, n), generator=generator, device=x.device)
    rows = dy[:, None] + torch.arange(side, device=x.device)[None, :]
    cols = dx[:, None] + torch.arange(side, device=x.device)[None, :]
    out = pad[torch.arange(n, device=x.device)[:, None, None], rows[:, :, None], cols[:, None, :]]
    return out.reshape(n, d)


def _rotate(x: torch.Tensor, max_angle: float, generator: torch.Generator) -> torch.Tensor:
    n, d = x.shape
    device, dtype = x.device, x.dtype
    a = torch.randn(n, d, generator=generator, device=device, dtype=dtype)
    a = a / a.norm(dim=1, keepdim=True).clamp_min(1e-12)
    b = torch.randn(n, d, generator=generator, device=device, dtype=dtype)
    b = b - (b * a).sum(1, keepdim=True) * a
    b = b / b.norm(dim=1, keepdim=True).clamp_min(1e-12)
    angle = (2.0 * torch.rand(n, 1, generator=generator, device=device, dtype=dtype) - 1.0) * max_angle
    xa, xb = (x * a).sum(1, keepdim=True), (x * b).sum(1, keepdim=True)
    cos, sin = torch.cos(angle), torch.sin(angle)
    return x + (cos - 1.0) * (xa * a + xb * b) + sin * (xa * b - xb * a)


def make_views(
    X: torch.Tensor,
    spec: ViewsSpec,
    generator: torch.Generator,
    tangents: torch.Tensor | None = None,
) -> torch.Tensor:
    """Fresh views of every sample: (V, n, d), each x' = (1 + s) R shift(x) + noise, with
    shift moving square images by whole pixels in +-spec.shift, s uniform in +-spec.scale, R a
    rotation by an angle uniform in +-spec.rotation (radians) in a random 2-plane, noise
    Gaussian of std spec.noise plus Gaussian of std spec.orthogonal_noise normal to the data
    curve. `tangents` (n, d) are the curve's unit tangents at the samples (None: no curve)."""
    views = []
    for _ in range(spec.count):
        x = X
        if spec.shift > 0:
            x = shift_images(x, spec.shift, generator)
        if spec.rotation > 0:
            x = _rotate(x, spec.rotation, generator)
        if spec.scale > 0:
            s = 2.0 * torch.rand(X.shape[0], 1, generator=generator, device=X.device, dtype=X.dtype) - 1.0
            x = x * (1.0 + spec.scale * s)
        if spec.noise > 0:
            x = x + spec.noise * torch.randn(x.shape, generator=generator, device=X.device, dtype=X.dtype)
        if spec.orthogonal_noise > 0 and tangents is not None:
            xi = torch.randn(x.shape, generator=generator, device=X.device, dtype=X.dtype)
            xi = xi - (xi * tangents).sum(1, keepdim=True) * tangents
            x = x + spec.orthogonal_noise * xi
        views.append(x)
    return torch.stack(views)

"""The CUDA path against the CPU, for a lent GPU machine (tests stay CPU-only): the loss and
its gradient (fused Triton kernel and torch tiles) against the dense one in float64 on the
CPU; the kernel's shapes timed at 1M views; a fig5-2d run of 50 steps and its frame
(velocities, kernel heatmap) and its limit kernel on CUDA against the same on the CPU. Prints one line per
check and exits 1 if any fails.

    python3 bench/cuda_check.py [--device cuda]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from unittest import mock

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_ntk import measure
from bench.bench_scale import dense_loss
from sim import Simulation, fused_lse, load_preset
from sim.losses import _fused_works, contrastive_loss
from sim.preset import with_changes


def relative(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30))


def loss_check(device: torch.device) -> list[tuple[str, float, float]]:
    """The losses on `device` (float32; by the fused kernels where they serve, and by the torch
    tiles) against the dense float64 loss on the CPU."""
    out = []
    paths = [("fused kernels", True), ("torch tiles", False)] if _fused_serves(device) else [("torch tiles", False)]
    if len(paths) == 2:  # set aside at its first use (a warning says why), the kernel would serve nothing
        out.append(("fused kernel set aside at its first use (1: yes)", float(not _fused_works(str(device))), 0.5))
    for kind in ("nt_xent", "generalized"):
        g = torch.Generator().manual_seed(1)
        Z64 = torch.randn(2, 3000, 3, generator=g, dtype=torch.float64)
        Z64 = Z64 / Z64.norm(dim=-1, keepdim=True)
        ref = Z64.clone().requires_grad_(True)
        loss_ref = dense_loss(ref, kind, 0.5)
        (grad_ref,) = torch.autograd.grad(loss_ref, ref)
        for path, fused in paths:
            with mock.patch.object(fused_lse, "ENABLED", fused):
                Z = Z64.to(device, torch.float32).requires_grad_(True)
                loss = contrastive_loss(Z, kind, 0.5, "log")
                (grad,) = torch.autograd.grad(loss, Z)
            what = f"{kind}, 6000 views, float32 on {device} ({path}) vs float64 dense on cpu"
            out.append((f"{what}: loss", relative(loss.item(), loss_ref.item()), 1e-5))
            out.append((f"{what}: gradient", relative(grad.cpu(), grad_ref), 1e-4))
    return out


def _fused_serves(device: torch.device) -> bool:
    return fused_lse.usable(torch.zeros(1, 3, device=device))


def shape_check(device: torch.device, rows: int = 1_000_000) -> list[tuple[str, float, float]]:
    """Seconds of loss + gradient at `rows` views for a few kernel shapes (rows per program,
    columns per step, warps), the default first: printed to choose the shape from."""
    if device.type != "cuda" or not _fused_serves(device):
        return []
    from triton.compiler.errors import CompilationError
    from triton.runtime.errors import OutOfResources

    g = torch.Generator(device=device).manual_seed(4)
    Z = torch.randn(2, rows // 2, 3, generator=g, device=device)
    Z = (Z / Z.norm(dim=-1, keepdim=True)).requires_grad_(True)
    chosen = (fused_lse.BLOCK_ROWS, fused_lse.BLOCK_COLUMNS, fused_lse.NUM_WARPS)
    out = []
    for shape in dict.fromkeys([chosen, (128, 64, 4), (128, 64, 8), (64, 32, 4)]):
        block_rows, block_columns, warps = shape
        try:
            with mock.patch.multiple(fused_lse, BLOCK_ROWS=block_rows, BLOCK_COLUMNS=block_columns, NUM_WARPS=warps):
                # best of two: the first run compiles the kernel
                seconds = measure(lambda: torch.autograd.grad(contrastive_loss(Z, "nt_xent", 0.5), Z), device, 2)[1]
        except (RuntimeError, OutOfResources, CompilationError) as exc:  # a finding, not the end of the run
            print(f"kernel shape {shape}: {type(exc).__name__}: {exc}".splitlines()[0])
            seconds = float("inf")
        mark = " (the default)" if shape == chosen else ""
        out.append((f"kernel shape {shape}{mark}: seconds for loss + gradient at {rows:,} views", seconds, 1.0))
    return out


def run_check(device: torch.device) -> list[tuple[str, float, float]]:
    """fig5-2d on `device` against the CPU: its start (the fitted network, fitted on the CPU
    for both) and the run after 50 steps (views drawn on the CPU for both)."""
    frames = []
    for where in ("cpu", str(device)):
        sim = Simulation(with_changes(load_preset("fig5-2d"), {"device": where}))
        start = sim.frame(with_kernel=True)
        sim.step(50)
        frames.append((start, sim.frame(with_kernel=True)))
    out = []
    for when, cpu, gpu in zip(("at its start", "after 50 steps"), *frames):
        out += [
            (f"fig5-2d {when}: embeddings", relative(gpu.Z, cpu.Z), 1e-3),
            (f"fig5-2d {when}: loss", relative(gpu.loss, cpu.loss), 1e-4),
            # the start's gain of 6 makes the map chaotic: rounding differences at the start
            # (1e-4 in Z on an H200) grow to 1e-3 in Z and 1.3e-2 in velocities after 50 steps
            (f"fig5-2d {when}: NN velocities", relative(gpu.velocity["nn"], cpu.velocity["nn"]), 3e-2),
            (f"fig5-2d {when}: kernel heatmap H", relative(gpu.H, cpu.H), 1e-3),
        ]
    # the limit kernel's Monte Carlo networks are drawn on the CPU for both
    limits = [
        Simulation(with_changes(load_preset("fig5-2d"), {"device": where})).limit_H() for where in ("cpu", str(device))
    ]
    out.append(("fig5-2d's limit kernel (mean NTK of fresh networks)", relative(limits[1].cpu(), limits[0]), 1e-3))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    device = torch.device(parser.parse_args().device)
    print(f"torch {torch.__version__} on {torch.cuda.get_device_name(device) if device.type == 'cuda' else device}")
    failed = 0
    for what, error, bound in loss_check(device) + shape_check(device) + run_check(device):
        ok = error <= bound
        failed += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {what}: {error:.2e} (bound {bound:.0e})")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

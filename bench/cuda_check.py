"""The CUDA path against the CPU, for a lent GPU machine (tests stay CPU-only): the tiled
loss and its gradient against the dense one in float64 on the CPU; a fig5-2d run of 50 steps
and its frame (velocities, kernel heatmap) on CUDA against the same run on the CPU. Prints
one line per check and exits 1 if any fails.

    python3 bench/cuda_check.py [--device cuda]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_scale import dense_loss
from sim import Simulation, load_preset
from sim.losses import contrastive_loss


def relative(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30))


def loss_check(device: torch.device) -> list[tuple[str, float, float]]:
    out = []
    for kind in ("nt_xent", "generalized"):
        g = torch.Generator().manual_seed(1)
        Z64 = torch.randn(2, 3000, 3, generator=g, dtype=torch.float64)
        Z64 = Z64 / Z64.norm(dim=-1, keepdim=True)
        ref = Z64.clone().requires_grad_(True)
        loss_ref = dense_loss(ref, kind, 0.5)
        (grad_ref,) = torch.autograd.grad(loss_ref, ref)
        Z = Z64.to(device, torch.float32).requires_grad_(True)
        loss = contrastive_loss(Z, kind, 0.5, "log")
        (grad,) = torch.autograd.grad(loss, Z)
        out.append(
            (
                f"{kind} loss, 6000 views, float32 on {device} vs float64 dense on cpu",
                relative(loss.item(), loss_ref.item()),
                1e-5,
            )
        )
        out.append((f"{kind} gradient", relative(grad.cpu(), grad_ref), 1e-4))
    return out


def run_check(device: torch.device) -> list[tuple[str, float, float]]:
    frames = {}
    for where in ("cpu", str(device)):
        preset = load_preset("fig5-2d")
        preset.device = where
        sim = Simulation(preset)
        sim.step(50)
        frames[where] = sim.frame(with_kernel=True)
    cpu, gpu = frames["cpu"], frames[str(device)]
    return [
        ("fig5-2d after 50 steps: embeddings", relative(gpu.Z, cpu.Z), 1e-3),
        ("loss", relative(gpu.loss, cpu.loss), 1e-4),
        ("NN velocities", relative(gpu.velocity["nn"], cpu.velocity["nn"]), 1e-2),
        ("kernel heatmap H", relative(gpu.H, cpu.H), 1e-3),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    device = torch.device(parser.parse_args().device)
    print(f"torch {torch.__version__} on {torch.cuda.get_device_name(device) if device.type == 'cuda' else device}")
    failed = 0
    for what, error, bound in loss_check(device) + run_check(device):
        ok = error <= bound
        failed += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {what}: relative difference {error:.2e} (bound {bound:.0e})")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

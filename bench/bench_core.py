"""Simulation-core benchmark, side by side in one run: steps/s of each kernel on fig5-2d
(headless, frames every `every` steps as the command records them, and bare stepping), by the
compiled step (sim/fused_mlp.py) and by the torch step it replaced (the same run with the
compiled calls kept out), measured alternately; then the layer-wise NTK against the jacrev
contraction (bench_ntk).

    python bench/bench_core.py [--steps 300] [--device auto] [--skip-ntk]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from unittest import mock

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_ntk import run as run_ntk
from sim import Simulation, fused_mlp, load_preset
from sim.preset import with_changes
from sim.threads import threads_for

REPEATS = 3


def _rate(kernel: str, steps: int, device: str, every: int | None) -> float:
    """Steps/s of one timed run of `steps` steps (frames every `every` steps when given)."""
    sim = Simulation(with_changes(load_preset("fig5-2d"), {"training.kernel": kernel}), device=device)
    sim.step(5)
    sim.frame()
    start = time.perf_counter()
    done = 0
    while done < steps:
        chunk = min(every or steps, steps - done)
        sim.step(chunk)
        done += chunk
        if every:
            sim.frame()
    float(sim.frame().loss)
    return steps / (time.perf_counter() - start)


def steps_per_second(kernel: str, steps: int, device: str, every: int | None) -> dict[str, float]:
    """Best of REPEATS timed runs each, by the compiled step and by the torch step, alternately
    (a shared machine's speed drifts by more than the gap measured): {"compiled": steps/s,
    "torch": steps/s}."""
    best = {"compiled": 0.0, "torch": 0.0}
    for _ in range(REPEATS):
        best["compiled"] = max(best["compiled"], _rate(kernel, steps, device, every))
        with mock.patch.object(fused_mlp, "plan", lambda *args: None):
            best["torch"] = max(best["torch"], _rate(kernel, steps, device, every))
    return best


def run(steps: int = 300, device: str = "auto") -> dict:
    """Steps/s per kernel, with torch's intra-op threads set by sim.threads.threads_for for the
    run's size (as the run driver sets them): by the compiled step (the `*_steps_per_s` keys)
    and by the torch step (`torch_step_*`), and the compiled step's multiple of the torch step's
    (`*_speedup`)."""
    preset = load_preset("fig5-2d")
    threads, intra = (
        threads_for(sum(c.count for c in preset.data.clusters) * preset.views.count),
        torch.get_num_threads(),
    )
    rows = {"threads": threads}
    torch.set_num_threads(threads)
    try:
        for kernel in ("nn", "identity", "limit"):
            row = {}
            for name, every in (("bare", None), ("with_frames_every_20", 20)):
                rate = steps_per_second(kernel, steps, device, every)
                row[f"{name}_steps_per_s"] = rate["compiled"]
                row[f"torch_step_{name}_steps_per_s"] = rate["torch"]
                row[f"{name}_speedup"] = rate["compiled"] / rate["torch"]
            rows[kernel] = row
    finally:
        torch.set_num_threads(intra)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--skip-ntk", action="store_true")
    args = parser.parse_args()
    rows = run(args.steps, args.device)
    print(f"fig5-2d (n=256, 4 x 64 tanh MLP), {args.steps} steps, device {args.device}, {rows.pop('threads')} threads")
    print(f"{'kernel':10} {'bare steps/s (torch step, x)':>30} {'frames/20 steps (torch step, x)':>34}")
    for kernel, row in rows.items():
        cells = [
            f"{row[f'{name}_steps_per_s']:.0f} ({row[f'torch_step_{name}_steps_per_s']:.0f}, "
            f"{row[f'{name}_speedup']:.2f}x)"
            for name in ("bare", "with_frames_every_20")
        ]
        print(f"{kernel:10} {cells[0]:>30} {cells[1]:>34}")
    if not args.skip_ntk:
        r = run_ntk(device=args.device)
        print(f"\nNTK n={r['n']}, {r['depth']} x {r['width']} MLP on {r['device']}:")
        print(f"  layer-wise {r['layerwise_s']:.3f} s, jacrev {r['jacrev_s']:.3f} s -> {r['speedup']:.0f}x faster")
        print(f"  max |diff| / max |H| = {r['max_abs_diff_over_max_abs']:.1e}")


if __name__ == "__main__":
    main()

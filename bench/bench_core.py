"""Simulation-core benchmark, side by side in one run: steps/s of each kernel on fig5-2d
(headless, frames every `every` steps as the command records them, and bare stepping), then
the layer-wise NTK against the jacrev contraction (bench_ntk).

    python bench/bench_core.py [--steps 300] [--device auto] [--skip-ntk]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_ntk import run as run_ntk
from sim import Simulation, load_preset
from sim.preset import with_changes
from sim.threads import threads_for


def steps_per_second(kernel: str, steps: int, device: str, every: int | None) -> float:
    """Best of two timed runs of `steps` steps (frames every `every` steps when given)."""
    best = 0.0
    for _ in range(2):
        p = with_changes(load_preset("fig5-2d"), {"training.kernel": kernel})
        sim = Simulation(p, device=device)
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
        best = max(best, steps / (time.perf_counter() - start))
    return best


def run(steps: int = 300, device: str = "auto") -> dict:
    """Steps/s per kernel, with torch's intra-op threads set by sim.threads.threads_for for the
    run's size (as the run driver sets them)."""
    preset = load_preset("fig5-2d")
    threads, intra = (
        threads_for(sum(c.count for c in preset.data.clusters) * preset.views.count),
        torch.get_num_threads(),
    )
    rows = {"threads": threads}
    torch.set_num_threads(threads)
    try:
        for kernel in ("nn", "identity", "limit"):
            rows[kernel] = {
                "bare_steps_per_s": steps_per_second(kernel, steps, device, None),
                "with_frames_every_20_steps_per_s": steps_per_second(kernel, steps, device, 20),
            }
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
    print(f"{'kernel':10} {'bare steps/s':>14} {'frames/20 steps':>16}")
    for kernel, row in rows.items():
        print(f"{kernel:10} {row['bare_steps_per_s']:14.0f} {row['with_frames_every_20_steps_per_s']:16.0f}")
    if not args.skip_ntk:
        r = run_ntk(device=args.device)
        print(f"\nNTK n={r['n']}, {r['depth']} x {r['width']} MLP on {r['device']}:")
        print(f"  layer-wise {r['layerwise_s']:.3f} s, jacrev {r['jacrev_s']:.3f} s -> {r['speedup']:.0f}x faster")
        print(f"  max |diff| / max |H| = {r['max_abs_diff_over_max_abs']:.1e}")


if __name__ == "__main__":
    main()

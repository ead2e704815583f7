"""Headless runs: `python main.py run PRESET ...` steps a Simulation with no window and
records its frames to an .npz file, with progress on stderr.

Recorded keys (F frames, n samples, d input dims, m latent dims, K clusters):
X (n, d), labels (n), steps (F), kernel (F, str), Z (F, n, m), loss (F),
metric_<name> (F) for alignment, uniformity, silhouette, invariance, block_ratio,
metric_R (F, K), metric_neighbour_angle (F, K), centers (F, K, m),
velocity_<kernel> (F, n, m) and cluster_velocity_<kernel> (F, K, m) for nn and identity.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from sim.driver import RunDriver
from sim.files import atomic_path
from sim.frame import Frame
from sim.preset import KERNELS, PresetError, load_preset, with_changes
from sim.simulation import Divergence


def record(frames: list[Frame]) -> dict[str, np.ndarray]:
    """Stack frames into the arrays an .npz run file holds."""
    last = frames[-1]
    out = {
        "X": last.X,
        "labels": last.labels,
        "steps": np.array([f.step for f in frames]),
        "kernel": np.array([f.kernel for f in frames]),
        "Z": np.stack([f.Z for f in frames]),
        "loss": np.array([f.loss for f in frames]),
        "centers": np.stack([f.centers for f in frames]),
    }
    for name in last.metrics:
        out[f"metric_{name}"] = np.array([f.metrics[name] for f in frames])
    for name in last.cluster_metrics:
        out[f"metric_{name}"] = np.stack([f.cluster_metrics[name] for f in frames])
    for name in ("nn", "identity"):
        out[f"velocity_{name}"] = np.stack([f.velocity[name] for f in frames])
        out[f"cluster_velocity_{name}"] = np.stack([f.cluster_velocity[name] for f in frames])
    return out


def run(driver: RunDriver, steps: int, every: int, progress=None) -> list[Frame]:
    """The run's frames (RunDriver.record) at step 0, every `every` steps and at `steps`;
    progress(step, steps, frame) after each one but the first."""
    frames = []
    for (frame, *_twin), _events in driver.record(steps, every):
        frames.append(frame)
        if progress and len(frames) > 1:
            progress(frame.step, steps, frame)
    return frames


def save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write atomically: nothing appears under `path` unless the whole file was written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        np.savez(tmp, **arrays)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="main.py run", description="Run a preset with no window and record it.")
    p.add_argument("preset", help="a shipped preset's name (see presets/) or a preset file")
    p.add_argument("--steps", type=int, help="steps to run (default: the preset's)")
    p.add_argument("--every", type=int, help="record a frame every K steps (default: the preset's)")
    p.add_argument("--kernel", choices=KERNELS, help="kernel to start with (default: the preset's)")
    p.add_argument("--seed", type=int, help="random seed (default: the preset's)")
    p.add_argument("--device", help="cpu, cuda, cuda:N or auto (default: the preset's)")
    p.add_argument("--dtype", choices=("float32", "float64"), help="floating point precision")
    p.add_argument("--out", required=True, type=Path, help="the .npz file to write")
    return p


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    try:
        for name in ("steps", "every", "seed"):
            value = getattr(args, name)
            if value is not None and value < (0 if name == "seed" else 1):
                raise PresetError(f"--{name}: expected an integer >= {0 if name == 'seed' else 1}, got {value}")
        preset = load_preset(args.preset)
        overrides = {"seed": args.seed, "training.kernel": args.kernel}
        preset = with_changes(preset, {k: v for k, v in overrides.items() if v is not None}, args.preset)
        driver = RunDriver(preset, device=args.device, dtype=args.dtype)
        sim = driver.main
    except PresetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    steps, every = args.steps or preset.steps, args.every or preset.every
    start = time.perf_counter()

    def progress(step: int, total: int, frame: Frame) -> None:
        rate = step / max(time.perf_counter() - start, 1e-9)
        print(f"\rstep {step}/{total}  loss {frame.loss:.4f}  {rate:.0f} steps/s", end="", file=sys.stderr, flush=True)

    print(f"{preset.name}: n={sim.n}, device {sim.device}, kernel {sim.kernel}", file=sys.stderr)
    try:
        frames = run(driver, steps, every, progress)
    except Divergence as exc:
        print(f"\nerror: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ncancelled; nothing written", file=sys.stderr)
        return 130
    try:
        save_npz(args.out, record(frames))
    except OSError as exc:
        print(f"\nerror: --out: cannot write {args.out}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print(f"\nwrote {args.out} ({len(frames)} frames)", file=sys.stderr)
    return 0

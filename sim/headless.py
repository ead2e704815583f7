"""Headless runs, the library behind `python main.py run` (cli/run.py): step a run (sim/driver.py)
with no window, stack its frames into arrays and write them to an .npz file.

Recorded keys (F frames, n samples, d input dims, m latent dims, K clusters):
X (n, d), labels (n), steps (F), flow_time (F), step_size (F), max_move (F), kernel (F, str), Z (F, n, m), loss (F),
metric_<name> (F) for alignment, uniformity, silhouette, invariance, block_ratio,
metric_R (F, K), metric_neighbour_angle (F, K), centers (F, K, m),
velocity_<kernel> (F, n, m) and cluster_velocity_<kernel> (F, K, m) for nn and identity;
kernel_<name> (F) for distance, alignment, top_share and kernel_eigenvalues (F, 8)
(sim/kernel_evolution.py); with cluster flows (sim/cluster_dynamics.py): cluster_own_nn and
cluster_others_nn (F, K, m), cluster_velocity_spread_nn (F, K).
A run whose data edits (a saved run's schedule) change the number of samples or clusters: the
per-frame arrays are padded with NaN to the largest n and K, and frame_labels (F, n) gives each
frame's labels (-1 in the padding).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sim.cluster_dynamics import ClusterFlow, cluster_flow
from sim.driver import RunDriver
from sim.files import atomic_path
from sim.frame import Frame
from sim.simulation import Divergence


def record(frames: list[Frame], flows: list[ClusterFlow] | None = None) -> dict[str, np.ndarray]:
    """Stack frames (and the cluster flow at each, when given) into the arrays an .npz run file holds."""
    last = frames[-1]
    out = {
        "X": last.X,
        "labels": last.labels,
        "steps": np.array([f.step for f in frames]),
        "flow_time": np.array([f.flow_time for f in frames]),
        "step_size": np.array([f.step_size for f in frames]),
        "max_move": np.array([f.max_move for f in frames]),
        "kernel": np.array([f.kernel for f in frames]),
        "Z": _stack([f.Z for f in frames]),
        "loss": np.array([f.loss for f in frames]),
        "centers": _stack([f.centers for f in frames]),
    }
    if any(not np.array_equal(f.labels, last.labels) for f in frames):  # edits changed the data
        out["frame_labels"] = _stack([f.labels for f in frames], fill=-1)
    for name in last.metrics:
        out[f"metric_{name}"] = np.array([f.metrics[name] for f in frames])
    for name in last.cluster_metrics:
        out[f"metric_{name}"] = _stack([f.cluster_metrics[name] for f in frames])
    for name in ("nn", "identity"):
        out[f"velocity_{name}"] = _stack([f.velocity[name] for f in frames])
        out[f"cluster_velocity_{name}"] = _stack([f.cluster_velocity[name] for f in frames])
    for name in last.kernel_evolution:
        out[f"kernel_{name}"] = np.stack([f.kernel_evolution[name] for f in frames])
    if flows:
        out["cluster_own_nn"] = _stack([f.own for f in flows])
        out["cluster_others_nn"] = _stack([f.others for f in flows])
        out["cluster_velocity_spread_nn"] = _stack([f.spread for f in flows])
    return out


def _stack(items: list[np.ndarray], fill: float = np.nan) -> np.ndarray:
    """np.stack of per-frame arrays whose first axis (samples or clusters) may differ: each is
    padded with `fill` to the longest (a run whose edits changed n or K)."""
    longest = max(len(a) for a in items)
    if all(len(a) == longest for a in items):
        return np.stack(items)
    out = np.full((len(items), longest, *items[0].shape[1:]), fill, dtype=np.result_type(items[0].dtype, type(fill)))
    for i, a in enumerate(items):
        out[i, : len(a)] = a
    return out


def run(driver: RunDriver, steps: int, every: int, progress=None, flows: list | None = None) -> list[Frame]:
    """The run's frames (RunDriver.record) at step 0, every `every` steps and at `steps`;
    progress(step, steps, frame) after each one but the first. With a list `flows`, the
    cluster flow (Remark 4.4 / Theorem 4.5 terms) at each frame is appended to it. Divergence
    if a frame holds a NaN or inf result (Frame.non_finite): a run never records those as if
    they were results."""
    frames = []
    for (frame, *_twin), _events in driver.record(steps, every):
        bad = frame.non_finite()
        if bad:
            raise Divergence(f"frame at step {frame.step}: {', '.join(bad)} not finite; nothing written")
        frames.append(frame)
        if flows is not None:
            flows.append(cluster_flow(driver.main))
        if progress and len(frames) > 1:
            progress(frame.step, steps, frame)
    return frames


def save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write an .npz file under exactly the name `path` (numpy appends '.npz' to a name it is
    given, not to an open file), atomically: nothing appears under `path` unless the whole
    file was written. Missing parent folders are made; OSError if it cannot be written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp, tmp.open("wb") as fh:
        np.savez(fh, **arrays)

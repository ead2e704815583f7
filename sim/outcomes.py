"""Outcome measures of one run, read off its frames: when the clusters are captured (step and
flow time), how long they stay captured, the state at the end (loss, silhouette, uniformity,
alignment, smallest resultant length) and how far the kernel moved (sim/kernel_evolution.py).

Captured (a frame): silhouette >= `silhouette`, every cluster's resultant length R_k >=
`resultant`, and every cluster mean at least `angle_share` x 360/K degrees from its nearest
neighbour. The angle condition is ours, beyond silhouette and R_k: at the network's start the
whole embedding sits in one small arc, where clusters can already be compact and apart in
silhouette terms (fig5-2d at width 64: silhouette 0.8 at step 0) without having moved apart.
Times are flow times (Frame.flow_time: the sum of the step sizes taken, after the step rule).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sim.frame import Frame

MEASURES = (
    "capture_step",
    "capture_time",
    "captured_steps",
    "captured_time",
    "captured_at_end",
    "end_loss",
    "end_silhouette",
    "end_uniformity",
    "end_alignment",
    "end_min_R",
    "kernel_distance",
    "kernel_distance_max",
    "kernel_alignment_start",
    "kernel_alignment",
    "kernel_top_share",
    "kernel_top_eigenvalue",
)


@dataclass(frozen=True)
class Thresholds:
    """When a frame counts as captured (module docstring)."""

    silhouette: float = 0.5
    resultant: float = 0.9
    angle_share: float = 0.5


def captured(frame: Frame, thresholds: Thresholds) -> bool:
    """Whether the clusters are captured in `frame` (module docstring)."""
    R, angles = frame.cluster_metrics["R"], frame.cluster_metrics["neighbour_angle"]
    k = R.shape[0]
    apart = k < 2 or float(angles.min()) >= thresholds.angle_share * 360.0 / k
    return frame.metrics["silhouette"] >= thresholds.silhouette and float(R.min()) >= thresholds.resultant and apart


def outcomes(frames: list[Frame], thresholds: Thresholds) -> dict[str, float | bool]:
    """The MEASURES of a run from its frames (step order). Steps and flow times are nan when
    the clusters are never captured; captured_steps
    is the length of the first captured stretch (to the last frame when it lasts: then
    captured_at_end is true and it is a lower bound). ValueError for no frames."""
    if not frames:
        raise ValueError("outcomes: expected at least one frame")
    flags = [captured(f, thresholds) for f in frames]
    steps = [f.step for f in frames]
    start = flags.index(True) if True in flags else None
    capture = held = capture_time = held_time = math.nan
    if start is not None:
        lost = next((i for i in range(start, len(frames)) if not flags[i]), len(frames) - 1)
        capture, capture_time = float(steps[start]), frames[start].flow_time
        held, held_time = float(steps[lost] - steps[start]), frames[lost].flow_time - frames[start].flow_time
    first, last = frames[0], frames[-1]
    distances = [float(f.kernel_evolution["distance"]) for f in frames]
    return {
        "capture_step": capture,
        "capture_time": capture_time,
        "captured_steps": held,
        "captured_time": held_time,
        "captured_at_end": bool(flags[-1]),
        "end_loss": float(last.loss),
        "end_silhouette": float(last.metrics["silhouette"]),
        "end_uniformity": float(last.metrics["uniformity"]),
        "end_alignment": float(last.metrics["alignment"]),
        "end_min_R": float(last.cluster_metrics["R"].min()),
        "kernel_distance": distances[-1],
        "kernel_distance_max": float(np.nanmax(distances)) if not np.all(np.isnan(distances)) else math.nan,
        "kernel_alignment_start": float(first.kernel_evolution["alignment"]),
        "kernel_alignment": float(last.kernel_evolution["alignment"]),
        "kernel_top_share": float(last.kernel_evolution["top_share"]),
        "kernel_top_eigenvalue": float(last.kernel_evolution["eigenvalues"][0]),
    }

"""Frame: an immutable CPU snapshot of a simulation, what the window draws and what a
headless run records. Holds numpy copies only, so a consumer can keep it while the
simulation steps on."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Frame:
    """One moment of a run.

    step: steps taken so far; kernel: the kernel the next step uses ('nn', 'identity', 'limit').
    X (n, d) clean samples; labels (n,); Z (n, m) their embeddings on the sphere.
    loss: the loss on the views the next step uses.
    metrics: scalar metrics (alignment, uniformity, silhouette, invariance, block_ratio).
    cluster_metrics: per-cluster arrays (K,): R (resultant length), neighbour_angle (degrees).
    centers (K, m): unit mean directions of the clusters.
    velocity: kernel -> (n, m) tangent displacement of each sample's embedding in one step.
    cluster_velocity: kernel -> (K, m) the same averaged over each cluster, tangent at its centre.
    flow_time: t, the sum of the step sizes eta so far (du = -eta H grad L per step, with H the
    kernel of that step: H(theta), n I or H_inf; the same units for all three kernels);
    step_size: eta of the last step (the step rule may cut it below lr); max_move: the largest
    angle in radians any embedding moved in the last step (0 before the first).
    H (s, s): trace over outputs of the network kernel H(theta) on the samples H_index (sorted
    by cluster), when asked for.
    kernel_evolution: how far H(theta) moved from its start (sim/kernel_evolution.py: distance,
    alignment, top_share scalars and eigenvalues (8,)) on the samples H_index; nan without H.
    started_at: the step this run's state began at: 0, or for a side-by-side twin made during
    a run, the step it was copied from the run at.
    cluster_ids (K,): each cluster's identity through edits (Simulation.cluster_ids).
    """

    step: int
    kernel: str
    X: np.ndarray
    labels: np.ndarray
    Z: np.ndarray
    loss: float
    metrics: dict[str, float]
    cluster_metrics: dict[str, np.ndarray]
    centers: np.ndarray
    velocity: dict[str, np.ndarray]
    cluster_velocity: dict[str, np.ndarray]
    H: np.ndarray | None = None
    H_index: np.ndarray | None = None
    flow_time: float = 0.0
    step_size: float = 0.0
    max_move: float = 0.0
    kernel_evolution: dict[str, np.ndarray] = field(default_factory=dict)
    started_at: int = 0
    cluster_ids: np.ndarray | None = None

    def non_finite(self) -> list[str]:
        """Names of this frame's results that hold NaN or inf: the embeddings, the loss, the
        centres, the velocities and the metrics that are defined for any data (alignment,
        uniformity, invariance). Empty for a frame fit to record."""
        arrays = {"X": self.X, "Z": self.Z, "loss": np.asarray(self.loss), "centers": self.centers}
        arrays |= {f"velocity_{k}": v for k, v in self.velocity.items()}
        arrays |= {f"cluster_velocity_{k}": v for k, v in self.cluster_velocity.items()}
        arrays |= {f"metric_{k}": np.asarray(self.metrics[k]) for k in ("alignment", "uniformity", "invariance")}
        return [name for name, a in arrays.items() if not np.all(np.isfinite(a))]

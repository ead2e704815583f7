"""Preset changes several test modules share (applied with sim.preset.with_changes)."""

from __future__ import annotations


def helix_clusters(count: int) -> dict[str, object]:
    """Three clusters of `count` samples on a helix in 3-D (data.kind 'manifold'), views
    perturbed only off the curve."""
    return {
        "data.kind": "manifold",
        "data.dim": 3,
        "data.curve": "helix",
        "data.clusters": [{"center": [t], "count": count, "radius": 0.2} for t in (0.0, 2.0, 4.0)],
        "views.orthogonal_noise": 0.05,
        "views.noise": 0.0,
    }

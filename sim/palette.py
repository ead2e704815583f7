"""The cluster colours: cluster k is CLUSTER_HEX[k % 10] in the window (gui/colors.py), its
exports and the headless figures (sim/claims.py), so a cluster has one colour everywhere."""

from __future__ import annotations

CLUSTER_HEX = (
    "#4e9de6",
    "#f28e2b",
    "#e15759",
    "#59c1a6",
    "#8fd14f",
    "#edc948",
    "#c286d9",
    "#ff9da7",
    "#b58b6f",
    "#e8e8e8",
)


def cluster_rgb255(k: int) -> tuple[int, int, int]:
    """Cluster k's colour as 0-255 integers."""
    h = CLUSTER_HEX[k % len(CLUSTER_HEX)]
    return int(h[1:3], 16), int(h[3:5], 16), int(h[5:7], 16)

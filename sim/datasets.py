"""Data beyond synthetic clusters: scikit-learn's 8x8 digits (shipped inside the package, no
download) and user data from .npy or .csv files (n x d floats, optionally an integer label
in the last column). Each loader returns X (n, d) float64 and labels (n) as 0..K-1, or
raises PresetError with one line naming the file and what was expected.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import torch

from sim.preset import PresetError


def digits(classes: list[int], per_class: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The 8x8 digit images of the given classes as 64 pixel values in [0, 1]; at most
    `per_class` of each class (0: all), picked by the seed."""
    from sklearn.datasets import load_digits

    data = load_digits()
    rng = np.random.default_rng(seed)
    rows = []
    for c in classes:
        idx = np.nonzero(data.target == c)[0]
        if per_class:
            idx = np.sort(rng.choice(idx, size=min(per_class, idx.size), replace=False))
        rows.append(idx)
    idx = np.concatenate(rows)
    remap = {c: i for i, c in enumerate(classes)}
    labels = np.array([remap[int(t)] for t in data.target[idx]])
    return torch.from_numpy(data.data[idx] / 16.0), torch.from_numpy(labels)


def _read_csv(path: Path) -> np.ndarray:
    with path.open(newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.reader(fh) if r and any(cell.strip() for cell in r)]
    if rows and not _is_float(rows[0][0]):
        rows = rows[1:]  # a header line
    widths = {len(r) for r in rows}
    if len(widths) > 1:
        raise PresetError(f"{path}: data.path: expected the same number of columns on every line, got {sorted(widths)}")
    try:
        return np.array([[float(cell) for cell in r] for r in rows], dtype=np.float64)
    except ValueError as exc:
        raise PresetError(f"{path}: data.path: expected numbers in every cell ({exc})") from exc


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def user_data(path_text: str, labels_last_column: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """n x d floats from a .npy or .csv file; with labels_last_column the last column holds
    integer labels (any integers; renumbered 0..K-1 in sorted order)."""
    path = Path(path_text)
    if path.suffix.lower() not in (".npy", ".csv"):
        raise PresetError(f"{path}: data.path: expected a .npy or .csv file")
    try:
        array = np.load(path, allow_pickle=False) if path.suffix.lower() == ".npy" else _read_csv(path)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise PresetError(f"{path}: data.path: cannot read: {exc}") from exc
    if array.ndim != 2 or not np.issubdtype(array.dtype, np.number):
        raise PresetError(f"{path}: data.path: expected a 2-D array of numbers, got shape {array.shape}")
    array = array.astype(np.float64)
    need = 2 if labels_last_column else 1
    if array.shape[0] < 2 or array.shape[1] < need:
        raise PresetError(f"{path}: data.path: expected at least 2 rows and {need} column(s), got {array.shape}")
    if not np.all(np.isfinite(array)):
        raise PresetError(f"{path}: data.path: expected finite numbers, found NaN or inf")
    if labels_last_column:
        raw = array[:, -1]
        if not np.all(raw == np.round(raw)):
            raise PresetError(f"{path}: data.labels_last_column: expected integer labels in the last column")
        _, labels = np.unique(raw.astype(np.int64), return_inverse=True)
        array = array[:, :-1]
    else:
        labels = np.zeros(array.shape[0], dtype=np.int64)
    return torch.from_numpy(array), torch.from_numpy(labels.astype(np.int64))

"""Data beyond synthetic clusters: scikit-learn's 8x8 digits (shipped inside the package, no
download) and user data from .npy or .csv files (n x d real numbers, optionally an integer
label in the last column). Each loader returns X (n, d) float64 and labels (n) as 0..K-1,
or raises PresetError with one line naming the file, the field and what was expected.

Text files are read as UTF-8 (a byte-order mark is skipped) by the csv module: the
delimiter (comma, semicolon or tab) is found by csv.Sniffer, else cells are separated by
whitespace; `#` starts a comment; the first line is a header when one of its cells is not a
number. Cells become numbers through numpy; labels are read as exact integers.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import torch

from sim.preset import Preset, PresetError


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


DELIMITERS = ",;\t"
SNIFF_LINES = 50


def _error(path: Path, field: str, expected: str) -> PresetError:
    return PresetError(f"{path}: {field}: {expected}")


def _read_npy(path: Path) -> np.ndarray:
    """The array in a .npy file: real numbers (integer or float), nothing else."""
    try:
        array = np.load(path, allow_pickle=False)
    except OSError as exc:
        raise _error(path, "data.path", f"cannot read: {exc.strerror or exc}") from exc
    except EOFError as exc:
        raise _error(path, "data.path", "expected a .npy array, got an empty file") from exc
    except ValueError as exc:
        if "Object arrays" in str(exc):
            raise _error(path, "data.path", "expected an array of numbers, got Python objects (dtype object)") from exc
        if "pickled" in str(exc):  # no .npy header: numpy takes it for a pickle, which it never loads
            raise _error(path, "data.path", "cannot read: not a .npy array file") from exc
        raise _error(path, "data.path", f"cannot read: {exc}") from exc
    if not isinstance(array, np.ndarray):
        raise _error(path, "data.path", "expected a .npy array of numbers")
    if array.dtype.kind == "c":
        raise _error(path, "data.path", f"expected real numbers, got complex values ({array.dtype})")
    if array.dtype.kind not in "iuf":
        raise _error(path, "data.path", f"expected an array of numbers, got dtype {array.dtype}")
    return array


def _content(line: str) -> str:
    return line.split("#", 1)[0].strip()


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _delimiter(lines: list[str]) -> str | None:
    """The delimiter csv.Sniffer finds in the first lines (or, when they disagree, as in a
    file with a short row, in the first line alone); None for whitespace."""
    for sample in (lines[:SNIFF_LINES], lines[:1]):
        try:
            return csv.Sniffer().sniff("\n".join(sample), DELIMITERS).delimiter
        except csv.Error:
            continue
    return None


def _read_delimited(path: Path) -> tuple[np.ndarray, list[int]]:
    """The cells of a delimited text file as a 2-D array of strings (header and comments
    dropped), and the file's line number of each row."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise _error(path, "data.path", f"cannot read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise _error(path, "data.path", f"expected UTF-8 text, got byte {exc.object[exc.start]:#x}") from exc
    numbered = [(i, _content(line)) for i, line in enumerate(text.splitlines(), 1)]
    numbered = [(i, line) for i, line in numbered if line]
    delimiter = _delimiter([line for _, line in numbered])
    if delimiter is None:
        rows = [line.split() for _, line in numbered]
    else:
        rows = [
            [cell.strip() for cell in row] for row in csv.reader((line for _, line in numbered), delimiter=delimiter)
        ]
    numbers = [i for i, _ in numbered]
    if rows and not all(_is_number(cell) for cell in rows[0]):
        rows, numbers = rows[1:], numbers[1:]  # a header line
    widths = [len(row) for row in rows]
    for number, width in zip(numbers, widths):
        if width != widths[0]:
            raise _error(
                path,
                "data.path",
                f"expected the same number of columns on every line, got {width} on line {number} "
                f"and {widths[0]} on line {numbers[0]}",
            )
    return np.array(rows, dtype=str).reshape(len(rows), widths[0] if rows else 0), numbers


def _floats(path: Path, cells: np.ndarray, lines: list[int] | None) -> np.ndarray:
    """float64 values of a numeric array or of text cells; every one finite."""
    try:
        values = cells.astype(np.float64)
    except ValueError as exc:
        row, column = next((r, c) for r, c in np.ndindex(cells.shape) if not _is_number(cells[r, c]))
        where = f"line {lines[row]}, column {column + 1}" if lines else f"row {row}, column {column}"
        raise _error(
            path, "data.path", f"expected numbers in every cell, got {str(cells[row, column])!r} at {where}"
        ) from exc
    if not np.all(np.isfinite(values)):
        row, column = (int(i) for i in np.argwhere(~np.isfinite(values))[0])
        where = f"line {lines[row]}, column {column + 1}" if lines else f"row {row}, column {column}"
        cell = str(cells[row, column]) if cells.dtype.kind in "US" else repr(float(values[row, column]))
        raise _error(path, "data.path", f"expected finite numbers, got {cell} at {where}")
    return values


def _integer(cell: str) -> int | None:
    """The exact integer a text cell holds ('12', '-3', '2e20', '4.0'), else None."""
    try:
        return int(cell)
    except ValueError:
        pass
    try:
        value = float(cell)
    except ValueError:
        return None
    return int(value) if np.isfinite(value) and value == round(value) else None


def _labels(path: Path, column: np.ndarray) -> np.ndarray:
    """Labels 0..K-1 numbering the distinct integers of `column` in sorted order; every
    distinct integer stays its own class, however large."""
    if column.dtype.kind in "iu":
        values = column
    elif column.dtype.kind == "f":
        if not np.all(np.isfinite(column) & (column == np.round(column))):
            raise _error(path, "data.labels_last_column", "expected integer labels in the last column")
        values = column
    else:
        exact = [_integer(cell) for cell in column]
        if any(v is None for v in exact):
            raise _error(path, "data.labels_last_column", "expected integer labels in the last column")
        values = np.array(exact, dtype=object)
    _, labels = np.unique(values, return_inverse=True)
    return labels.astype(np.int64).reshape(-1)


def user_data(path_text: str, labels_last_column: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """X (n, d) float64 from a .npy file (a 2-D array of integers or floats) or a .csv file
    (text as described in this module's docstring); with labels_last_column the last column
    holds integer labels (any integers, renumbered 0..K-1 in sorted order) and X the rest.
    PresetError (one line: the file, data.path or data.labels_last_column, what was
    expected) for anything else: another suffix, an unreadable or empty file, complex,
    object or text arrays, ragged rows, a cell that is not a number, NaN or inf, fewer than
    2 rows, non-integer labels."""
    path = Path(path_text)
    suffix = path.suffix.lower()
    if suffix not in (".npy", ".csv"):
        raise _error(path, "data.path", "expected a .npy or .csv file")
    if suffix == ".npy":
        table, lines = _read_npy(path), None
    else:
        table, lines = _read_delimited(path)
    if table.ndim != 2:
        raise _error(path, "data.path", f"expected a 2-D array (rows of numbers), got shape {table.shape}")
    need = 2 if labels_last_column else 1
    if table.shape[0] < 2 or table.shape[1] < need:
        raise _error(path, "data.path", f"expected at least 2 rows and {need} column(s), got {table.shape}")
    if labels_last_column:
        X = _floats(path, table[:, :-1], lines)
        labels = _labels(path, table[:, -1])
    else:
        X = _floats(path, table, lines)
        labels = np.zeros(table.shape[0], dtype=np.int64)
    return torch.from_numpy(X), torch.from_numpy(labels)


def check_data(preset: Preset, source: str | None = None) -> Preset:
    """`preset`, once its data can be read: a "file" preset's data file is read as a run
    reads it (user_data), so that a window refuses a bad file when it is opened, not after
    the window shows the preset while the run it had goes on. Other kinds have nothing to
    read (the preset's fields say all). Raises PresetError as user_data does, led by
    `source` (the preset's file or name) when given."""
    if preset.data.kind == "file":
        try:
            user_data(preset.data.path, preset.data.labels_last_column)
        except PresetError as exc:
            raise PresetError(f"{source}: its data file: {exc}" if source else str(exc)) from None
    return preset

"""Sweeps: a preset, a grid of preset fields (dotted names, cluster fields by index, each
value validated by the preset model) and a number of seeds make the product of runs; each
run's outcome measures (sim/outcomes.py) make a row of one table.

A sweep's folder holds `sweep.json` (what the sweep is, how many runs are done, and whether
it is complete), `runs/NNNN.json` (each finished run's row, written when it finishes; a
measure with no value is null there, strict JSON, and NaN again when read back), the table
`sweep.parquet` (or `sweep.csv`) rebuilt from those rows after each one, and, when
asked, `runs/NNNN.npz` (a run's frames, keys as sim/headless.py). A sweep started again on
the same folder skips the runs whose row is there; a folder holding a different sweep is
refused. Every file is written atomically.
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import json
import math
import re
import threading
import tomllib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sim.files import atomic_path, atomic_write_text
from sim.outcomes import MEASURES, Thresholds
from sim.preset import Preset, PresetError, check_field, load_preset, preset_from_dict, read_toml, with_changes

TABLE_FORMATS = ("parquet", "csv")
MAX_RUNS = 100_000


class Cancelled(Exception):
    """A sweep's run was stopped before its end by a cancel."""


@dataclass(frozen=True)
class Axis:
    """One grid axis: a dotted preset field, the values it takes, and where it was given
    (named by errors: '--grid' or a sweep file's grid)."""

    field: str
    values: tuple[Any, ...]
    source: str = "--grid"


@dataclass(frozen=True)
class Job:
    """One run of a sweep, in plain values (it travels to worker processes and Ray workers):
    its index in the sweep, the grid's fields and this run's values of them, seed, the whole preset as a dict,
    steps, frames every `every` steps, capture thresholds, the device, and the .npz to write
    (or '')."""

    index: int
    fields: tuple[str, ...]
    values: tuple[Any, ...]
    seed: int
    preset: dict[str, Any]
    steps: int
    every: int
    thresholds: Thresholds
    device: str | None = None
    npz: str = ""

    @property
    def key(self) -> str:
        """What makes the run's result: a digest of its preset, length, frames and thresholds."""
        text = json.dumps([self.preset, self.steps, self.every, asdict(self.thresholds), self.device], sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def parse_values(text: str, source: str = "--grid") -> list[Any]:
    """'0.1,0.5' -> [0.1, 0.5]: comma-separated values, each read as a TOML value (numbers,
    true/false, quoted strings, [lists]; commas inside brackets stay with their list) or,
    when it is not one, as a bare string ('mlp'); or 'START:STOP:COUNT' (no quotes or
    brackets): COUNT evenly spaced values from START to STOP (np.linspace, rounded to 12
    significant digits: 0.3, not 0.30000000000000004), each whole one an integer when START and
    STOP are written as integers ('8:32:4' -> 8, 16, 24, 32; '8:64:4' -> 8, 26.6666666667, ...).
    PresetError for an empty value, a malformed range or a value given twice (it would run
    twice and count as a second seed), naming `source` (where the values were given)."""
    if ":" in text and not any(c in text for c in "\"'[]"):
        values = _evenly_spaced(text, source)
        _each_once(values, source)
        return values
    parts, depth, current = [], 0, ""
    for char in text:
        depth += {"[": 1, "]": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    values = []
    for part in (p.strip() for p in parts):
        if not part:
            raise PresetError(f"{source}: expected comma-separated values, got an empty one in {text!r}")
        try:
            values.append(tomllib.loads(f"v = {part}")["v"])
        except tomllib.TOMLDecodeError:
            values.append(part)
    _each_once(values, source)
    return values


def _each_once(values: list[Any] | tuple[Any, ...], source: str) -> None:
    seen = [json.dumps(v) for v in values]
    for text in seen:
        if seen.count(text) > 1:
            raise PresetError(f"{source}: {text} given twice (more runs of one value: more seeds)")


def _evenly_spaced(text: str, source: str) -> list[int | float]:
    parts = [p.strip() for p in text.split(":")]
    try:
        if len(parts) != 3:
            raise ValueError
        start, stop, count = float(parts[0]), float(parts[1]), int(parts[2])
        if count < 1 or not (math.isfinite(start) and math.isfinite(stop)):
            raise ValueError
    except ValueError:
        raise PresetError(
            f"{source}: expected START:STOP:COUNT (finite numbers, COUNT >= 1; quote a value that holds ':'), "
            f"got {text!r}"
        ) from None
    if count > 1 and start == stop:
        raise PresetError(f"{source}: {text!r}: START and STOP are equal (one value: COUNT 1)")
    whole = all(p.lstrip("+-").isdigit() for p in parts[:2])
    values = [float(f"{v:.12g}") for v in np.linspace(start, stop, count)]
    # each whole value an integer (8:33:3 for a count gave 8.0, 20.5, 33.0, and the field's
    # error blamed the 8 typed, not the 20.5)
    return [int(v) if whole and v == round(v) else v for v in values]


def parse_axis(text: str) -> Axis:
    """'FIELD=V1,V2,...' -> Axis (values not yet checked against a preset); PresetError."""
    match = re.fullmatch(r"\s*([A-Za-z_][\w.\[\]]*)\s*=(.*)", text)
    if not match:
        raise PresetError(
            f"--grid: expected FIELD=V1,V2,... or FIELD=START:STOP:COUNT (a dotted preset field), got {text!r}"
        )
    field = match.group(1)
    return Axis(field, tuple(parse_values(match.group(2), f"--grid: {field}")))


# preset fields the sweep itself sets for every run, so a grid over them would not be applied
SWEEP_SET = {
    "seed": "the runs take the seeds preset.seed, +1, ... (--seeds or the sweep file's `seeds`)",
    "steps": "every run takes the sweep's steps (--steps or the sweep file's `steps`)",
    "every": "every run records frames at the sweep's spacing (--every or the sweep file's `every`)",
}
SWEEP_SET_IN_WINDOW = {  # the same, for the window's Sweep dock, which has its own boxes for them
    "seed": "the runs take the seeds preset.seed, +1, ... (the dock's seeds box)",
    "steps": "every run takes the sweep's steps (the dock's steps box)",
    "every": "every run records frames at the sweep's spacing (set by its steps)",
}


@dataclass(frozen=True)
class Sweep:
    """A preset, grid axes, seeds (preset.seed, +1, ...), steps and frame spacing; `jobs()`
    the product of the grid and seeds, each preset validated."""

    preset: Preset
    axes: tuple[Axis, ...]
    seeds: int = 1
    steps: int = 300
    every: int = 10
    thresholds: Thresholds = field(default_factory=Thresholds)
    device: str | None = None

    def __post_init__(self) -> None:
        names = [a.field for a in self.axes]
        if len(set(names)) != len(names):
            sources = " and ".join(dict.fromkeys(a.source for a in self.axes))
            raise PresetError(f"{sources}: each field once, got {', '.join(names)}")
        for name, least in (("seeds", 1), ("steps", 1), ("every", 1)):
            if getattr(self, name) < least:
                raise PresetError(f"--{name}: expected an integer >= {least}, got {getattr(self, name)}")
        total = self.seeds * math.prod(len(a.values) for a in self.axes)
        if total > MAX_RUNS:
            raise PresetError(f"--grid: expected at most {MAX_RUNS} runs, got {total}")

    def jobs(self, npz_dir: Path | None = None) -> list[Job]:
        """Every run, grid-major then seed, each preset validated (PresetError naming the
        field and value that does not fit); the grid values as the preset model holds them."""
        jobs, names = [], [a.field for a in self.axes]
        for a in self.axes:
            if a.field in SWEEP_SET:
                why = SWEEP_SET[a.field] if a.source.startswith("--") else SWEEP_SET_IN_WINDOW[a.field]
                raise PresetError(f"{a.source}: {a.field}: not a grid field; {why}")
            check_field(self.preset, a.field, a.source)
            _each_once(a.values, f"{a.source}: {a.field}")  # a sweep file's values (typed ones: parse_values)
            for value in a.values:  # a bad value blamed on its own axis alone
                with_changes(self.preset, {a.field: value}, a.source)
        source = " and ".join(dict.fromkeys(a.source for a in self.axes))  # values that do not fit together
        for combo in itertools.product(*(a.values for a in self.axes)):
            changes = {a.field: v for a, v in zip(self.axes, combo)}
            preset = with_changes(self.preset, changes, source)
            raw = preset.to_dict()
            values = tuple(_get(raw, a.field) for a in self.axes)
            for s in range(self.seeds):
                seed = self.preset.seed + s
                index = len(jobs)
                run = {**raw, "seed": seed}
                npz = str(npz_dir / f"{index:04d}.npz") if npz_dir else ""
                fields = tuple(names)
                jobs.append(
                    Job(index, fields, values, seed, run, self.steps, self.every, self.thresholds, self.device, npz)
                )
        return jobs

    def describe(self) -> dict[str, Any]:
        """What the sweep is, as plain values (sweep.json): a restart must match it."""
        return {
            "preset": self.preset.to_dict(),
            "grid": {a.field: list(a.values) for a in self.axes},
            "seeds": self.seeds,
            "steps": self.steps,
            "every": self.every,
            "thresholds": asdict(self.thresholds),
            "device": self.device,
        }


def _get(raw: dict[str, Any], dotted: str) -> Any:
    value: Any = raw
    for part in dotted.replace("[", ".").replace("]", "").split("."):
        value = value[int(part)] if isinstance(value, list) else value[part]
    return value


def columns(sweep: Sweep) -> list[str]:
    """The table's columns: run index, the grid fields, seed, status, the outcome measures."""
    return ["run", *(a.field for a in sweep.axes), "seed", "status", *MEASURES]


def row_of(job: Job, status: str, measures: dict[str, Any]) -> dict[str, Any]:
    """A table row: the job's index, grid values, seed, status ('done' or 'diverged'), measures."""
    return {"run": job.index, **dict(zip(job.fields, job.values)), "seed": job.seed, "status": status, **measures}


# ----- sweep files ---------------------------------------------------------------------------------

FILE_KEYS = {"preset", "grid", "seeds", "steps", "every", "diagrams", "description"}


def load_sweep_file(path: Path) -> tuple[dict[str, Any], list[str]]:
    """A sweep file (TOML: preset, [grid] of "field" = [values], seeds, steps, every,
    diagrams = [measures], description) as (settings, diagrams). PresetError naming the file
    and key when it cannot be read or a key is unknown or of the wrong kind."""
    raw = read_toml(path)
    unknown = sorted(set(raw) - FILE_KEYS)
    if unknown:
        raise PresetError(f"{path}: {unknown[0]}: unknown key (known: {', '.join(sorted(FILE_KEYS))})")
    kinds = {
        "preset": str,
        "grid": dict,
        "seeds": int,
        "steps": int,
        "every": int,
        "diagrams": list,
        "description": str,
    }
    for key, value in raw.items():
        if not isinstance(value, kinds[key]) or isinstance(value, bool):
            raise PresetError(f"{path}: {key}: expected {kinds[key].__name__}, got {value!r}")
    for name, values in raw.get("grid", {}).items():
        if name in FILE_KEYS:  # TOML puts every key after [grid] in that table
            raise PresetError(f"{path}: grid.{name}: a sweep-file key inside the [grid] table (write it above [grid])")
        if isinstance(values, str) and ":" in values:  # "START:STOP:COUNT", as --grid takes it
            raw["grid"][name] = parse_values(values, f"{path}: grid.{name}")
        elif not isinstance(values, list) or not values:
            raise PresetError(
                f'{path}: grid.{name}: expected a non-empty list of values or "START:STOP:COUNT", got {values!r}'
            )
    diagrams = raw.pop("diagrams", [])
    for name in diagrams:
        if name not in MEASURES:
            raise PresetError(f"{path}: diagrams: expected measures from {', '.join(MEASURES)}, got {name!r}")
    return raw, list(diagrams)


# ----- the folder ----------------------------------------------------------------------------------


class SweepFolder:
    """The files of one sweep in `out` (module docstring). `done` maps run index -> row for
    the rows already there whose run is the same as now (same key). PresetError when `out`
    holds a different sweep."""

    def __init__(self, out: Path, sweep: Sweep, table_format: str = "parquet"):
        if table_format not in TABLE_FORMATS:
            raise PresetError(f"--format: expected one of {', '.join(TABLE_FORMATS)}, got {table_format!r}")
        self.out, self.sweep, self.format = Path(out), sweep, table_format
        self.runs_dir = self.out / "runs"
        self.lock = threading.Lock()
        self.total = 0
        self.done: dict[int, dict[str, Any]] = {}
        manifest = self.out / "sweep.json"
        if manifest.is_file():
            try:
                before = json.loads(manifest.read_text(encoding="utf-8"))["sweep"]
            except (OSError, ValueError, KeyError) as exc:
                raise PresetError(f"{manifest}: cannot read: {exc}") from None
            if before != json.loads(json.dumps(sweep.describe())):
                raise PresetError(f"--out: {self.out} holds a different sweep (its sweep.json); name a new folder")

    @property
    def table(self) -> Path:
        return self.out / f"sweep.{self.format}"

    def prepare(self, jobs: list[Job]) -> list[Job]:
        """Make the folders, read the rows already done for these jobs, and return the jobs still to run."""
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        self.total = len(jobs)
        for job in jobs:
            path = self.runs_dir / f"{job.index:04d}.json"
            if path.is_file():
                try:
                    saved = json.loads(path.read_text(encoding="utf-8"))
                except (OSError, ValueError):
                    continue
                if saved.get("key") == job.key:
                    self.done[job.index] = {
                        k: math.nan if v is None and k in MEASURES else v for k, v in saved["row"].items()
                    }
        return [job for job in jobs if job.index not in self.done]

    def add(self, job: Job, row: dict[str, Any]) -> None:
        """Keep a finished run's row (its own file first, then the table); thread-safe."""
        with self.lock:
            strict = {
                k: None if isinstance(v, float) and math.isnan(v) else v for k, v in row.items()
            }  # JSON has no NaN
            atomic_write_text(self.runs_dir / f"{job.index:04d}.json", json.dumps({"key": job.key, "row": strict}))
            self.done[job.index] = row

    def rows(self) -> list[dict[str, Any]]:
        """The finished rows in run order."""
        with self.lock:
            return [self.done[i] for i in sorted(self.done)]

    def write(self) -> bool:
        """Write the table of the finished rows and sweep.json; whether the sweep is complete."""
        rows = self.rows()
        complete = len(rows) == self.total
        names = columns(self.sweep)
        if self.format == "parquet":
            _write_parquet(self.table, rows, names, complete)
        else:
            _write_csv(self.table, rows, names)
        status = {"complete": complete, "runs": self.total, "done": len(rows), "table": self.table.name}
        atomic_write_text(self.out / "sweep.json", json.dumps({**status, "sweep": self.sweep.describe()}, indent=1))
        for other in TABLE_FORMATS:  # a resumed sweep in another format: one table, the one sweep.json names
            if other != self.format:
                (self.out / f"sweep.{other}").unlink(missing_ok=True)
        return complete


def _write_parquet(path: Path, rows: list[dict[str, Any]], names: list[str], complete: bool) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pylist([{n: r[n] for n in names} for r in rows]) if rows else pa.table({n: [] for n in names})
    table = table.replace_schema_metadata({"complete": "true" if complete else "false"})
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def _write_csv(path: Path, rows: list[dict[str, Any]], names: list[str]) -> None:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(names)
    writer.writerows([[repr(r[n]) if isinstance(r[n], float) else r[n] for n in names] for r in rows])
    atomic_write_text(path, text.getvalue())


def read_table(path: Path) -> tuple[list[dict[str, Any]], bool | None]:
    """A sweep table read back: its rows, and whether it says it is complete (Parquet; None
    for CSV, whose sweep.json says it)."""
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        table = pq.read_table(path)
        return table.to_pylist(), (table.schema.metadata or {}).get(b"complete") == b"true"
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh)), None


def make_sweep(
    preset_name: str | None,
    grid: list[str],
    seeds: int | None,
    steps: int | None,
    every: int | None,
    file: Path | None = None,
    thresholds: Thresholds | None = None,
    device: str | None = None,
) -> tuple[Sweep, list[str]]:
    """A Sweep from the command line's values and an optional sweep file (the command line
    wins where both give a value; grid axes add to the file's, replacing one of the same
    field), and the file's diagrams. PresetError (one line) for anything that does not fit."""
    settings, diagrams = load_sweep_file(file) if file else ({}, [])
    name = preset_name or settings.get("preset")
    if not name:
        raise PresetError("PRESET: expected a preset (argument or the sweep file's `preset`)")
    if preset_name is None and file is not None:  # the file's preset, a path taken from the file's folder
        if ("/" in name or Path(name).suffix) and not Path(name).expanduser().is_absolute():
            name = str(file.parent / name)
        try:
            preset = load_preset(name)
        except PresetError as exc:
            raise PresetError(f"{file}: preset: {exc}") from None
    else:
        preset = load_preset(name)
    axes = {key: Axis(key, tuple(values), f"{file}: grid") for key, values in settings.get("grid", {}).items()}
    given = set()
    for text in grid:
        axis = parse_axis(text)
        if axis.field in given:
            raise PresetError(f"--grid: {axis.field}: given twice (give its values in one --grid: {axis.field}=V1,V2)")
        given.add(axis.field)
        axes[axis.field] = axis
    seeds = seeds if seeds is not None else settings.get("seeds", 1)
    if not axes and not (isinstance(seeds, int) and seeds >= 2):  # seeds alone: runs of one preset, no diagram
        raise PresetError(
            "--grid: expected at least one FIELD=V1,V2,... or FIELD=START:STOP:COUNT (or a sweep file with a [grid]), "
            "or --seeds of 2 or more"
        )
    sweep = Sweep(
        preset,
        tuple(axes.values()),
        seeds=seeds,
        steps=steps if steps is not None else settings.get("steps", preset.steps),
        every=every if every is not None else settings.get("every", preset.every),
        thresholds=thresholds or Thresholds(),
        device=device,
    )
    return sweep, diagrams


def preset_of(job: Job) -> Preset:
    """The job's preset as a validated model."""
    return preset_from_dict(job.preset, f"run {job.index}")


ResultHook = Callable[[Job, dict[str, Any]], None]


@dataclass(frozen=True)
class PhaseGrid:
    """A measure over two grid axes: `mean`, `spread` (standard deviation) and `count` of the
    finished runs' values in each cell (ny, nx), over seeds and any other axes; nan where none.
    `finished` counts the cell's finished runs, with a value or not (a run that never captured
    its clusters has no capture step). `runs[iy][ix]` is the index of the cell's first run
    (its lowest seed)."""

    measure: str
    x_field: str
    x_values: tuple[Any, ...]
    y_field: str
    y_values: tuple[Any, ...]
    mean: Any
    spread: Any
    count: Any
    runs: tuple[tuple[int, ...], ...]
    finished: Any


def phase_grid(jobs: list[Job], rows: list[dict[str, Any]], measure: str, x: str, y: str | None = None) -> PhaseGrid:
    """The PhaseGrid of `measure` from the finished `rows` of `jobs`, over grid fields `x`
    and `y` (None: one row). Booleans count as 0 and 1; nan values are left out of a cell.
    ValueError for a field not in the grid or an unknown measure."""
    import numpy as np

    if measure not in MEASURES:
        raise ValueError(f"measure: expected one of {', '.join(MEASURES)}, got {measure!r}")
    fields = jobs[0].fields if jobs else ()
    for name in (x, y):
        if name is not None and name not in fields:
            raise ValueError(f"axis: expected one of the grid's fields {', '.join(fields)}, got {name!r}")

    def values_of(name: str | None) -> list[Any]:
        if name is None:
            return [""]
        at = fields.index(name)
        return list(dict.fromkeys(json.dumps(job.values[at]) for job in jobs))

    xs, ys = values_of(x), values_of(y)
    cells: dict[tuple[int, int], list[float]] = {}
    first = [[-1] * len(xs) for _ in ys]
    finished = np.zeros((len(ys), len(xs)), dtype=int)
    by_index = {row["run"]: row for row in rows}
    for job in jobs:
        ix = xs.index(json.dumps(job.values[fields.index(x)]))
        iy = ys.index(json.dumps(job.values[fields.index(y)])) if y is not None else 0
        if first[iy][ix] < 0:
            first[iy][ix] = job.index
        row = by_index.get(job.index)
        finished[iy, ix] += row is not None
        if (
            row is not None
            and row[measure] is not None
            and not (isinstance(row[measure], float) and math.isnan(row[measure]))
        ):
            cells.setdefault((iy, ix), []).append(float(row[measure]))
    shape = (len(ys), len(xs))
    mean, spread, count = np.full(shape, np.nan), np.full(shape, np.nan), np.zeros(shape, dtype=int)
    for (iy, ix), found in cells.items():
        mean[iy, ix], spread[iy, ix], count[iy, ix] = np.mean(found), np.std(found), len(found)
    return PhaseGrid(
        measure,
        x,
        tuple(json.loads(v) for v in xs),
        y or "",
        tuple(json.loads(v) for v in ys) if y is not None else ("",),
        mean,
        spread,
        count,
        tuple(tuple(r) for r in first),
        finished,
    )

"""Presets: the validated, serialisable description of a run (data, views, network, loss,
training, seed), read from and written to TOML.

Validation is strict: an unknown field, a wrong type or a value out of range raises
PresetError with one line naming the source, the field and what was expected.
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim.files import atomic_write_text
from sim.networks import ACTIVATIONS

PRESET_DIR = Path(__file__).resolve().parent.parent / "presets"
KERNELS = ("nn", "identity", "limit")
STARTS = ("network", "uniform", "clump", "given")
LOSSES = ("nt_xent", "generalized", "vicreg", "byol")
DATA_KINDS = ("clusters", "manifold", "digits", "file")


class PresetError(ValueError):
    """A preset that cannot be used; the message is one line naming file and field."""


@dataclass
class ClusterSpec:
    center: list[float]
    count: int = 64
    radius: float = 0.2


@dataclass
class DataSpec:
    kind: str = "clusters"
    dim: int = 2
    curve: str = "circle"
    curve_radius: float = 1.0
    pitch: float = 0.2
    clusters: list[ClusterSpec] = field(default_factory=list)
    path: str = ""
    labels_last_column: bool = False
    classes: list[int] = field(default_factory=lambda: list(range(10)))
    per_class: int = 0


@dataclass
class ViewsSpec:
    count: int = 2
    noise: float = 0.05
    orthogonal_noise: float = 0.0
    rotation: float = 0.0
    scale: float = 0.0
    shift: int = 0


@dataclass
class NetworkSpec:
    kind: str = "mlp"
    latent_dim: int = 2
    width: int = 64
    depth: int = 4
    activation: str = "tanh"


@dataclass
class LossSpec:
    kind: str = "nt_xent"
    tau: float = 0.5
    psi: str = "log"
    vicreg_invariance: float = 25.0
    vicreg_variance: float = 25.0
    vicreg_covariance: float = 1.0
    byol_ema: float = 0.99
    byol_predictor_width: int = 32


@dataclass
class SwitchSpec:
    step: int
    kernel: str


@dataclass
class TrainingSpec:
    kernel: str = "nn"
    start: str = "network"
    start_points: str = ""
    clump_width: float = 0.3
    optimizer: str = "gd"
    lr: float = 0.05
    lr_points: float = 0.05
    momentum: float = 0.9
    limit_draws: int = 4
    switches: list[SwitchSpec] = field(default_factory=list)


@dataclass
class Preset:
    name: str = "untitled"
    description: str = ""
    seed: int = 0
    steps: int = 1000
    every: int = 10
    device: str = "auto"
    dtype: str = "float32"
    data: DataSpec = field(default_factory=DataSpec)
    views: ViewsSpec = field(default_factory=ViewsSpec)
    network: NetworkSpec = field(default_factory=NetworkSpec)
    loss: LossSpec = field(default_factory=LossSpec)
    training: TrainingSpec = field(default_factory=TrainingSpec)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @property
    def n(self) -> int:
        return sum(c.count for c in self.data.clusters)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return (isinstance(v, (int, float))) and not isinstance(v, bool)


# field -> (check, what was expected)
_CHECKS: dict[str, tuple[Any, str]] = {
    "name": (lambda v: isinstance(v, str) and v != "", "a non-empty string"),
    "description": (lambda v: isinstance(v, str), "a string"),
    "seed": (lambda v: _is_int(v) and v >= 0, "an integer >= 0"),
    "steps": (lambda v: _is_int(v) and v >= 1, "an integer >= 1"),
    "every": (lambda v: _is_int(v) and v >= 1, "an integer >= 1"),
    "device": (
        lambda v: isinstance(v, str) and (v in ("auto", "cpu", "cuda") or v.startswith("cuda:")),
        "'auto', 'cpu', 'cuda' or 'cuda:N'",
    ),
    "dtype": (lambda v: v in ("float32", "float64"), "'float32' or 'float64'"),
    "data.kind": (lambda v: v in DATA_KINDS, "one of " + ", ".join(DATA_KINDS)),
    "data.path": (lambda v: isinstance(v, str), "a path to a .npy or .csv file"),
    "data.labels_last_column": (lambda v: isinstance(v, bool), "true or false"),
    "data.classes": (
        lambda v: (
            isinstance(v, list) and len(v) >= 1 and all(_is_int(c) and 0 <= c <= 9 for c in v) and len(set(v)) == len(v)
        ),
        "a list of distinct digits 0 to 9",
    ),
    "data.per_class": (lambda v: _is_int(v) and v >= 0, "an integer >= 0 (0: all)"),
    "views.shift": (lambda v: _is_int(v) and 0 <= v <= 3, "an integer from 0 to 3 (pixels)"),
    "data.dim": (lambda v: _is_int(v) and 1 <= v <= 4096, "an integer from 1 to 4096"),
    "data.curve": (lambda v: v in ("circle", "helix"), "'circle' or 'helix'"),
    "data.curve_radius": (lambda v: _is_number(v) and v > 0, "a number > 0"),
    "data.pitch": (_is_number, "a number"),
    "data.clusters": (lambda v: isinstance(v, list), "a list of clusters"),
    "center": (
        lambda v: isinstance(v, list) and len(v) >= 1 and all(_is_number(x) for x in v),
        "a list of numbers",
    ),
    "count": (lambda v: _is_int(v) and 1 <= v <= 10_000_000, "an integer from 1 to 10000000"),
    "radius": (lambda v: _is_number(v) and v >= 0, "a number >= 0"),
    "views.count": (lambda v: _is_int(v) and 2 <= v <= 64, "an integer from 2 to 64"),
    "views.noise": (lambda v: _is_number(v) and v >= 0, "a number >= 0"),
    "views.orthogonal_noise": (lambda v: _is_number(v) and v >= 0, "a number >= 0"),
    "views.rotation": (lambda v: _is_number(v) and 0 <= v <= 3.1416, "an angle in radians from 0 to pi"),
    "views.scale": (lambda v: _is_number(v) and 0 <= v < 1, "a number from 0 to below 1"),
    "network.kind": (lambda v: v in ("mlp", "averaging"), "'mlp' or 'averaging'"),
    "network.latent_dim": (lambda v: v in (2, 3), "2 (circle) or 3 (sphere)"),
    "network.width": (lambda v: _is_int(v) and 1 <= v <= 1_000_000, "an integer from 1 to 1000000"),
    "network.depth": (lambda v: _is_int(v) and 1 <= v <= 64, "an integer from 1 to 64"),
    "network.activation": (lambda v: v in ACTIVATIONS, "one of " + ", ".join(ACTIVATIONS)),
    "loss.kind": (lambda v: v in LOSSES, "one of " + ", ".join(LOSSES)),
    "loss.tau": (lambda v: _is_number(v) and v > 0, "a number > 0"),
    "loss.psi": (lambda v: v in ("log", "linear"), "'log' or 'linear'"),
    "loss.vicreg_invariance": (lambda v: _is_number(v) and v >= 0, "a number >= 0"),
    "loss.vicreg_variance": (lambda v: _is_number(v) and v >= 0, "a number >= 0"),
    "loss.vicreg_covariance": (lambda v: _is_number(v) and v >= 0, "a number >= 0"),
    "loss.byol_ema": (lambda v: _is_number(v) and 0 <= v < 1, "a number from 0 to below 1"),
    "loss.byol_predictor_width": (lambda v: _is_int(v) and 1 <= v <= 4096, "an integer from 1 to 4096"),
    "training.kernel": (lambda v: v in KERNELS, "one of " + ", ".join(KERNELS)),
    "training.start": (lambda v: v in STARTS, "one of " + ", ".join(STARTS)),
    "training.start_points": (lambda v: isinstance(v, str), "a path to a .npy file"),
    "training.clump_width": (lambda v: _is_number(v) and v > 0, "a number > 0"),
    "training.optimizer": (lambda v: v in ("gd", "momentum", "adam"), "'gd', 'momentum' or 'adam'"),
    "training.lr": (lambda v: _is_number(v) and v > 0, "a number > 0"),
    "training.lr_points": (lambda v: _is_number(v) and v > 0, "a number > 0"),
    "training.momentum": (lambda v: _is_number(v) and 0 <= v < 1, "a number from 0 to below 1"),
    "training.limit_draws": (lambda v: _is_int(v) and 1 <= v <= 256, "an integer from 1 to 256"),
    "training.switches": (lambda v: isinstance(v, list), "a list of {step, kernel} tables"),
    "step": (lambda v: _is_int(v) and v >= 0, "an integer >= 0"),
    "kernel": (lambda v: v in KERNELS, "one of " + ", ".join(KERNELS)),
}


def _build(cls: type, raw: Any, path: str, source: str) -> Any:
    """Instantiate dataclass `cls` from the mapping `raw`, checking every field."""
    where = path or "preset"
    if not isinstance(raw, dict):
        raise PresetError(f"{source}: {where}: expected a table, got {type(raw).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise PresetError(
            f"{source}: {path + '.' if path else ''}{unknown[0]}: unknown field (known: {', '.join(fields)})"
        )
    values = {}
    for name, value in raw.items():
        full = f"{path}.{name}" if path else name
        nested = {
            "data": DataSpec,
            "views": ViewsSpec,
            "network": NetworkSpec,
            "loss": LossSpec,
            "training": TrainingSpec,
        }
        if cls is Preset and name in nested:
            values[name] = _build(nested[name], value, name, source)
            continue
        key = full if full in _CHECKS else name
        check, expected = _CHECKS[key]
        if not check(value):
            raise PresetError(f"{source}: {full}: expected {expected}, got {value!r}")
        if name == "clusters":
            value = [_build(ClusterSpec, c, f"{full}[{i}]", source) for i, c in enumerate(value)]
        elif name == "switches":
            value = [_build(SwitchSpec, s, f"{full}[{i}]", source) for i, s in enumerate(value)]
        elif name == "classes":
            value = [int(x) for x in value]
        elif isinstance(value, list):
            value = [float(x) for x in value]
        elif fields[name].type == "float":
            value = float(value)
        values[name] = value
    missing = [
        n
        for n, f in fields.items()
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING and n not in values
    ]
    if missing:
        raise PresetError(
            f"{source}: {path + '.' if path else ''}{missing[0]}: missing, expected {_CHECKS[missing[0]][1]}"
        )
    return cls(**values)


def _check_consistency(p: Preset, source: str) -> None:
    for i, c in enumerate(p.data.clusters):
        want = 1 if p.data.kind == "manifold" else p.data.dim
        if len(c.center) != want:
            what = "1 curve parameter" if p.data.kind == "manifold" else f"{want} coordinates (data.dim)"
            raise PresetError(f"{source}: data.clusters[{i}].center: expected {what}, got {len(c.center)}")
    if p.data.kind == "manifold" and p.data.dim < 2:
        raise PresetError(f"{source}: data.dim: expected at least 2 for manifold data, got {p.data.dim}")
    if p.data.kind == "manifold" and p.data.curve == "helix" and p.data.dim < 3:
        raise PresetError(f"{source}: data.curve: expected 'circle' in 2-D ('helix' needs dim >= 3), got 'helix'")
    if p.data.kind == "file" and not p.data.path:
        raise PresetError(f"{source}: data.path: expected a .npy or .csv file for data.kind 'file', got ''")
    if p.training.start == "given" and not p.training.start_points:
        raise PresetError(f"{source}: training.start_points: expected a .npy file of points for start 'given', got ''")


def preset_from_dict(raw: Any, source: str = "preset") -> Preset:
    """A validated Preset from a plain mapping (as read from TOML)."""
    preset = _build(Preset, raw, "", source)
    if preset.data.kind in ("clusters", "manifold") and not preset.data.clusters:
        raise PresetError(f"{source}: data.clusters: expected a list of at least one cluster, got none")
    _check_consistency(preset, source)
    return preset


def resolve(name_or_path: str) -> Path:
    """A preset file from a path or the name of a shipped preset."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    shipped = PRESET_DIR / f"{name_or_path}.toml"
    if shipped.is_file():
        return shipped
    known = ", ".join(sorted(p.stem for p in PRESET_DIR.glob("*.toml")))
    raise PresetError(f"{name_or_path}: no such preset file or shipped preset (shipped: {known})")


def load_preset(name_or_path: str) -> Preset:
    """Read and validate a preset; PresetError with a one-line message if anything is off."""
    path = resolve(name_or_path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise PresetError(f"{path}: cannot read: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise PresetError(f"{path}: not valid TOML: {exc}") from exc
    return preset_from_dict(raw, str(path))


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def preset_to_toml(preset: Preset) -> str:
    """The preset as TOML text in a fixed layout (one cluster or switch a line), so
    save -> load -> save gives the same file."""
    raw = preset.to_dict()
    lines = [f"# Contrastive Kernel Lab preset: {preset.name}", "# Format: README.md, 'Preset files'."]
    lines += [f"{k} = {_toml_value(v)}" for k, v in raw.items() if not isinstance(v, dict)]
    for section, table in raw.items():
        if not isinstance(table, dict):
            continue
        lines += ["", f"[{section}]"]
        for k, v in table.items():
            if isinstance(v, list) and v and isinstance(v[0], dict):
                lines += [f"{k} = ["] + [f"  {_toml_value(item)}," for item in v] + ["]"]
            else:
                lines.append(f"{k} = {_toml_value(v)}")
    return "\n".join(lines) + "\n"


def save_preset(preset: Preset, path: str | Path) -> None:
    """Write the preset atomically (a failed write leaves any earlier file whole)."""
    atomic_write_text(path, preset_to_toml(preset))


def with_changes(preset: Preset, changes: dict[str, Any], source: str = "preset") -> Preset:
    """A new, validated Preset: `preset` with each dotted field of `changes` set ('seed',
    'loss.tau', 'data.clusters[1].count'); `preset` itself is not changed. PresetError (one
    line naming `source` and the field) when a name is unknown or a value out of range."""
    raw = preset.to_dict()
    for dotted, value in changes.items():
        *parents, last = dotted.replace("[", ".").replace("]", "").split(".")
        table: Any = raw
        try:
            for part in parents:
                table = table[int(part)] if isinstance(table, list) else table[part]
            if isinstance(table, list):
                table[int(last)] = value
            elif last in table:
                table[last] = value
            else:
                raise KeyError(last)
        except (KeyError, IndexError, ValueError, TypeError):
            raise PresetError(f"{source}: {dotted}: no such field") from None
    return preset_from_dict(raw, source)

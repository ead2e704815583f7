"""Presets: the validated, immutable, serialisable description of a run (data, views, network,
loss, training, seed), read from TOML with `tomllib` and written with `tomli-w`.

Each field declares its type and limits once, on the field (pydantic v2, frozen models). The
loader, the window's edits (`with_changes`) and the controls' ranges (`field_range`) all read
those declarations. A preset is never changed in place: `with_changes` returns a new,
validated value. A value that does not fit raises PresetError with one line naming the
source, the field and what its declaration expects.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import annotated_types
import tomli_w
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from sim.files import atomic_write_text

PRESET_DIR = Path(__file__).resolve().parent.parent / "presets"
DEFAULT_PRESET = "fig5-2d"  # what the window opens first, and File > New
Kernel = Literal["nn", "identity", "limit"]
Start = Literal["network", "fitted", "uniform", "clump", "given"]
LossKind = Literal["nt_xent", "generalized", "vicreg", "byol"]
DataKind = Literal["clusters", "manifold", "digits", "file"]
Activation = Literal["relu", "tanh", "gelu", "softplus", "erf"]
KERNELS, STARTS, LOSSES = get_args(Kernel), get_args(Start), get_args(LossKind)
DATA_KINDS, ACTIVATIONS = get_args(DataKind), get_args(Activation)
LIMIT_MAX_POINTS = 4096  # the infinite-width kernel is an (n m) x (n m) matrix
PI = 3.1416

Coordinate = Annotated[float, Field(ge=-1e6, le=1e6)]


class PresetError(ValueError):
    """A preset that cannot be used; the message is one line naming file and field."""


class Spec(BaseModel):
    """A frozen part of a preset: unknown fields, wrong types (no silent conversion but int to
    float) and non-finite numbers are refused."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, allow_inf_nan=False)


class ClusterSpec(Spec):
    center: list[Coordinate] = Field(min_length=1, description="a list of numbers from -1e6 to 1e6")
    count: int = Field(64, ge=1, le=1_000_000)
    radius: float = Field(0.2, ge=0, le=1e6)


EditOp = Literal["move", "add", "remove", "count", "radius", "undo", "redo"]
CHANGEABLE = ("loss.tau", "loss.psi", "views.noise", "training.lr", "training.lr_points")  # Simulation.change


class EditSpec(Spec):
    """A data edit a run makes at `step` (before that step is taken), as the window made it:
    cluster `cluster` moved to `center`, added at `cluster` (center, count, radius), removed,
    recounted, resized; or the edit at index `edit` of this list undone or redone (its very
    samples put back)."""

    step: int = Field(ge=0, le=10**9)
    op: EditOp
    cluster: int = Field(0, ge=0, le=1000)
    center: list[Coordinate] = Field(default_factory=list, description="a list of numbers from -1e6 to 1e6")
    count: int = Field(1, ge=1, le=1_000_000)
    radius: float = Field(0.0, ge=0, le=1e6)
    edit: int = Field(0, ge=0, le=10**6)


class DataSpec(Spec):
    kind: DataKind = "clusters"
    dim: int = Field(2, ge=1, le=4096)
    curve: Literal["circle", "helix"] = "circle"
    curve_radius: float = Field(1.0, gt=0, le=1e6)
    pitch: float = Field(0.2, ge=-1e6, le=1e6)
    clusters: list[ClusterSpec] = Field(default_factory=list, max_length=1000, description="a list of clusters")
    path: str = Field("", description="a path to a .npy or .csv file")
    labels_last_column: bool = False
    classes: list[int] = Field(
        default_factory=lambda: list(range(10)), min_length=1, description="a list of distinct digits 0 to 9"
    )
    per_class: int = Field(0, ge=0, le=100_000, description="an integer >= 0 (0: all)")
    # the edits a saved run made, replayed at their steps (Simulation.to_preset): with them the
    # clusters above are the run's start
    edits: list[EditSpec] = Field(default_factory=list, max_length=100_000, description="a list of edit tables")

    @field_validator("classes")
    @classmethod
    def _distinct_digits(cls, v: list[int]) -> list[int]:
        if len(set(v)) != len(v) or not all(0 <= c <= 9 for c in v):
            raise ValueError("digits")
        return v


class ViewsSpec(Spec):
    count: int = Field(2, ge=2, le=64)
    noise: float = Field(0.05, ge=0, le=1e3)
    orthogonal_noise: float = Field(0.0, ge=0, le=1e3)
    rotation: float = Field(0.0, ge=0, le=PI, description="an angle in radians from 0 to pi")
    scale: float = Field(0.0, ge=0, lt=1)
    shift: int = Field(0, ge=0, le=3, description="an integer from 0 to 3 (pixels)")


class NetworkSpec(Spec):
    kind: Literal["mlp", "averaging"] = "mlp"
    latent_dim: Literal[2, 3] = Field(2, description="2 (circle) or 3 (sphere)")
    width: int = Field(64, ge=1, le=100_000)
    depth: int = Field(4, ge=1, le=64)
    activation: Activation = "tanh"
    # the MLP's hidden weights at initialisation are torch's default times this (sim/networks.py)
    init_gain: float = Field(1.0, gt=0, le=100)


class LossSpec(Spec):
    kind: LossKind = "nt_xent"
    tau: float = Field(0.5, gt=0, le=1e3)
    psi: Literal["log", "linear"] = "log"
    vicreg_invariance: float = Field(25.0, ge=0, le=1e6)
    vicreg_variance: float = Field(25.0, ge=0, le=1e6)
    vicreg_covariance: float = Field(1.0, ge=0, le=1e6)
    byol_ema: float = Field(0.99, ge=0, lt=1)
    byol_predictor_width: int = Field(32, ge=1, le=4096)


class SwitchSpec(Spec):
    step: int = Field(ge=0, le=10**9)
    kernel: Kernel


class ChangeSpec(Spec):
    """A setting a run changes at `step` (before that step is taken), as the window changed it."""

    step: int = Field(ge=0, le=10**9)
    field: Literal[CHANGEABLE]
    value: float | str


class TrainingSpec(Spec):
    kernel: Kernel = "nn"
    start: Start = "network"
    start_points: str = Field("", description="a path to a .npy file")
    clump_width: float = Field(0.3, gt=0, le=PI)
    # start "fitted": Adam steps fitting the network to the evenly spaced targets, and the std of
    # the Gaussian jitter of the samples during the fit (input units; sim/starts.py fit_network)
    fit_steps: int = Field(1000, ge=1, le=100_000)
    fit_noise: float = Field(0.05, ge=0, le=1e3)
    # start "fitted": the clusters the network was fitted on when the data was edited since (a
    # saved run replays its start); empty: data.clusters
    fit_clusters: list[ClusterSpec] = Field(default_factory=list, max_length=1000, description="a list of clusters")
    optimizer: Literal["gd", "momentum", "adam"] = "gd"
    lr: float = Field(0.05, gt=0, le=100)
    lr_points: float = Field(0.05, gt=0, le=100)
    momentum: float = Field(0.9, ge=0, lt=1)
    limit_draws: int = Field(4, ge=1, le=256)
    # the step rule: a step moves no embedding by more than this angle (radians; the step size
    # lr or lr_points is cut for that step when it would); 0 keeps the step size fixed
    max_move: float = Field(0.05, ge=0, le=PI)
    # |f_theta(x) + Delta| at a data-blind start (the targets' length before projection)
    start_scale: float = Field(1.0, gt=0, le=1e3)
    switches: list[SwitchSpec] = Field(
        default_factory=list, max_length=10_000, description="a list of {step, kernel} tables"
    )
    # settings changed during a saved run, replayed at their steps (the values above: the start's)
    changes: list[ChangeSpec] = Field(
        default_factory=list, max_length=100_000, description="a list of {step, field, value} tables"
    )


class Preset(Spec):
    name: str = Field("untitled", min_length=1, max_length=200)
    description: str = Field("", max_length=10_000)
    seed: int = Field(0, ge=0, le=2**62)
    steps: int = Field(1000, ge=1, le=10**9)
    every: int = Field(10, ge=1, le=10**9)
    device: str = Field("auto", pattern=r"^(auto|cpu|cuda(:[0-9]+)?)$", description="'auto', 'cpu', 'cuda' or 'cuda:N'")
    dtype: Literal["float32", "float64"] = "float32"
    data: DataSpec = Field(default_factory=DataSpec)
    views: ViewsSpec = Field(default_factory=ViewsSpec)
    network: NetworkSpec = Field(default_factory=NetworkSpec)
    loss: LossSpec = Field(default_factory=LossSpec)
    training: TrainingSpec = Field(default_factory=TrainingSpec)

    def to_dict(self) -> dict[str, Any]:
        """Plain TOML-ready values (nested dicts and lists)."""
        return self.model_dump()

    @property
    def n(self) -> int:
        """Samples of cluster or manifold data (0 for digits and files: known once read)."""
        return sum(c.count for c in self.data.clusters)


# ----- what a field expects, from its declaration ------------------------------------------------


def _bounds(info: Any) -> dict[str, float]:
    """The numeric bounds (gt, ge, lt, le) declared on a field."""
    found = {}
    for item in info.metadata:
        for key in ("gt", "ge", "lt", "le"):
            if isinstance(item, getattr(annotated_types, key.capitalize())):
                found[key] = getattr(item, key)
    return found


def field_range(model: type[Spec], name: str) -> tuple[float, float]:
    """The (lowest, highest) value field `name` of `model` accepts, as the controls' ranges
    read it; an open bound (gt, lt) is given as the bound itself."""
    b = _bounds(model.model_fields[name])
    return b.get("ge", b.get("gt", float("-inf"))), b.get("le", b.get("lt", float("inf")))


def _number(v: float) -> str:
    return str(v) if isinstance(v, int) else f"{v:g}"


def expected(info: Any) -> str:
    """The text 'expected ...' for a field, from its declaration."""
    if info.description:
        return info.description
    kind = info.annotation
    if getattr(kind, "__origin__", None) is Literal:
        return "one of " + ", ".join(str(a) for a in kind.__args__)
    if kind is bool:
        return "true or false"
    if kind is str:
        longest = [m.max_length for m in info.metadata if isinstance(m, annotated_types.MaxLen)]
        most = f" of at most {longest[0]} characters" if longest else ""
        if any(isinstance(m, annotated_types.MinLen) for m in info.metadata):
            return f"a non-empty string{most}"
        return f"a string{most}"
    if isinstance(kind, type) and issubclass(kind, Spec):
        return "a table"
    noun = "an integer" if kind is int else "a number"
    b = _bounds(info)
    low = [f"from {_number(b['ge'])}"] if "ge" in b else [f"> {_number(b['gt'])}"] if "gt" in b else []
    if "le" in b:
        high = f"to {_number(b['le'])}" if "ge" in b else f"and <= {_number(b['le'])}"
    elif "lt" in b:
        high = f"to below {_number(b['lt'])}" if "ge" in b else f"and < {_number(b['lt'])}"
    else:
        high = ""
    return " ".join([noun, *low, high]).strip()


def _field_at(loc: tuple[Any, ...]) -> tuple[str, Any]:
    """The dotted name ('data.clusters[0].radius') and declaration of the field at a pydantic
    error location; a location inside a list of numbers names the list."""
    model: Any = Preset
    name, info = "", None
    for part in loc:
        if isinstance(part, int):
            if info is not None and _model_of(info) is not info.annotation:
                name += f"[{part}]"
            continue
        if not (isinstance(model, type) and issubclass(model, Spec)) or part not in model.model_fields:
            return (f"{name}.{part}" if name else str(part)), None
        info = model.model_fields[part]
        name = f"{name}.{part}" if name else part
        model = _model_of(info)
    return name, info


def _one_line(error: ValidationError, source: str) -> str:
    first = error.errors()[0]
    name, info = _field_at(first["loc"])
    where = name or "preset"
    if first["type"] == "extra_forbidden":
        model = _model_of(_field_at(first["loc"][:-1])[1])
        return f"{source}: {where}: unknown field (known: {', '.join(model.model_fields)})"
    what = expected(info) if info is not None else "a table"
    if first["type"] == "missing":
        return f"{source}: {where}: missing, expected {what}"
    return f"{source}: {where}: expected {what}, got {first['input']!r}"


def _model_of(info: Any) -> Any:
    """The model a field holds (a list's item model for a list of tables); Preset for None."""
    if info is None:
        return Preset
    inner = info.annotation
    args = getattr(inner, "__args__", ())
    if getattr(inner, "__origin__", None) is list and args and isinstance(args[0], type) and issubclass(args[0], Spec):
        return args[0]
    return inner


# ----- reading, checking, writing -------------------------------------------------------------------


def _check_consistency(p: Preset, source: str) -> None:
    """What one field cannot say alone: fields that must agree with each other."""
    if p.data.kind in ("clusters", "manifold") and not p.data.clusters:
        raise PresetError(f"{source}: data.clusters: expected a list of at least one cluster, got none")
    if p.data.kind in ("clusters", "manifold") and p.n < 2:
        raise PresetError(
            f"{source}: data.clusters: expected at least 2 samples in all (each is contrasted with the others), "
            f"got {p.n}"
        )
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
    if p.views.shift and p.data.kind != "digits":
        raise PresetError(
            f"{source}: views.shift: expected 0 for {p.data.kind!r} data (shifts move images), got {p.views.shift}"
        )
    for i, e in enumerate(p.data.edits):
        where = f"{source}: data.edits[{i}]"
        if i and e.step < p.data.edits[i - 1].step:
            raise PresetError(
                f"{where}.step: expected the edits in the order of their steps, got {e.step} after {p.data.edits[i - 1].step}"
            )
        if e.op in ("move", "add") and len(e.center) != p.data.dim:
            raise PresetError(
                f"{where}.center: expected {p.data.dim} coordinates (data.dim) for '{e.op}', got {len(e.center)}"
            )
        if e.op in ("undo", "redo") and e.edit >= i:
            raise PresetError(f"{where}.edit: expected the index of an earlier edit, got {e.edit}")
    for i, c in enumerate(p.training.changes):
        if i and c.step < p.training.changes[i - 1].step:
            raise PresetError(f"{source}: training.changes[{i}].step: expected the changes in the order of their steps")
    kernels = {p.training.kernel, *(s.kernel for s in p.training.switches)}
    if "limit" in kernels and p.n > LIMIT_MAX_POINTS:
        raise PresetError(f"{source}: training.kernel: 'limit' handles at most {LIMIT_MAX_POINTS} samples, got {p.n}")


def preset_from_dict(raw: Any, source: str = "preset") -> Preset:
    """A validated Preset from a plain mapping (as read from TOML); PresetError otherwise."""
    if not isinstance(raw, dict):
        raise PresetError(f"{source}: preset: expected a table, got {type(raw).__name__}")
    try:
        preset = Preset.model_validate(raw)
    except ValidationError as exc:
        raise PresetError(_one_line(exc, source)) from None
    except RecursionError:
        raise PresetError(f"{source}: preset: expected values nested at most a few levels deep") from None
    _check_consistency(preset, source)
    return preset


def with_changes(preset: Preset, changes: dict[str, Any], source: str = "preset") -> Preset:
    """A new, validated Preset: `preset` with each dotted field of `changes` set ('seed',
    'loss.tau', 'data.clusters[1].count'); `preset` itself is not changed. PresetError (one
    line naming `source` and the field) when a name is unknown or a value out of range."""
    raw = preset.to_dict()
    _set_fields(raw, changes, source)
    return preset_from_dict(raw, source)


def check_field(preset: Preset, dotted: str, source: str = "preset") -> None:
    """PresetError (one line naming `source` and the field) unless `dotted` names a field of
    `preset` ('loss.tau', 'data.clusters[1].count'); its values are not checked."""
    _set_fields(preset.to_dict(), {dotted: None}, source)


def _set_fields(raw: dict[str, Any], changes: dict[str, Any], source: str) -> None:
    """Set each dotted field of `changes` in the plain preset `raw`; PresetError for a name
    that is not there."""
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


def resolve(name_or_path: str) -> Path:
    """A preset file from a path or the name of a shipped preset. A bare name (no folder, no
    suffix) is the shipped preset of that name when there is one, so a folder or file of that
    name in the current folder (a run's output folder, say) does not hide it: `./NAME` names
    the local one."""
    path = Path(name_or_path)
    shipped = PRESET_DIR / f"{name_or_path}.toml"
    if "/" not in name_or_path and os.sep not in name_or_path and not path.suffix and shipped.is_file():
        return shipped
    if path.is_file():
        return path
    if path.is_dir():
        raise PresetError(f"{name_or_path}: a folder; expected a preset file (.toml) or a shipped preset's name")
    known = ", ".join(sorted(p.stem for p in PRESET_DIR.glob("*.toml")))
    raise PresetError(f"{name_or_path}: no such preset file or shipped preset (shipped: {known})")


def read_toml(path: Path) -> dict[str, Any]:
    """The tables of a TOML file (UTF-8, with or without a byte-order mark); PresetError, one
    line naming the file, when it cannot be read or parsed."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise PresetError(f"{path}: cannot read: {(exc.strerror or str(exc)).lower()}") from None
    except UnicodeDecodeError:
        raise PresetError(f"{path}: cannot read: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise PresetError(f"{path}: not valid TOML: {exc}") from None
    except RecursionError:
        raise PresetError(f"{path}: not valid TOML here: arrays or tables nested too deeply") from None


def load_preset(name_or_path: str) -> Preset:
    """Read and validate a preset; PresetError with a one-line message if anything is off.
    Relative file paths in it (data.path, training.start_points) are taken from the preset
    file's folder, wherever the command runs (and held as that full path)."""
    path = resolve(name_or_path)
    return preset_from_dict(anchored(read_toml(path), path.parent), str(path))


def anchored(raw: Any, folder: Path) -> Any:
    """`raw` (a preset's tables) with its relative file paths taken from `folder`."""
    for section, key in (("data", "path"), ("training", "start_points")):
        table = raw.get(section) if isinstance(raw, dict) else None
        if isinstance(table, dict) and isinstance(table.get(key), str) and table[key]:
            given = Path(table[key]).expanduser()
            table[key] = str(given if given.is_absolute() else folder / given)
    return raw


def preset_to_toml(preset: Preset) -> str:
    """The preset as TOML text: two comment lines, then every field in the models' order
    (tomli-w's layout), so save -> load -> save gives the same file."""
    title = " ".join(preset.name.split())
    header = f"# Contrastive Kernel Lab preset: {title}\n# Format: README.md, 'Preset files'.\n"
    return header + tomli_w.dumps(preset.to_dict())


def save_preset(preset: Preset, path: str | Path) -> None:
    """Write the preset atomically (a failed write leaves any earlier file whole)."""
    atomic_write_text(path, preset_to_toml(preset))

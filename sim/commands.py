"""Commands: what a window (or a script) asks of a running simulation, as frozen values.

The run driver (sim/driver.py) applies the run commands between two steps; the window's
worker handles the scheduling ones (play, step, steps per frame, which panels want data)
itself. An undo entry holds the command that does an edit and the one that undoes it; the
edits that draw or drop samples share an `EditMemo` with their undo, in which the driver notes
which edit of the run they became, so undo and redo put back the very same samples.
Centers are tuples, so every command is immutable and comparable (a memo is not compared).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sim.preset import Preset


@dataclass(frozen=True)
class Noop:
    """Wakes the worker (to stop, or to interrupt long work); changes nothing."""


@dataclass(frozen=True)
class Play:
    on: bool


@dataclass(frozen=True)
class Step:
    """Pause, then take `count` steps (each to its end, even at a large n)."""

    count: int = 1


@dataclass(frozen=True)
class StepsPerFrame:
    """Steps between two frames while playing; 0: as many as fit between display refreshes."""

    count: int


@dataclass(frozen=True)
class WantKernel:
    """The kernel heatmap is on screen: frames carry H(theta)."""

    on: bool


@dataclass(frozen=True)
class WantFlow:
    """The cluster-dynamics panel is on screen: frames carry the cluster flow."""

    on: bool


@dataclass(frozen=True)
class SetKernel:
    kernel: str


@dataclass(frozen=True)
class Twin:
    """Side by side: a copy of the run now, stepped in lockstep with the identity kernel."""

    on: bool


@dataclass(frozen=True)
class Reset:
    """Step 0 again: same seed, current data and settings, current kernel."""


@dataclass(frozen=True)
class Rebuild:
    """A new network, so a new run from step 0, with dotted preset fields changed
    ('network.width', 'loss.kind', 'device', ...)."""

    changes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Load:
    """A new run from this preset."""

    preset: Preset


@dataclass(frozen=True)
class Change:
    """Settings a run takes between two steps (Simulation.change): 'loss.tau', 'views.noise',
    'training.lr', 'training.lr_points'."""

    changes: dict[str, Any]


@dataclass(frozen=True)
class MoveCluster:
    """Cluster k's center moved; `record` puts an event on the curves (a drag's last move)."""

    k: int
    center: tuple[float, ...]
    record: bool = True


@dataclass(eq=False)
class EditMemo:
    """Which edit an undoable cluster edit became, written by the run driver when it first
    applies it (in the thread that steps the run, so before any later command): each
    simulation's edit_log index of it (Simulation.undo_edit / redo_edit put its very samples
    back)."""

    applied: bool = False
    logged: tuple[int, ...] = ()


@dataclass(frozen=True)
class AddCluster:
    center: tuple[float, ...]
    count: int
    radius: float
    index: int
    memo: EditMemo | None = field(default=None, compare=False)


@dataclass(frozen=True)
class RemoveCluster:
    k: int
    memo: EditMemo | None = field(default=None, compare=False)


@dataclass(frozen=True)
class SetCount:
    k: int
    count: int
    memo: EditMemo | None = field(default=None, compare=False)


@dataclass(frozen=True)
class SetRadius:
    k: int
    radius: float
    memo: EditMemo | None = field(default=None, compare=False)


@dataclass(frozen=True)
class UndoEdit:
    """Undo the cluster edit `memo` names (nothing when it was never applied: refused)."""

    memo: EditMemo = field(compare=False)


Command = (
    Noop
    | Play
    | Step
    | StepsPerFrame
    | WantKernel
    | WantFlow
    | SetKernel
    | Twin
    | Reset
    | Rebuild
    | Load
    | Change
    | MoveCluster
    | AddCluster
    | RemoveCluster
    | SetCount
    | SetRadius
    | UndoEdit
)

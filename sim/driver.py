"""The run driver: a simulation and its optional twin (a copy stepped in lockstep with the
identity kernel, the side-by-side view of Figure 5), the run commands applied between two
steps, and the frames. The window's worker, the video export and the headless run all step
runs through it.

A step of the driver steps every simulation once, in lockstep. Work inside a step can be
stopped between two tiles of the loss by an exception raised from `on_tile` (progress and
interruption hooks); the simulations that finished their step are then ahead, and the next
`step()` only brings the others up to them. `events` collects what happened since it was
last taken ((step, text): kernel switches, edits), for the curves' markers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from sim.commands import (
    AddCluster,
    Change,
    Command,
    EditMemo,
    Load,
    MoveCluster,
    Rebuild,
    RemoveCluster,
    Reset,
    SetCount,
    SetKernel,
    SetRadius,
    Twin,
    UndoEdit,
)
from sim.frame import Frame
from sim.losses import TileHook
from sim.preset import EditSpec, Preset, PresetError, with_changes
from sim.simulation import Divergence, Simulation

KERNEL_NAMES = {"nn": "NN", "identity": "identity", "limit": "infinite width"}


def edit_text(edit: EditSpec, log: list[EditSpec]) -> str:
    """How the curves mark a data edit (`log`: the run's edit_log, which an undo or redo
    names its edit in), e.g. 'moved cluster 2', 'cluster 1: n=20', 'undo: added cluster 5'."""
    k = edit.cluster + 1
    match edit.op:
        case "undo" | "redo":
            done = edit_text(log[edit.edit], log)
            return f"undo: {done}" if edit.op == "undo" else done
        case "move":
            return f"moved cluster {k}"
        case "add":
            return f"added cluster {k}"
        case "remove":
            return f"removed cluster {k}"
        case "count":
            return f"cluster {k}: n={edit.count}"
        case _:
            return f"cluster {k}: radius={edit.radius:g}"


# a restart on the data and settings as they are now: the edits and changes that made them are done
NO_SCHEDULES = {"data.edits": [], "training.changes": []}


def twin_origin(frame: Frame) -> str:
    """Where a side-by-side twin's run began, in words: the run's start, or the step it was
    copied from the run at (turned on during a run)."""
    return "same start" if frame.started_at == 0 else f"from step {frame.started_at}"


def twin_kernel(kernel: str) -> str:
    """The kernel a side-by-side twin runs beside a run on `kernel`: the identity kernel beside
    the NN or the infinite-width kernel, the NN kernel beside the identity kernel (an identity
    run, uniform-start's, showed the same identity run twice)."""
    return "nn" if kernel == "identity" else "identity"


Events = tuple[tuple[int, str], ...]


class RunDriver:
    """Steps `sims` (the run, then its twin when side by side) in lockstep. `generation`
    changes when the run restarts (reset, rebuild, load); `data_version` when the clean data
    change. Commands that fail raise PresetError with the run as it was."""

    def __init__(
        self,
        preset: Preset,
        twin: bool = False,
        device: str | None = None,
        dtype: str | None = None,
        on_tile: TileHook | None = None,
        source: str = "",
        on_fit: Callable[[int, int], None] | None = None,
    ):
        self.on_tile, self.on_fit = on_tile, on_fit
        self.device, self.dtype = device, dtype
        self.sims = [self._watched(Simulation(preset, device=device, dtype=dtype, source=source, on_fit=on_fit))]
        if twin:
            self.sims.append(self._make_twin())
        self.generation = 0
        self.data_version = 0
        self.events: list[tuple[int, str]] = []

    @property
    def main(self) -> Simulation:
        return self.sims[0]

    def _watched(self, sim: Simulation) -> Simulation:
        sim.on_tile = self.on_tile
        return sim

    def _make_twin(self) -> Simulation:
        twin = self._watched(self.main.copy())
        twin.set_kernel(twin_kernel(self.main.kernel))
        return twin

    # ----- stepping -------------------------------------------------------------------------------
    @property
    def behind(self) -> bool:
        """Whether a simulation is a step behind another (its step was interrupted)."""
        return len({sim.step_count for sim in self.sims}) > 1

    def step(self) -> None:
        """One step of every simulation; after an interrupted step, only the ones behind catch
        up. An exception from `on_tile` propagates with the unfinished simulation as before
        its step. Divergence or PresetError: the run keeps its last good state (a twin that
        stepped alone is copied afresh from the run) and the error propagates."""
        main = self.main
        switches, edits = len(main.switches), main.edits_made
        target = max(sim.step_count for sim in self.sims) + (not self.behind)
        try:
            for sim in self.sims:
                if sim.step_count < target:
                    sim.step(1)
        except (Divergence, PresetError):
            if len(self.sims) == 2 and main.step_count != self.sims[1].step_count:
                self.sims[1] = self._make_twin()
            raise
        finally:
            self._kernel_events(main.switches[switches:])
            self._scheduled_edits(main.edits_made - edits)

    def _scheduled_edits(self, made: int) -> None:
        """The data edits the run's schedule made in a step (a saved run replayed): the data
        changed, and each is marked on the curves as when it was made by hand."""
        if made:
            self.data_version += 1
            log = self.main.edit_log
            self.events += [(edit.step, edit_text(edit, log)) for edit in log[max(0, len(log) - made) :]]

    def _kernel_events(self, switches: list[tuple[int, str]]) -> None:
        self.events += [(step, f"kernel: {KERNEL_NAMES[kernel]}") for step, kernel in switches]

    def take_events(self) -> Events:
        events, self.events = tuple(self.events), []
        return events

    # ----- frames ---------------------------------------------------------------------------------
    def frames(
        self, with_kernel: bool = False, block_ratio: bool = True, twin_kernel: bool = True
    ) -> tuple[Frame, ...]:
        """A Frame of every simulation (Simulation.frame); the twin's with H(theta) and its
        block ratio only when `twin_kernel`."""
        return tuple(
            sim.frame(
                with_kernel=with_kernel and (i == 0 or twin_kernel), block_ratio=block_ratio and (i == 0 or twin_kernel)
            )
            for i, sim in enumerate(self.sims)
        )

    def previews(self) -> tuple[Frame, ...]:
        """The embeddings alone of every simulation (Simulation.preview)."""
        return tuple(sim.preview() for sim in self.sims)

    def record(
        self,
        steps: int,
        every: int,
        with_kernel: bool = False,
        block_ratio: bool = True,
        before_step: Callable[[], None] | None = None,
    ) -> Iterator[tuple[tuple[Frame, ...], Events]]:
        """Frames from the step now to `steps`: now, every `every` steps and at `steps`, each
        with the events since the previous one. H(theta) only for the run, not its twin.
        `before_step` is called before each step (a cancel raises from it)."""
        yield self.frames(with_kernel, block_ratio, twin_kernel=False), self.take_events()
        while self.main.step_count < steps:
            for _ in range(min(every, steps - self.main.step_count)):
                if before_step:
                    before_step()
                self.step()
            yield self.frames(with_kernel, block_ratio, twin_kernel=False), self.take_events()

    # ----- commands -------------------------------------------------------------------------------
    def apply(self, command: Command) -> None:
        """Apply a run command between two steps (scheduling commands are the caller's)."""
        match command:
            case SetKernel(kernel):
                switches = len(self.main.switches)
                self.main.set_kernel(kernel)
                self._kernel_events(self.main.switches[switches:])
            case Twin(on):
                if on and len(self.sims) == 1:
                    self.sims.append(self._make_twin())
                elif not on:
                    del self.sims[1:]
            case Reset():
                now = {"training.kernel": self.main.kernel, **NO_SCHEDULES}  # the data and settings as they are now
                self._restart(with_changes(self.main.preset, now, "reset"))
            case Rebuild(changes):
                # a new network on the data as it is now: its start is fitted afresh (no fit_clusters)
                now = {"training.kernel": self.main.kernel, "training.fit_clusters": [], **NO_SCHEDULES, **changes}
                preset = with_changes(self.main.preset, now, "rebuild")
                if "device" in changes:
                    self.device = None
                self._restart(preset)
            case Load(preset):
                self._restart(preset)
            case Change(changes):
                for sim in self.sims:
                    sim.change(changes)
            case MoveCluster(k, center, record):
                self._edit(lambda sim: sim.move_cluster(k, list(center)), record)
            case AddCluster(center, count, radius, index, memo):
                self._cluster_edit(memo, lambda sim: sim.add_cluster(list(center), count, radius, index))
            case RemoveCluster(k, memo):
                self._cluster_edit(memo, lambda sim: sim.remove_cluster(k))
            case SetCount(k, count, memo):
                self._cluster_edit(memo, lambda sim: sim.set_cluster_count(k, count))
            case SetRadius(k, radius, memo):
                self._cluster_edit(memo, lambda sim: sim.set_cluster_radius(k, radius))
            case UndoEdit(memo):
                if memo.applied:
                    self._edit(lambda sim: sim.undo_edit(self._logged(memo, sim)))
            case _:
                raise TypeError(f"not a run command: {command!r}")

    def _edit(self, edit: Callable[[Simulation], None], record: bool = True) -> None:
        """`edit` made to every simulation; marked on the curves when `record` (not each move
        of a drag) and it changed something."""
        made = self.main.edits_made
        for sim in self.sims:
            edit(sim)
        self.data_version += 1
        if record and self.main.edits_made > made:
            self.events.append((self.main.step_count, edit_text(self.main.edit_log[-1], self.main.edit_log)))

    def _cluster_edit(self, memo: EditMemo | None, edit: Callable[[Simulation], None]) -> None:
        """A cluster edit; with a memo, the first time it notes which edit of each simulation
        it became, and again (a redo) that edit is made again with its very samples, whatever
        the step (Simulation.redo_edit)."""
        if memo is not None and memo.applied:
            self._edit(lambda sim: sim.redo_edit(self._logged(memo, sim)))
            return
        self._edit(edit)
        if memo is not None:
            memo.logged, memo.applied = tuple(len(sim.edit_log) - 1 for sim in self.sims), True

    def _logged(self, memo: EditMemo, sim: Simulation) -> int:
        """The edit_log index of `memo`'s edit in `sim` (a twin made since the edit has the run's log)."""
        return memo.logged[min(self.sims.index(sim), len(memo.logged) - 1)]

    def _restart(self, preset: Preset) -> None:
        sim = self._watched(Simulation(preset, device=self.device, dtype=self.dtype, on_fit=self.on_fit))
        twin = len(self.sims) == 2
        self.sims = [sim]
        if twin:
            self.sims.append(self._make_twin())
        self.generation += 1
        self.data_version += 1
        self.events = []

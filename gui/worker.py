"""The worker: one QObject, living in its own QThread, that owns the Simulation (and, in
side-by-side mode, a twin copy stepped in lockstep with the identity kernel). The window
talks to it only through `send(command, *args)`, a thread-safe queue drained between two
steps, and reads results with `take()`: the latest Snapshot, replaced (never queued) when
the window has not drawn the previous one yet. The `ready` signal carries no data; it only
says a snapshot is waiting.
"""

from __future__ import annotations

import copy
import dataclasses
import queue
import threading
import time
from typing import Any

import torch
from PySide6.QtCore import QObject, Signal

from sim import Divergence, Frame, Preset, PresetError, Simulation
from sim.cluster_dynamics import ClusterFlow, cluster_flow

KERNEL_NAMES = {"nn": "NN", "identity": "identity", "limit": "infinite width"}
TWIN_KERNEL = "identity"
DISPLAY_INTERVAL = 1 / 30
SLOWEST_INTERVAL = 0.1
FRAME_BUDGET = 0.2
KERNEL_INTERVAL = 0.25
PROGRESS_AFTER = 0.5
PREVIEW_AFTER = 0.3
PREVIEW_ROWS = 40000
PROGRESS_INTERVAL = 0.25


class Interrupted(Exception):
    """Raised from inside a long loss when a command is waiting: the step or frame is dropped
    (the run is as before it) and the command is applied at once."""


@dataclasses.dataclass(frozen=True)
class Snapshot:
    """What the window draws: the frames (main, then the twin when side by side), the
    events since the previous snapshot ((step, text): kernel switches, data edits), and
    the run's vital signs. `generation` changes when the run restarts (reset, rebuild);
    `data_version` when the clean data changes. A `preview` holds frames with embeddings
    only (Simulation.preview): no loss, metrics or velocities; a full snapshot follows."""

    frames: tuple[Frame, ...]
    events: tuple[tuple[int, str], ...]
    steps_per_s: float
    playing: bool
    device: str
    n: int
    generation: int
    data_version: int
    preset: Preset = dataclasses.field(repr=False)
    flow: ClusterFlow | None = None
    preview: bool = False


class Worker(QObject):
    """Steps the simulation as fast as it may, publishes a Snapshot at most once per
    display interval (and so that frames take at most FRAME_BUDGET of its time). A command
    sent during a long step or frame (a large n) interrupts it between two tiles of the loss,
    and such work reports its progress (`progress`, a line of text) after PROGRESS_AFTER s."""

    ready = Signal()
    failed = Signal(str)
    diverged = Signal(str)
    notice = Signal(str)
    progress = Signal(str)

    def __init__(self, preset: Preset):
        super().__init__()
        self._preset = preset
        self._commands: queue.Queue[tuple[str, tuple[Any, ...]]] = queue.Queue()
        self._lock = threading.Lock()
        self._latest: Snapshot | None = None
        self._stop = threading.Event()
        self._interruptible = False
        self._doing = ""
        self._work_started = 0.0
        self._last_progress = 0.0
        self.sims: list[Simulation] = []
        self.playing = False
        self.steps_per_frame = 0
        self.kernel_wanted = False
        self.flow_wanted = False
        self.generation = 0
        self.data_version = 0
        self.published = 0
        self.dropped = 0
        self._events: list[tuple[int, str]] = []
        self._dirty = True
        self._last_publish = 0.0
        self._last_kernel = 0.0
        self._kernel_stale = False
        self._frame_cost = 0.0
        self._timed_rows = 0
        self._previewed: tuple | None = None
        self._rate_steps = 0
        self._rate_since = time.perf_counter()
        self._rate = 0.0

    # ----- called from the window's thread --------------------------------------------
    def send(self, command: str, *args: Any) -> None:
        """Queue a command; it is applied between two steps (or interrupts a long one), in order."""
        self._commands.put((command, args))

    def take(self) -> Snapshot | None:
        """The newest snapshot, or None if there is none since the last take."""
        with self._lock:
            snap, self._latest = self._latest, None
        return snap

    def stop(self) -> None:
        self._stop.set()
        self.send("noop")

    # ----- the worker thread ----------------------------------------------------------
    def run(self) -> None:
        """The loop: apply commands, step, publish; returns when stopped."""
        torch.set_num_threads(1)
        try:
            self.sims = [self._watched(Simulation(copy.deepcopy(self._preset)))]
        except (PresetError, RuntimeError) as exc:
            self.failed.emit(str(exc))
            return
        while not self._stop.is_set():
            self._drain(block=not self.playing and not self._dirty)
            if self._stop.is_set():
                break
            if self._behind():  # a step interrupted half-way: the twin catches up, playing or not
                self._step_all(interruptible=True)
            if self._dirty and self._slow_frames():  # a new run or an edit: shown before a long step
                self._preview()
            if self.playing:
                self._advance()
            if self._dirty or (self.playing and self._due()) or self._kernel_due():
                self._publish()

    def _watched(self, sim: Simulation) -> Simulation:
        sim.on_tile = self._on_tile
        return sim

    def _begin(self, doing: str) -> None:
        self._doing, self._work_started, self._last_progress = doing, time.perf_counter(), 0.0

    def _on_tile(self, done: int, total: int) -> None:
        """Called between two tiles of a loss: stop the play loop's work for a waiting
        command (a step the user asked for, or one with only its end left, runs to its end),
        say how far along."""
        if self._interruptible and done < total and not self._commands.empty():
            raise Interrupted
        now = time.perf_counter()
        if now - self._work_started >= PROGRESS_AFTER and now - self._last_progress >= PROGRESS_INTERVAL:
            self._last_progress = now
            self.progress.emit(f"{self._doing}: loss {done / total:.0%} of {total:,} rows")

    def _drain(self, block: bool) -> None:
        try:
            command, args = self._commands.get(timeout=0.05) if block else self._commands.get_nowait()
        except queue.Empty:
            return
        while True:
            self._apply(command, args)
            try:
                command, args = self._commands.get_nowait()
            except queue.Empty:
                return

    def _advance(self) -> None:
        """Steps until the next frame is due (or `steps_per_frame` steps, then wait for it)."""
        done = 0
        while not self._stop.is_set() and self._commands.empty():
            if self.steps_per_frame and done >= self.steps_per_frame:
                wait = self._interval() - (time.perf_counter() - self._last_publish)
                if wait > 0:
                    time.sleep(min(wait, 0.05))
                    continue
                return
            if not self._step_all(interruptible=True):
                return
            done += 1
            if not self.steps_per_frame and self._due():
                return

    def _step_all(self, interruptible: bool) -> bool:
        """One step of every simulation, in lockstep: after an interrupted step, the ones
        behind catch up first. False when interrupted or diverged."""
        main = self.sims[0]
        switches, before = len(main.switches), main.step_count
        target = max(sim.step_count for sim in self.sims) + (not self._behind())
        self._interruptible = interruptible
        try:
            for sim in self.sims:
                if sim.step_count < target:
                    self._begin(f"step {target}")
                    sim.step(1)
        except Interrupted:
            return False
        except (Divergence, PresetError) as exc:
            self._restore_lockstep()
            self.playing = False
            self._dirty = True
            self.diverged.emit(str(exc))
            return False
        finally:
            self._interruptible = False
            for step, kernel in main.switches[switches:]:
                self._events.append((step, f"kernel: {KERNEL_NAMES[kernel]}"))
            self._rate_steps += main.step_count - before
        return True

    def _behind(self) -> bool:
        """Whether a simulation is a step behind another (its step was interrupted)."""
        return len({sim.step_count for sim in self.sims}) > 1

    def _restore_lockstep(self) -> None:
        """If one simulation stepped and the other diverged, drop the twin's lead."""
        if len(self.sims) == 2 and self.sims[0].step_count != self.sims[1].step_count:
            self.sims[1] = self._make_twin()

    def _interval(self) -> float:
        return min(max(DISPLAY_INTERVAL, self._frame_cost / FRAME_BUDGET), SLOWEST_INTERVAL)

    def _due(self) -> bool:
        return time.perf_counter() - self._last_publish >= self._interval()

    def _kernel_due(self) -> bool:
        """A paused run whose last frame skipped the kernel (throttled) gets it once due."""
        return self._kernel_stale and time.perf_counter() - self._last_kernel >= KERNEL_INTERVAL

    def _publish(self) -> None:
        """A full frame of every simulation, handed over; when frames are slow, a preview
        (the embeddings from one forward pass) is handed over first."""
        if self._slow_frames():
            self._preview()
        start = time.perf_counter()
        wanted = self.kernel_wanted or self.flow_wanted
        with_kernel = wanted and start - self._last_kernel >= KERNEL_INTERVAL
        self._begin(f"frame at step {self.sims[0].step_count}")
        self._interruptible = True
        try:
            frames = tuple(sim.frame(with_kernel=with_kernel, block_ratio=with_kernel) for sim in self.sims)
            flow = cluster_flow(self.sims[0]) if with_kernel and self.flow_wanted else None
        except Interrupted:
            return
        finally:
            self._interruptible = False
        if with_kernel:
            self._last_kernel = start
        self._kernel_stale = wanted and not with_kernel
        now, rows = time.perf_counter(), self._rows()
        same = self._frame_cost and rows == self._timed_rows  # frames of another size time afresh
        self._frame_cost = 0.8 * self._frame_cost + 0.2 * (now - start) if same else now - start
        self._timed_rows = rows
        self._hand_over(frames, flow, preview=False)
        self._last_publish = now
        self._dirty = False

    def _preview(self) -> None:
        """Hand over the embeddings alone (one forward pass), once per state of the runs."""
        state = (self.generation, self.data_version, tuple(sim.step_count for sim in self.sims))
        if state != self._previewed:
            self._previewed = state
            self._hand_over(tuple(sim.preview() for sim in self.sims), None, preview=True)

    def _slow_frames(self) -> bool:
        """Whether a full frame takes long enough to show a preview first: by the frames timed
        at this size, or before any (a new run, a cluster's count changed), by the number of
        view rows the loss runs over."""
        rows = self._rows()
        if self._frame_cost and rows == self._timed_rows:
            return self._frame_cost >= PREVIEW_AFTER
        return rows >= PREVIEW_ROWS

    def _rows(self) -> int:
        """The rows of the main run's loss: samples times views."""
        main = self.sims[0]
        return main.n * main.preset.views.count

    def _hand_over(self, frames: tuple[Frame, ...], flow: ClusterFlow | None, preview: bool) -> None:
        now = time.perf_counter()
        if now - self._rate_since >= 0.5:
            self._rate = self._rate_steps / (now - self._rate_since)
            self._rate_steps, self._rate_since = 0, now
        main = self.sims[0]
        snap = Snapshot(
            frames=frames,
            events=tuple(self._events),
            steps_per_s=self._rate if self.playing else 0.0,
            playing=self.playing,
            device=str(main.device),
            n=main.n,
            generation=self.generation,
            data_version=self.data_version,
            preset=copy.deepcopy(main.preset),
            flow=flow,
            preview=preview,
        )
        self._events = []
        with self._lock:
            if self._latest is not None:
                self.dropped += 1
                snap = _merge(self._latest, snap)
            self._latest = snap
        self.published += 1
        self.ready.emit()

    # ----- commands -------------------------------------------------------------------
    def _apply(self, command: str, args: tuple[Any, ...]) -> None:
        if command == "noop":
            return
        handler = getattr(self, f"_cmd_{command}")
        try:
            handler(*args)
        except (PresetError, Divergence, ValueError) as exc:
            self.failed.emit(str(exc))
        self._dirty = True

    def _cmd_play(self, on: bool) -> None:
        self.playing = on
        self._rate_steps, self._rate_since = 0, time.perf_counter()

    def _cmd_step(self, count: int = 1) -> None:
        self.playing = False
        if self._behind() and not self._step_all(interruptible=False):
            return
        for _ in range(count):
            if not self._step_all(interruptible=False):
                break

    def _cmd_kernel(self, kernel: str) -> None:
        main = self.sims[0]
        before = len(main.switches)
        main.set_kernel(kernel)
        for step, name in main.switches[before:]:
            self._events.append((step, f"kernel: {KERNEL_NAMES[name]}"))

    def _cmd_twin(self, on: bool) -> None:
        if on and len(self.sims) == 1:
            self.sims.append(self._make_twin())
        elif not on:
            del self.sims[1:]

    def _make_twin(self) -> Simulation:
        twin = self._watched(self.sims[0].copy())
        twin.set_kernel(TWIN_KERNEL)
        return twin

    def _cmd_reset(self) -> None:
        """Same seed, current data and settings, current kernel, step 0."""
        preset = copy.deepcopy(self.sims[0].preset)
        preset.training.kernel = self.sims[0].kernel
        self._restart(preset)

    def _cmd_rebuild(self, changes: dict[str, Any]) -> None:
        """A new network (and so a new run from step 0) with `changes` applied: keys are
        'network.<field>', 'loss.kind' or 'device'."""
        preset = copy.deepcopy(self.sims[0].preset)
        preset.training.kernel = self.sims[0].kernel
        for key, value in changes.items():
            if key == "device":
                preset.device = value
            else:
                section, field = key.split(".")
                setattr(getattr(preset, section), field, value)
        self._restart(preset)
        self.notice.emit("rebuilt the network: " + ", ".join(f"{k}={v}" for k, v in changes.items()))

    def _cmd_preset(self, reply: queue.Queue) -> None:
        """Put a preset that replays the main run (Simulation.to_preset: data as edited,
        kernel switches as a schedule) on `reply`; None before the run exists."""
        reply.put(self.sims[0].to_preset() if self.sims else None)

    def _cmd_load(self, preset: Preset) -> None:
        self._restart(copy.deepcopy(preset))

    def _restart(self, preset: Preset) -> None:
        sim = self._watched(Simulation(preset))
        twin = len(self.sims) == 2
        self.sims = [sim]
        if twin:
            self.sims.append(self._make_twin())
        self.generation += 1
        self.data_version += 1
        self._events = []

    def _cmd_tau(self, tau: float) -> None:
        for sim in self.sims:
            sim.preset.loss.tau = float(tau)

    def _cmd_noise(self, sigma: float) -> None:
        for sim in self.sims:
            sim.preset.views.noise = float(sigma)

    def _cmd_lr(self, lr: float) -> None:
        for sim in self.sims:
            sim.preset.training.lr = float(lr)
            for opt in (sim.theta_opt, sim.limit_opt):
                for group in opt.param_groups:
                    group["lr"] = float(lr)

    def _cmd_lr_points(self, lr: float) -> None:
        for sim in self.sims:
            sim.preset.training.lr_points = float(lr)
            for group in sim.delta_opt.param_groups:
                group["lr"] = float(lr)

    def _cmd_steps_per_frame(self, count: int) -> None:
        self.steps_per_frame = int(count)

    def _cmd_flow_wanted(self, on: bool) -> None:
        """The cluster-dynamics panel is on screen: compute the cluster flow with the kernel."""
        self.flow_wanted = on
        self._last_kernel = 0.0

    def _cmd_kernel_wanted(self, on: bool) -> None:
        self.kernel_wanted = on
        self._last_kernel = 0.0

    def _edit(self, text: str, method: str, *args: Any) -> None:
        for sim in self.sims:
            getattr(sim, method)(*args)
        self.data_version += 1
        self._events.append((self.sims[0].step_count, text))

    def _cmd_move(self, k: int, center: list[float], record: bool = True) -> None:
        for sim in self.sims:
            sim.move_cluster(k, center)
        self.data_version += 1
        if record:
            self._events.append((self.sims[0].step_count, f"moved cluster {k + 1}"))

    def _cmd_add(self, center: list[float], count: int, radius: float, index: int) -> None:
        self._edit(f"added cluster {index + 1}", "add_cluster", center, count, radius, index)

    def _cmd_remove(self, k: int) -> None:
        self._edit(f"removed cluster {k + 1}", "remove_cluster", k)

    def _cmd_count(self, k: int, count: int) -> None:
        self._edit(f"cluster {k + 1}: n={count}", "set_cluster_count", k, count)

    def _cmd_radius(self, k: int, radius: float) -> None:
        self._edit(f"cluster {k + 1}: radius={radius:g}", "set_cluster_radius", k, radius)


def _merge(old: Snapshot, new: Snapshot) -> Snapshot:
    """A newer snapshot replacing an undrawn one keeps the older one's events."""
    if new.generation != old.generation:
        return new
    return dataclasses.replace(new, events=old.events + new.events)

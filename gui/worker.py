"""The worker: one QObject, living in its own QThread, that owns the run driver (the
simulation and, side by side, its identity twin; sim/driver.py) and decides when to step and
when to publish. The window talks to it only through `send(command)` (sim/commands.py), a
thread-safe queue drained between two steps, and reads results with `take()`: the latest
Snapshot, replaced (never queued) when the window has not drawn the previous one yet. The
`ready` signal carries no data; it only says a snapshot is waiting.
"""

from __future__ import annotations

import dataclasses
import queue
import threading
import time

import torch
from PySide6.QtCore import QObject, Signal

from sim import Divergence, Frame, Preset, PresetError, Simulation
from sim.cluster_dynamics import ClusterFlow, cluster_flow
from sim.commands import Command, Load, Noop, Play, Rebuild, Step, StepsPerFrame, WantFlow, WantKernel
from sim.driver import RunDriver

# s between two published frames while playing: 20 frames/s moves smoothly to the eye, and on
# software OpenGL each frame costs the stepping thread (bench_gui: window/headless steps/s 0.58
# at 1/30 with curves every 0.25 s, 0.71 at 1/20 with curves every second)
DISPLAY_INTERVAL = 1 / 20
SLOWEST_INTERVAL = 0.1
FRAME_BUDGET = 0.2
# the window's thread spends at most this share of the time on the frames (draw_cost: its CPU
# time per frame, measured by the window): on software OpenGL a frame costs it 13-17 ms, much
# of it in Python, holding the interpreter the stepping thread shares (at 18 frames/s the
# window ran 0.77 of headless steps/s once a step took 1.1 ms; at 15 frames/s 0.83)
DRAW_BUDGET = 0.25
KERNEL_INTERVAL = 0.25
PROGRESS_AFTER = 0.5
PREVIEW_AFTER = 0.3
PREVIEW_ROWS = 40000
PROGRESS_INTERVAL = 0.25


class Interrupted(Exception):
    """Raised from inside a long loss when a command is waiting: the step or frame is dropped
    (the run is as before it) and the command is applied at once. Raised from inside the
    building of a preset's run (a Load) only for a newer Load (another preset chosen) or the
    worker's stop: that new run is dropped; any other command waits for the run it was sent
    after (Play pressed while a preset loaded had dropped the preset and played the old run
    under the new one's name)."""


@dataclasses.dataclass(frozen=True)
class Snapshot:
    """What the window draws: the frames (main, then the twin when side by side), the
    events since the previous snapshot ((step, text): kernel switches, data edits), and
    the run's vital signs. `generation` changes when the run restarts (reset, rebuild);
    `data_version` when the clean data changes. `preset` is the run as it is now
    (Simulation.as_now: what the panels show and a sweep starts from); `replay` replays it
    exactly (Simulation.to_preset: the start, and every switch, edit and change as a schedule):
    what Save writes and an export records. A `preview` holds
    frames with embeddings only (Simulation.preview): no loss, metrics or velocities; a full
    snapshot follows."""

    frames: tuple[Frame, ...]
    events: tuple[tuple[int, str], ...]
    steps_per_s: float
    playing: bool
    device: str
    n: int
    generation: int
    data_version: int
    preset: Preset = dataclasses.field(repr=False)
    replay: Preset = dataclasses.field(repr=False)
    flow: ClusterFlow | None = None
    preview: bool = False


class Worker(QObject):
    """Steps the simulation as fast as it may, publishes a Snapshot at most once per
    display interval (and so that frames take at most FRAME_BUDGET of its time). A command
    sent during a long step or frame (a large n) interrupts it between two tiles of the loss,
    and such work reports its progress (`progress`, a line of text) after PROGRESS_AFTER s."""

    ready = Signal()
    failed = Signal(str)
    refused_run = Signal()  # a Load or Rebuild failed (`failed` said why): the old run goes on
    diverged = Signal(str)
    notice = Signal(str)
    progress = Signal(str)

    def __init__(self, preset: Preset):
        super().__init__()
        self._preset = preset
        self._commands: queue.Queue[Command] = queue.Queue()
        self._lock = threading.Lock()
        self._latest: Snapshot | None = None
        self._stop = threading.Event()
        self._interruptible = False
        self._loading = False  # a Load is being built: only a newer Load (or stop) interrupts it
        self._loads_waiting = 0  # Loads sent and not yet taken from the queue
        self._doing = ""
        self._work_started = 0.0
        self._last_progress = 0.0
        self.driver: RunDriver | None = None
        self.playing = False
        self.steps_per_frame = 0
        self.kernel_wanted = False
        self.flow_wanted = False
        self.published = 0
        self.dropped = 0
        self._dirty = True
        self._last_publish = 0.0
        self._last_kernel = 0.0
        self._kernel_stale = False
        self._frame_cost = 0.0
        self.draw_cost = 0.0  # CPU s the window's thread spends per frame (set by that thread)
        self._timed_rows = 0
        self._previewed: tuple | None = None
        self._new_preset = False
        self._rate_steps = 0
        self._rate_since = time.perf_counter()
        self._rate = 0.0

    # ----- called from the window's thread --------------------------------------------
    def send(self, command: Command) -> None:
        """Queue a command; it is applied between two steps (or interrupts a long one), in order."""
        if isinstance(command, Load):
            with self._lock:
                self._loads_waiting += 1
        self._commands.put(command)

    def take(self) -> Snapshot | None:
        """The newest snapshot, or None if there is none since the last take."""
        with self._lock:
            snap, self._latest = self._latest, None
        return snap

    def stop(self) -> None:
        self._stop.set()
        self.send(Noop())

    # ----- the worker thread ----------------------------------------------------------
    def run(self) -> None:
        """The loop: apply commands, step, publish; returns when stopped."""
        torch.set_num_threads(1)
        try:
            self.driver = RunDriver(self._preset, on_tile=self._on_tile, on_fit=self._on_fit)
        except (PresetError, RuntimeError) as exc:
            self.failed.emit(str(exc))
            return
        while not self._stop.is_set():
            self._drain(block=not self.playing and not self._dirty)
            if self._stop.is_set():
                break
            if self.driver.behind:  # a step interrupted half-way: the twin catches up, playing or not
                self._step_all(interruptible=True)
            if self._dirty and self._slow_frames():  # a new run or an edit: shown before a long step
                self._preview()
            if self.playing:
                self._advance()
            if self._dirty or (self.playing and self._due()) or self._kernel_due():
                self._publish()

    @property
    def sims(self) -> list[Simulation]:
        """The run, then its twin when side by side (none before the run is built)."""
        return self.driver.sims if self.driver else []

    def _begin(self, doing: str) -> None:
        self._doing, self._work_started, self._last_progress = doing, time.perf_counter(), 0.0

    def _on_tile(self, done: int, total: int) -> None:
        """Called between two tiles of a loss: stop the play loop's work for a waiting
        command (a step the user asked for, or one with only its end left, runs to its end),
        say how far along."""
        if self._interruptible and done < total and self._interrupt_waiting():
            raise Interrupted
        now = time.perf_counter()
        if now - self._work_started >= PROGRESS_AFTER and now - self._last_progress >= PROGRESS_INTERVAL:
            self._last_progress = now
            self.progress.emit(f"{self._doing}: loss {done / total:.0%} of {total:,} rows")

    def _on_fit(self, done: int, total: int) -> None:
        """Called while a new run's "fitted" start is fitted (sim/starts.py): say how far along,
        at most every PROGRESS_INTERVAL s (the status bar is otherwise empty until the run's
        first frame: about 5 s at 100k samples). While a Load builds it, a command waiting
        stops the fit (Interrupted) when it is a newer Load: the old run stays and the newer
        preset is built."""
        if self._interruptible and done < total and self._interrupt_waiting():
            raise Interrupted
        now = time.perf_counter()
        if now - self._last_progress >= PROGRESS_INTERVAL or done == total:
            self._last_progress = now
            self.progress.emit(f"building the run: fitting its data-blind start, {done / total:.0%} of {total} steps")

    def _interrupt_waiting(self) -> bool:
        """Whether a waiting command interrupts the work now: any command a step or frame,
        only a newer Load (or the stop) the building of a Load's run."""
        if not self._loading:
            return not self._commands.empty()
        with self._lock:
            return self._loads_waiting > 0 or self._stop.is_set()

    def _drain(self, block: bool) -> None:
        try:
            command = self._take_command(timeout=0.05 if block else None)
        except queue.Empty:
            return
        while True:
            self._apply(command)
            try:
                command = self._take_command()
            except queue.Empty:
                return

    def _take_command(self, timeout: float | None = None) -> Command:
        """The next command from the queue (waiting up to `timeout` s; None: not waiting);
        queue.Empty when there is none."""
        command = self._commands.get(timeout=timeout) if timeout else self._commands.get_nowait()
        if isinstance(command, Load):
            with self._lock:
                self._loads_waiting -= 1
        return command

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
        """One step of every simulation, in lockstep (RunDriver.step): after an interrupted
        step, the ones behind catch up first. False when interrupted or diverged."""
        main = self.driver.main
        before = main.step_count
        self._interruptible = interruptible
        self._begin(f"step {max(sim.step_count for sim in self.sims) + (not self.driver.behind)}")
        try:
            self.driver.step()
        except Interrupted:
            return False
        except (Divergence, PresetError) as exc:
            self.playing = False
            self._dirty = True
            self.diverged.emit(str(exc))
            return False
        finally:
            self._interruptible = False
            self._rate_steps += main.step_count - before
        return True

    def _interval(self) -> float:
        """s between two published frames while playing: DISPLAY_INTERVAL, or longer where a
        frame's cost here (FRAME_BUDGET) or the window's drawing of it (DRAW_BUDGET) would take
        more than their share of the time; at most SLOWEST_INTERVAL."""
        wanted = max(DISPLAY_INTERVAL, self._frame_cost / FRAME_BUDGET, self.draw_cost / DRAW_BUDGET)
        return min(wanted, SLOWEST_INTERVAL)

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
            frames = self.driver.frames(with_kernel, block_ratio=with_kernel)
            flow = cluster_flow(self.driver.main) if with_kernel and self.flow_wanted else None
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
        self._new_preset = False

    def _preview(self) -> None:
        """Hand over the embeddings alone (one forward pass), once per state of the runs."""
        d = self.driver
        state = (d.generation, d.data_version, tuple(sim.step_count for sim in d.sims))
        if state != self._previewed:
            self._previewed = state
            self._hand_over(d.previews(), None, preview=True)

    def _slow_frames(self) -> bool:
        """Whether to show a preview before the full frame: always for another preset's first
        frame (its data and metrics may take seconds on a busy machine), else when a full frame
        takes long: by the frames timed at this size, or before any (a cluster's count changed),
        by the number of view rows the loss runs over."""
        if self._new_preset:
            return True
        rows = self._rows()
        if self._frame_cost and rows == self._timed_rows:
            return self._frame_cost >= PREVIEW_AFTER
        return rows >= PREVIEW_ROWS

    def _rows(self) -> int:
        """The rows of the main run's loss: samples times views."""
        main = self.driver.main
        return main.n * main.preset.views.count

    def _hand_over(self, frames: tuple[Frame, ...], flow: ClusterFlow | None, preview: bool) -> None:
        now = time.perf_counter()
        if now - self._rate_since >= 0.5:
            self._rate = self._rate_steps / (now - self._rate_since)
            self._rate_steps, self._rate_since = 0, now
        d = self.driver
        snap = Snapshot(
            frames=frames,
            events=d.take_events(),
            steps_per_s=self._rate if self.playing else 0.0,
            playing=self.playing,
            device=str(d.main.device),
            n=d.main.n,
            generation=d.generation,
            data_version=d.data_version,
            preset=d.main.as_now(),
            replay=d.main.to_preset(),
            flow=flow,
            preview=preview,
        )
        with self._lock:
            if self._latest is not None:
                self.dropped += 1
                snap = _merge(self._latest, snap)
            self._latest = snap
        self.published += 1
        self.ready.emit()

    # ----- commands -------------------------------------------------------------------
    def _apply(self, command: Command) -> None:
        """Scheduling commands here; run commands go to the driver. A command that fails
        leaves the run as it was and says why (`failed`)."""
        try:
            match command:
                case Noop():
                    return
                case Play(on):
                    self.playing = on
                    self._rate_steps, self._rate_since = 0, time.perf_counter()
                case Step(count):
                    self._step_now(count)
                case StepsPerFrame(count):
                    self.steps_per_frame = count
                case WantKernel(on):
                    self.kernel_wanted, self._last_kernel = on, 0.0
                case WantFlow(on):
                    self.flow_wanted, self._last_kernel = on, 0.0
                case Load():
                    self._interruptible = self._loading = True  # a newer Load stops its building
                    try:
                        self.driver.apply(command)
                    finally:
                        self._interruptible = self._loading = False
                    self._new_preset = True
                case _:
                    self.driver.apply(command)
                    if isinstance(command, Rebuild):
                        changed = ", ".join(f"{k}={v}" for k, v in command.changes.items())
                        self.notice.emit(f"rebuilt the network: {changed}")
        except (PresetError, Divergence, ValueError) as exc:
            self.failed.emit(str(exc))
            if isinstance(command, Load | Rebuild):
                self.refused_run.emit()
        except Interrupted:  # a Load's building, for a newer Load: that one is built next
            pass
        self._dirty = True

    def _step_now(self, count: int) -> None:
        """Pause and take `count` steps, each to its end (after a step left half-way)."""
        self.playing = False
        if self.driver.behind and not self._step_all(interruptible=False):
            return
        for _ in range(count):
            if not self._step_all(interruptible=False):
                break


def _merge(old: Snapshot, new: Snapshot) -> Snapshot:
    """A newer snapshot replacing an undrawn one keeps the older one's events."""
    if new.generation != old.generation:
        return new
    return dataclasses.replace(new, events=old.events + new.events)

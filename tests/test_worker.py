"""The worker's long-work handling, driven without its thread: a command sent while a step
is inside the loss interrupts it between two tiles with the run left as before, the command
is applied, and the next step is the one an uninterrupted run takes; a twin interrupted
behind the main run catches up alone; long work reports its progress."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import torch
from PySide6.QtCore import Qt

import gui.worker as worker_module
import sim.fused_mlp
import sim.losses
from gui.worker import Worker
from sim import Simulation, load_preset
from sim.commands import Change, Command, MoveCluster, Noop, Play, SetCount, Step, Twin
from sim.driver import RunDriver
from sim.preset import with_changes


@pytest.fixture(autouse=True)
def small_tiles(monkeypatch):
    """16-row tiles, so fig5-2d's 512 view rows take 32 tiles per loss: a long loss, as at a
    large n, where the torch tiles serve (the compiled step of small runs, sim/fused_mlp.py,
    has no tiles: it is kept out here)."""
    monkeypatch.setattr(sim.losses, "DEFAULT_TILE_BYTES", 512 * 4 * 16)
    monkeypatch.setattr(sim.fused_mlp, "plan", lambda *args, **kwargs: None)


def started(qapp, twin: bool = False) -> Worker:
    worker = Worker(load_preset("fig5-2d"))
    worker.driver = RunDriver(load_preset("fig5-2d"), twin=twin, on_tile=worker._on_tile, on_fit=worker._on_fit)
    return worker


def send_at_tile(worker: Worker, when, command: Command) -> list[tuple[int, int]]:
    """Make the worker receive `command` from inside a loss, once, at the first tile where
    when(sim_index, done) holds; returns the tiles seen as (sim index, rows done)."""
    seen: list[tuple[int, int]] = []
    sent = []
    for index, run in enumerate(worker.sims):

        def on_tile(done, total, index=index):
            seen.append((index, done))
            if when(index, done) and not sent:
                sent.append(True)
                worker.send(command)
            worker._on_tile(done, total)

        run.on_tile = on_tile
    return seen


def test_a_command_interrupts_a_step_inside_the_loss_and_the_run_goes_on_as_if_sent_before(qapp) -> None:
    worker = started(qapp)
    main = worker.sims[0]
    before = main.embed()
    seen = send_at_tile(worker, lambda index, done: done == 160, Change({"loss.tau": 0.3}))
    assert worker._step_all(interruptible=True) is False
    assert seen[-1] == (0, 160)  # stopped at the tile the command came in, not at the end
    assert main.step_count == 0 and torch.equal(main.embed(), before)
    worker._drain(block=False)
    assert main.preset.loss.tau == 0.3
    assert worker._step_all(interruptible=True) is True and main.step_count == 1

    reference = with_changes(load_preset("fig5-2d"), {"loss.tau": 0.3})
    expected = Simulation(reference)
    expected.step(1)
    assert torch.equal(main.embed(), expected.embed())


def test_a_twin_interrupted_behind_the_main_run_catches_up_alone(qapp) -> None:
    worker = started(qapp, twin=True)
    main, twin = worker.sims
    send_at_tile(worker, lambda index, done: index == 1 and done == 64, Noop())
    assert worker._step_all(interruptible=True) is False
    assert (main.step_count, twin.step_count) == (1, 0)
    worker._drain(block=False)
    assert worker._step_all(interruptible=True) is True
    assert (main.step_count, twin.step_count) == (1, 1)

    alone = Simulation(load_preset("fig5-2d"))
    identity = alone.copy()
    identity.set_kernel("identity")
    alone.step(1)
    identity.step(1)
    assert torch.equal(main.embed(), alone.embed()) and torch.equal(twin.embed(), identity.embed())


def test_a_command_at_the_last_tile_lets_the_step_end(qapp) -> None:
    worker = started(qapp)
    send_at_tile(worker, lambda index, done: done == 512, Noop())
    assert worker._step_all(interruptible=True) is True and worker.sims[0].step_count == 1


def test_a_step_asked_for_after_an_interrupted_one_moves_both_runs_past_it(qapp) -> None:
    worker = started(qapp, twin=True)
    send_at_tile(worker, lambda index, done: index == 1 and done == 64, Step(2))
    assert worker._step_all(interruptible=True) is False
    worker._drain(block=False)
    assert [sim.step_count for sim in worker.sims] == [3, 3]


def test_long_work_reports_its_progress(qapp, monkeypatch) -> None:
    monkeypatch.setattr(worker_module, "PROGRESS_AFTER", 0.0)
    monkeypatch.setattr(worker_module, "PROGRESS_INTERVAL", 0.0)
    worker = started(qapp)
    lines: list[str] = []
    worker.progress.connect(lines.append)
    assert worker._step_all(interruptible=True)
    assert lines[0] == "step 1: loss 3% of 512 rows" and lines[-1] == "step 1: loss 100% of 512 rows"
    assert len(lines) == 32
    lines.clear()
    worker._publish()
    assert lines[-1] == "frame at step 1: loss 100% of 512 rows"


def test_steps_the_user_asks_for_run_to_their_end_with_commands_queued_behind(qapp) -> None:
    worker = started(qapp)
    for _ in range(3):
        worker.send(Step(1))
    worker.send(Change({"loss.tau": 0.3}))
    worker._drain(block=False)
    assert worker.sims[0].step_count == 3 and worker.sims[0].preset.loss.tau == 0.3


def handed_over(worker: Worker) -> list:
    """Every snapshot the worker hands over, taken at once (as a window that keeps up)."""
    taken = []
    worker.ready.connect(lambda: taken.append(worker.take()))
    return taken


def test_slow_frames_are_preceded_by_a_preview_of_the_embeddings(qapp, monkeypatch) -> None:
    monkeypatch.setattr(worker_module, "PREVIEW_ROWS", 512)  # fig5-2d's views count as slow
    worker = started(qapp)
    main = worker.sims[0]
    taken = handed_over(worker)
    worker._publish()
    preview, full = taken
    assert preview.preview and not full.preview
    np_z = main.embed().numpy()
    assert (preview.frames[0].Z == np_z).all() and (full.frames[0].Z == np_z).all()
    assert preview.frames[0].velocity == {} and preview.frames[0].metrics == {}
    assert full.frames[0].velocity and full.frames[0].metrics

    monkeypatch.setattr(worker_module, "PREVIEW_ROWS", 10**9)
    taken.clear()
    worker._publish()  # timed frames of fig5-2d are fast: no preview any more
    assert [s.preview for s in taken] == [False]


def test_a_run_grown_past_the_preview_size_is_previewed_before_its_frames_are_timed(qapp, monkeypatch) -> None:
    """Frames timed while the run was small say nothing of a run grown a hundred times."""
    monkeypatch.setattr(worker_module, "PREVIEW_ROWS", 600)
    worker = started(qapp)
    taken = handed_over(worker)
    worker._publish()  # 512 rows, frames timed fast: no preview
    worker.send(SetCount(0, 200))  # 392 samples, 784 rows
    worker._drain(block=False)
    worker._publish()
    assert [s.preview for s in taken] == [False, True, False]
    worker._publish()  # timed at this size now, and fast
    assert [s.preview for s in taken] == [False, True, False, False]


def test_an_edit_during_a_slow_frame_still_shows_its_preview(qapp, monkeypatch) -> None:
    """Dragging at a large n: each move interrupts the slow frame, its preview still comes."""
    monkeypatch.setattr(worker_module, "PREVIEW_ROWS", 512)
    worker = started(qapp)
    taken = handed_over(worker)
    send_at_tile(worker, lambda index, done: done == 64, MoveCluster(0, (-2.0, 0.5)))
    worker._publish()
    assert [s.preview for s in taken] == [True] and worker._dirty
    worker._drain(block=False)
    worker._publish()
    assert [s.preview for s in taken] == [True, True, False]
    assert taken[1].data_version == taken[2].data_version > taken[0].data_version
    moved = taken[1].frames[0].X[taken[1].frames[0].labels == 0].mean(0)
    assert np.allclose(moved, [-2.0, 0.5], atol=0.1)


def test_a_pause_that_interrupts_the_twin_leaves_both_runs_at_the_same_step(qapp) -> None:
    """The real loop, in a thread: pausing while the twin is half-way through its step."""
    worker = Worker(load_preset("fig5-2d"))
    paused = []
    on_tile = worker._on_tile

    def pause_inside_the_twins_step(done, total):
        sims = worker.sims
        if not paused and len(sims) == 2 and sims[0].step_count > sims[1].step_count and done == 64:
            paused.append(sims[1].step_count)
            worker.send(Play(False))
        on_tile(done, total)

    worker._on_tile = pause_inside_the_twins_step
    worker.send(Twin(True))
    worker.send(Play(True))
    thread = threading.Thread(target=worker.run)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while not (paused and not worker.playing and not worker._dirty) and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        worker.stop()
        thread.join()
    assert paused, "the twin's step was never reached"
    main, twin = worker.take().frames
    assert main.step == twin.step == paused[0] + 1


def test_a_slow_run_started_playing_shows_its_preview_before_the_first_step(qapp, monkeypatch) -> None:
    """At a large n the first step takes tens of seconds: the start is shown before it, and
    each state of the run is previewed once."""
    monkeypatch.setattr(worker_module, "PREVIEW_ROWS", 512)
    monkeypatch.setattr(worker_module, "PREVIEW_AFTER", 0.0)  # every frame counts as slow
    worker = Worker(load_preset("fig5-2d"))
    taken = []  # taken in the worker's thread as it hands over: nothing replaced unseen
    worker.ready.connect(lambda: taken.append(worker.take()), Qt.ConnectionType.DirectConnection)
    worker.send(Play(True))
    thread = threading.Thread(target=worker.run)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while sum(not s.preview for s in taken) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        worker.stop()
        thread.join()
    first = taken[0]
    assert first.preview and first.frames[0].step == 0
    previews = [s.frames[0].step for s in taken if s.preview]
    assert len(previews) == len(set(previews))


def test_building_a_fitted_start_reports_its_progress(qapp, monkeypatch) -> None:
    """A new run's fitted start (sim/starts.py) takes seconds at large n: the worker says how
    far the fit is while it builds the run, ending at 100%."""
    from sim import starts

    monkeypatch.setattr(worker_module, "PROGRESS_INTERVAL", 0.0)
    starts._fits.clear()  # fit now, not from a fit kept by an earlier test
    worker = Worker(with_changes(load_preset("fig5-2d"), {"training.fit_steps": 120, "device": "cpu"}))
    lines: list[str] = []
    worker.progress.connect(lines.append)
    worker.stop()  # run() builds the run, then finds the stop and returns
    worker.run()
    assert worker.driver is not None and worker.driver.main.step_count == 0
    assert lines == [
        f"building the run: fitting its data-blind start, {done / 120:.0%} of 120 steps" for done in (50, 100, 120)
    ]


def test_a_command_sent_while_a_new_runs_start_is_fitted_stops_the_fit(qapp) -> None:
    """Loading a preset whose start takes seconds to fit, then picking another: the first
    build stops at its next progress report, the old run stays, and the second preset loads."""
    from sim import starts
    from sim.commands import Load

    worker = started(qapp)
    old = worker.driver.main
    starts._fits.clear()
    slow = with_changes(load_preset("fig5-2d"), {"name": "slow", "seed": 77, "training.fit_steps": 5000})
    worker.send(Load(load_preset("imbalanced")))  # waiting while the slow one is built
    worker._apply(Load(slow))
    assert worker.driver.main is old
    assert not starts._fits  # the fit stopped before its end: nothing (half-fitted) is kept
    worker._drain(block=False)
    assert worker.driver.main.preset.name == "imbalanced"


def test_other_commands_sent_while_a_new_run_is_built_wait_for_it(qapp) -> None:
    """Play (Space) or a setting sent while a chosen preset's start is fitted: the preset is
    built to its end and the commands apply to its run (they had stopped the build, and the
    old run played on under the new preset's name)."""
    from sim import starts
    from sim.commands import Load

    worker = started(qapp)
    starts._fits.clear()
    fits: list[int] = []
    new = with_changes(load_preset("fig5-2d"), {"name": "new", "seed": 78, "training.fit_steps": 120})
    on_fit = worker._on_fit

    def sending_while_fitting(done: int, total: int) -> None:
        if done and not fits:
            worker.send(Play(True))
            worker.send(Change({"loss.tau": 0.25}))
        fits.append(done)
        on_fit(done, total)

    worker.driver.on_fit = sending_while_fitting
    worker.send(Load(new))
    worker._drain(block=False)
    assert fits[-1] == 120  # fitted to its end
    assert worker.driver.main.preset.name == "new" and worker.playing
    assert worker.driver.main.preset.loss.tau == 0.25


def test_frames_are_paced_by_what_they_cost_here_and_in_the_window(qapp) -> None:
    """Frames come every DISPLAY_INTERVAL while they are cheap; a frame costly to compute
    (FRAME_BUDGET) or to draw in the window (DRAW_BUDGET: its drawing holds the interpreter
    the stepping thread shares) spaces them out, up to SLOWEST_INTERVAL."""
    worker = Worker(load_preset("fig5-2d"))
    assert worker._interval() == worker_module.DISPLAY_INTERVAL
    worker.draw_cost = 0.015  # the window's thread on software OpenGL: 15 ms a frame, about 16 frames/s
    assert worker._interval() == pytest.approx(0.015 / worker_module.DRAW_BUDGET)
    worker._frame_cost = 0.016
    assert worker._interval() == pytest.approx(0.016 / worker_module.FRAME_BUDGET)
    worker.draw_cost = 1.0
    assert worker._interval() == worker_module.SLOWEST_INTERVAL

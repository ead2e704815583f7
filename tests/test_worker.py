"""The worker's long-work handling, driven without its thread: a command sent while a step
is inside the loss interrupts it between two tiles with the run left as before, the command
is applied, and the next step is the one an uninterrupted run takes; a twin interrupted
behind the main run catches up alone; long work reports its progress."""

from __future__ import annotations

import pytest
import torch

import gui.worker as worker_module
import sim.losses
from gui.worker import Worker
from sim import Simulation, load_preset


@pytest.fixture(autouse=True)
def small_tiles(monkeypatch):
    """16-row tiles, so fig5-2d's 512 view rows take 32 tiles per loss."""
    monkeypatch.setattr(sim.losses, "DEFAULT_TILE_BYTES", 512 * 4 * 16)


def started(qapp, twin: bool = False) -> Worker:
    worker = Worker(load_preset("fig5-2d"))
    worker.sims = [worker._watched(Simulation(load_preset("fig5-2d")))]
    if twin:
        worker.sims.append(worker._make_twin())
    return worker


def send_at_tile(worker: Worker, when, command: str, *args) -> list[tuple[int, int]]:
    """Make the worker receive `command` from inside a loss, once, at the first tile where
    when(sim_index, done) holds; returns the tiles seen as (sim index, rows done)."""
    seen: list[tuple[int, int]] = []
    sent = []
    for index, run in enumerate(worker.sims):

        def on_tile(done, total, index=index):
            seen.append((index, done))
            if when(index, done) and not sent:
                sent.append(True)
                worker.send(command, *args)
            worker._on_tile(done, total)

        run.on_tile = on_tile
    return seen


def test_a_command_interrupts_a_step_inside_the_loss_and_the_run_goes_on_as_if_sent_before(qapp) -> None:
    worker = started(qapp)
    main = worker.sims[0]
    before = main.embed()
    seen = send_at_tile(worker, lambda index, done: done == 160, "tau", 0.3)
    assert worker._step_all(interruptible=True) is False
    assert seen[-1] == (0, 160)  # stopped at the tile the command came in, not at the end
    assert main.step_count == 0 and torch.equal(main.embed(), before)
    worker._drain(block=False)
    assert main.preset.loss.tau == 0.3
    assert worker._step_all(interruptible=True) is True and main.step_count == 1

    reference = load_preset("fig5-2d")
    reference.loss.tau = 0.3
    expected = Simulation(reference)
    expected.step(1)
    assert torch.equal(main.embed(), expected.embed())


def test_a_twin_interrupted_behind_the_main_run_catches_up_alone(qapp) -> None:
    worker = started(qapp, twin=True)
    main, twin = worker.sims
    send_at_tile(worker, lambda index, done: index == 1 and done == 64, "noop")
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
        worker.send("step", 1)
    worker.send("tau", 0.3)
    worker._drain(block=False)
    assert worker.sims[0].step_count == 3 and worker.sims[0].preset.loss.tau == 0.3

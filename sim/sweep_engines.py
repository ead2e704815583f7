"""Where a sweep's runs execute: one after another in this process (`serial`), in a pool of
worker processes on this machine (`local`, the default), or on a Ray cluster (`ray`, the
optional extra `pip install -e .[cluster]`; a local one of `workers` CPUs when no address is
given). Every engine runs each run with one torch thread, so the same job gives the same
row, bit for bit, from any engine on the CPU.

An engine calls `on_result(job, row)` in the calling thread as each run finishes (in any
order) and returns when all are done. A cancel, `cancel.set()` from another thread or a
KeyboardInterrupt (Ctrl-C, or SIGTERM through cli/interrupts.py) in the calling thread,
stops every run between two steps, drops the runs not started, and raises Cancelled (or
lets the KeyboardInterrupt through) once the workers have stopped; further Ctrl-Cs and
SIGTERMs while they stop are ignored (a second one broke the pool's shutdown: the command
printed "cancelled" and then waited for ever on workers that were never told to exit).
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any

from sim.sweep import Cancelled, Job, ResultHook, preset_of, row_of

ENGINES = ("local", "ray", "serial")
POLL_SECONDS = 0.2
_stop_flag: Any = None  # a worker process's multiprocessing.Event, set by the parent to cancel


def run_job(job: Job, should_stop: Callable[[], bool] | None = None) -> dict[str, Any]:
    """Run one job in this process with one torch thread and return its table row (status
    'diverged' with the measures of the frames before, when the run diverges). Cancelled
    once `should_stop()` is true: between two steps, between two tiles of a large loss, or
    within 50 steps of a fitted start's fit (seconds long). PresetError for a preset the run
    refuses."""
    import torch

    from sim.driver import RunDriver
    from sim.headless import record, save_npz
    from sim.outcomes import outcomes
    from sim.simulation import Divergence

    def before_step(*_progress: int) -> None:
        if should_stop is not None and should_stop():
            raise Cancelled(f"run {job.index}")

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        preset = preset_of(job)
        driver = RunDriver(preset, device=job.device, on_tile=before_step, on_fit=before_step)
        frames, status = [], "done"
        try:
            for (frame, *_twin), _events in driver.record(job.steps, job.every, before_step=before_step):
                frames.append(frame)
        except Divergence:
            status = "diverged"
        if job.npz:
            save_npz(Path(job.npz), record(frames))
        return row_of(job, status, outcomes(frames, job.thresholds))
    finally:
        torch.set_num_threads(threads)


def run_serial(jobs: list[Job], on_result: ResultHook, cancel: threading.Event) -> None:
    """Every job in this process, one after another."""
    for job in jobs:
        on_result(job, run_job(job, cancel.is_set))


def _start_worker(stop: Any) -> None:
    global _stop_flag
    _stop_flag = stop
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent cancels its workers through `stop`;
    # a session of its own, as each Ray worker has: under Linux autogroup scheduling each worker
    # gets a fair share of the CPUs, not one share for the whole pool
    os.setsid()


def _pooled(job: Job) -> dict[str, Any]:
    return run_job(job, _stop_flag.is_set)


def _context() -> multiprocessing.context.BaseContext:
    """Workers forked from a fork server that imported torch and the simulation once (cheap to
    start, and safe beside Qt and torch threads in this process, which are never forked);
    spawned where there is no fork server (Windows)."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["torch", "sim.driver", "sim.headless", "sim.outcomes", "sim.sweep_engines"])
    return context


def run_local(jobs: list[Job], on_result: ResultHook, cancel: threading.Event, workers: int) -> None:
    """The jobs in a pool of `workers` worker processes (_context)."""
    context = _context()
    stop = context.Event()
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker, initargs=(stop,)) as pool:
        futures: dict[Future, Job] = {pool.submit(_pooled, job): job for job in jobs}
        try:
            pending = set(futures)
            while pending:
                done, pending = wait(pending, timeout=POLL_SECONDS, return_when=FIRST_COMPLETED)
                for future in sorted(done, key=lambda f: futures[f].index):
                    on_result(futures[future], future.result())
                if cancel.is_set():
                    raise Cancelled("sweep")
        except BaseException:
            with _signals_ignored():
                stop.set()
                pool.shutdown(wait=True, cancel_futures=True)
            raise


@contextlib.contextmanager
def _signals_ignored():
    """SIGINT and SIGTERM ignored inside (in the main thread, where Python handles signals;
    elsewhere nothing to do), their handlers put back after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    kept = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in kept.items():
            signal.signal(sig, handler)


def _ray_run(job: Job) -> dict[str, Any]:
    return run_job(job)


def run_ray(
    jobs: list[Job], on_result: ResultHook, cancel: threading.Event, workers: int, address: str | None = None
) -> None:
    """The jobs as Ray tasks of one CPU each: on the running Ray session if there is one, else
    on the cluster at `address` (this code shipped to it as a module), else on a local Ray of
    `workers` CPUs started here and shut down at the end."""
    import ray

    import sim

    started = not ray.is_initialized()
    if started:
        where = {"address": address, "runtime_env": {"py_modules": [sim]}} if address else {"num_cpus": workers}
        ray.init(include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False, **where)
    task = ray.remote(num_cpus=1, max_retries=0)(_ray_run)
    refs = {task.remote(job): job for job in jobs}
    pending = list(refs)
    try:
        while pending:
            done, pending = ray.wait(pending, num_returns=len(pending), timeout=POLL_SECONDS)
            for ref in sorted(done, key=lambda r: refs[r].index):
                on_result(refs[ref], ray.get(ref))
            if cancel.is_set():
                raise Cancelled("sweep")
    except BaseException:
        for ref in pending:
            ray.cancel(ref, force=True)
        raise
    finally:
        if started:
            ray.shutdown()


def execute(
    jobs: list[Job],
    on_result: ResultHook,
    engine: str = "local",
    workers: int = 2,
    address: str | None = None,
    cancel: threading.Event | None = None,
) -> None:
    """Run `jobs` on `engine` (ENGINES) with `workers` processes or CPUs; see the module
    docstring for results and cancels. ValueError for an unknown engine."""
    cancel = cancel or threading.Event()
    if not jobs:
        return
    if engine == "serial":
        run_serial(jobs, on_result, cancel)
    elif engine == "local":
        run_local(jobs, on_result, cancel, max(1, min(workers, len(jobs))))
    elif engine == "ray":
        run_ray(jobs, on_result, cancel, workers, address)
    else:
        raise ValueError(f"engine: expected one of {', '.join(ENGINES)}, got {engine!r}")

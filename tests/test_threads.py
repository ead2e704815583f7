"""sim.threads.threads_for: one intra-op thread for small problems, one per core for large
ones, never more than the cores given, and a clear error for a negative size."""

import os

import pytest

from sim import threads
from sim.threads import threads_for


def test_small_runs_take_one_thread_and_large_runs_every_core():
    assert threads_for(512, cores=2) == 1  # fig5-2d: 256 samples, 2 views
    assert threads_for(threads.INTRA_OP_MIN_ROWS - 1, cores=8) == 1
    assert threads_for(threads.INTRA_OP_MIN_ROWS, cores=8) == 8
    assert threads_for(10**7, cores=1) == 1


def test_the_count_never_falls_as_the_problem_grows_and_stays_within_the_cores():
    sizes = [0, 1, 100, 4096, 65536, threads.INTRA_OP_MIN_ROWS, 10**6, 10**9]
    for cores in (1, 2, 16):
        counts = [threads_for(n, cores=cores) for n in sizes]
        assert counts == sorted(counts) and 1 <= min(counts) and max(counts) <= cores


def test_default_cores_are_the_cpus_this_process_may_use():
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert threads_for(10**9) == usable


def test_a_negative_size_is_refused_in_one_line():
    with pytest.raises(ValueError, match=r"^rows: expected a count of rows >= 0, got -1$"):
        threads_for(-1)

"""How many threads torch may use inside each operation, chosen by the size of the problem.

Small problems gain nothing from threads inside an operation and lose badly when other
programs keep the cores busy: torch's threads wait on each other at the end of every
operation, so one thread that the system has paused holds up all of them (measured on 2 cores:
fig5-2d at n = 256 fell from ~80 to 2 steps/s with torch's default threads and the other core
busy, issue 11). Below INTRA_OP_MIN_ROWS rows a step runs in one thread, slowing by its fair
share on a busy machine; from there on, one thread per core. Measured on 2 shared cores
(2026-11-30, other programs running): fig5-2d with 4,096 / 16,384 / 65,536 rows took 15 / 80 /
890 CPU-ms a step in one thread and 114-191 / 266-472 / 1,720-1,780 in two, at 2-7x the wall
time. The large losses share their tiles out to threads of their own (sim.losses), whatever
this says.
"""

from __future__ import annotations

import os

INTRA_OP_MIN_ROWS = 131072


def threads_for(rows: int, cores: int | None = None) -> int:
    """Intra-op threads (for torch.set_num_threads) for a step over `rows` rows (views times
    samples): 1 below INTRA_OP_MIN_ROWS, else `cores` (default: the CPUs this process may run
    on). ValueError for a negative row count."""
    if rows < 0:
        raise ValueError(f"rows: expected a count of rows >= 0, got {rows}")
    if cores is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return 1 if rows < INTRA_OP_MIN_ROWS else max(1, cores)

"""Sweep engines side by side in one run: the same sweep (2 x 2 grid values x 2 seeds of
fig5-2d, 300 steps, frames every 20 steps) one run after another in this process, on the
local process pool, and on a local Ray of the same number of CPUs; wall-clock seconds each
and the ratios, with a check that every engine gave the same rows. Pool and Ray are timed
after a first small sweep on each (`*_start_s`: starting the workers, importing torch once).

    python bench/bench_sweep.py [--steps 300] [--workers 2] [--no-ray]
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sim.sweep import make_sweep
from sim.sweep_engines import execute


def timed(jobs, engine: str, workers: int) -> tuple[float, list]:
    rows = {}
    start = time.perf_counter()
    execute(jobs, lambda job, row: rows.__setitem__(job.index, row), engine, workers, None, threading.Event())
    return time.perf_counter() - start, [rows[i] for i in sorted(rows)]


def run(steps: int = 300, workers: int = 2, ray: bool = True) -> dict:
    sweep, _ = make_sweep("fig5-2d", ["loss.tau=0.1,0.5", "network.width=16,64"], 2, steps, 20)
    jobs = sweep.jobs()
    result = {"runs": len(jobs), "steps": steps, "workers": workers}
    result["serial_s"], serial = timed(jobs, "serial", workers)
    result["local_start_s"] = timed(jobs[:workers], "local", workers)[0]  # the fork server imports torch once
    result["local_s"], local = timed(jobs, "local", workers)
    same = json.dumps(local) == json.dumps(serial)
    if ray:
        import ray as ray_module

        ray_module.init(num_cpus=workers, include_dashboard=False, configure_logging=False, log_to_driver=False)
        try:
            result["ray_start_s"] = timed(jobs[:workers], "ray", workers)[0]  # Ray's workers start, import torch
            result["ray_s"], on_ray = timed(jobs, "ray", workers)
        finally:
            ray_module.shutdown()
        same = same and json.dumps(on_ray) == json.dumps(serial)
        result["ray_over_local"] = result["ray_s"] / result["local_s"]
    result["local_over_serial"] = result["local_s"] / result["serial_s"]
    result["same_rows"] = same
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-ray", action="store_true")
    args = parser.parse_args()
    print(json.dumps(run(args.steps, args.workers, not args.no_ray), indent=1))

"""Steps/s under load: fig5-2d headless (n = 256, NN kernel) with the machine idle and with
one core kept busy by a spinning process this bench starts, for torch's default intra-op
threads against the thread count sim.threads.threads_for picks for the run's size, side by
side in one process.

    python bench/bench_load.py [--seconds 4] [--preset fig5-2d]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sim import Simulation, load_preset
from sim.threads import threads_for


@contextlib.contextmanager
def busy_core() -> Iterator[subprocess.Popen]:
    """A process that spins on one core (a Python busy loop) while the block runs."""
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.5)  # let it reach its loop before timing starts
        yield spinner
    finally:
        spinner.kill()
        spinner.wait()


def steps_per_second(sim: Simulation, seconds: float) -> float:
    """Steps/s of `sim` over at least `seconds` of wall time (and at least 5 steps)."""
    sim.step(2)
    done, start = 0, time.perf_counter()
    while done < 5 or time.perf_counter() - start < seconds:
        sim.step(5)
        done += 5
    return done / (time.perf_counter() - start)


def run(preset: str = "fig5-2d", seconds: float = 4.0, device: str = "cpu") -> dict:
    """Steps/s idle and with a busy core, for torch's default threads and threads_for's."""
    p = load_preset(preset)
    default = torch.get_num_threads()
    sim = Simulation(p, device=device)
    rows = sim.X.shape[0] * p.views.count  # views times samples
    chosen = threads_for(rows)
    result = {"preset": preset, "rows": rows, "cores": os.cpu_count(), "default_threads": default}
    result["rule_threads"] = chosen
    try:
        for label, threads in (("default", default), ("rule", chosen)):
            torch.set_num_threads(threads)
            result[f"{label}_idle_steps_per_s"] = steps_per_second(Simulation(p, device=device), seconds)
            with busy_core():
                result[f"{label}_busy_steps_per_s"] = steps_per_second(Simulation(p, device=device), seconds)
    finally:
        torch.set_num_threads(default)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="fig5-2d")
    parser.add_argument("--seconds", type=float, default=4.0)
    args = parser.parse_args()
    r = run(args.preset, args.seconds)
    print(f"{r['preset']}, {r['rows']} rows, {r['cores']} cores")
    for label in ("default", "rule"):
        threads = r["default_threads"] if label == "default" else r["rule_threads"]
        print(
            f"{label:8} ({threads} threads): idle {r[f'{label}_idle_steps_per_s']:7.1f} steps/s, "
            f"one core busy {r[f'{label}_busy_steps_per_s']:7.1f} steps/s"
        )


if __name__ == "__main__":
    main()

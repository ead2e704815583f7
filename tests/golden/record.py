"""Records the reference runs test_golden.py compares against: `python tests/golden/record.py`
writes one .npz per case below (200 steps through `main.py run`, frames every 50 steps, on the
CPU). Recorded once before the redesign of the preset model, the run driver and the command
line (issue 10); rerun only when a change is meant to change the numbers, and say so."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent

# name -> arguments of `main.py run` after the preset
CASES = {
    "fig5-2d-nn": ["fig5-2d", "--kernel", "nn"],
    "fig5-2d-identity": ["fig5-2d", "--kernel", "identity"],
    "appendix-b-3d": ["appendix-b-3d"],
    "imbalanced": ["imbalanced"],
    "one-hidden-layer-limit": ["one-hidden-layer", "--kernel", "limit"],
    "digits": ["digits"],
}
STEPS, EVERY = 200, 50


def command(name: str, out: Path) -> list[str]:
    """The `main.py run` command line that records case `name` to `out`."""
    args = CASES[name]
    return [sys.executable, "main.py", "run", *args, "--steps", str(STEPS), "--every", str(EVERY),
            "--device", "cpu", "--out", str(out)]  # fmt: skip


if __name__ == "__main__":
    for case in CASES:
        subprocess.run(command(case, HERE / f"{case}.npz"), cwd=ROOT, check=True)

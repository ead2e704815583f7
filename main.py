"""Entry point. `python main.py [PRESET]` opens the window; `python main.py run PRESET ...`
does a run with no window (see `python main.py run --help`)."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "run":
        from sim.headless import main as run_main

        return run_main(argv[1:])
    from gui.app import main as gui_main

    return gui_main(argv)


if __name__ == "__main__":
    sys.exit(main())

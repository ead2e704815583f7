"""Entry point. `python main.py [PRESET]` opens the window; `python main.py run PRESET ...`
does a run with no window (see `python main.py run --help`); `python main.py theory --out DIR`
writes the Figure 3 tables and plots; `python main.py export PRESET --video OUT.mp4 ...` records
a replay offscreen, with no display (see `python main.py export --help`)."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "run":
        from sim.headless import main as run_main

        return run_main(argv[1:])
    if argv and argv[0] == "export":
        from gui.export_cli import main as export_main

        return export_main(argv[1:])
    if argv and argv[0] == "theory":
        from gui.theory_panel import main as theory_main

        return theory_main(argv[1:])
    from gui.app import main as gui_main

    return gui_main(argv)


if __name__ == "__main__":
    sys.exit(main())

"""Entry point, and the `contrastive-kernel-lab` command: `python main.py [PRESET]` opens the
window; `python main.py COMMAND ...` runs a headless command (`run`, `export`, `theory`).
`python main.py --help` lists the commands; the parser and the handlers are in cli/."""

from __future__ import annotations

import sys

from cli.parser import main

if __name__ == "__main__":
    sys.exit(main())

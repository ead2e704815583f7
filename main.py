"""Entry point, and the `contrastive-kernel-lab` command: `python main.py [PRESET]` opens the
window; `python main.py COMMAND ...` runs a headless command (`run`, `export`, `theory`, ...).
`python main.py --help` lists the commands; the parser and the handlers are in cli/."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """The command line's (`argv`, default sys.argv[1:]) exit status. Ctrl-C before a command has taken over (while the
    libraries load, about a second) is "cancelled" and 130, as a command's own cancel."""
    try:
        from cli.parser import main as run_command

        return run_command(argv)
    except KeyboardInterrupt:
        print("cancelled", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

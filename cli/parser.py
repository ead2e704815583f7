"""The one parser: `main.py [PRESET]` opens the window; `main.py COMMAND ...` runs a
subcommand. Errors in the arguments are one line, `error: main.py COMMAND: ...`, exit 2."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import NoReturn

from cli import export, reproduce, run, sweep, theory, window

COMMANDS = (window, run, export, theory, reproduce, sweep)
DEFAULT_COMMAND = "window"


class OneLineParser(argparse.ArgumentParser):
    """Argument errors as a single 'error: ...' line (exit status 2), no usage block."""

    def error(self, message: str) -> NoReturn:
        print(f"error: {self.prog}: {message}", file=sys.stderr)
        sys.exit(2)


class CommandsFormatter(argparse.HelpFormatter):
    """Help with the commands' descriptions in one column after the longest command's name:
    argparse sizes that column by the top-level options ("-h, --help") alone and put
    "reproduce" and its description on lines of their own."""

    def __init__(self, prog: str):
        super().__init__(prog)
        self._action_max_length = max(self._action_max_length, 4 + max(len(m.NAME) for m in COMMANDS))


SCRIPT = "contrastive-kernel-lab"  # the installed command (pyproject's [project.scripts])


def program(argv0: str) -> str:
    """The name usage lines give the program: the installed command's when run as it, else
    main.py."""
    return SCRIPT if Path(argv0).name == SCRIPT else "main.py"


def build_parser(prog: str = "main.py") -> OneLineParser:
    """The parser of every command, named `prog` in its usage and errors; each parsed
    namespace carries its `handler(args) -> int`."""
    parser = OneLineParser(
        prog=prog,
        usage=f"{prog} [PRESET]  |  {prog} COMMAND [options]  ({prog} COMMAND --help for its options)",
        description="Contrastive Kernel Lab: watch the neural-kernel picture of contrastive learning. "
        "With no command it opens the window on PRESET (a shipped preset's name or a preset file; "
        "default: the last one opened, else fig5-2d).",
        formatter_class=CommandsFormatter,
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", prog=prog)
    for module in COMMANDS:
        module.add_command(commands)
    return parser


def with_default_command(argv: list[str]) -> list[str]:
    """`[PRESET]` alone means the window: the window's subcommand name is put in front of
    anything that is not a command's name or an option of the top-level parser."""
    names = {module.NAME for module in COMMANDS}
    if argv and (argv[0] in names or argv[0] in ("-h", "--help")):
        return argv
    return [DEFAULT_COMMAND, *argv]


def main(argv: list[str] | None = None) -> int:
    """Parse `argv` (default: sys.argv[1:]) and run its command; the command's exit status.
    A first word that is neither a command nor a preset, with more after it, is an unknown
    command; arguments a command does not take are blamed on that command."""
    argv = sys.argv[1:] if argv is None else list(argv)
    prog = program(sys.argv[0])
    parser = build_parser(prog)
    names = [module.NAME for module in COMMANDS]
    if len(argv) > 1 and argv[0] not in names and not argv[0].startswith("-") and not _a_preset(argv[0]):
        parser.error(f"unknown command {argv[0]!r} (commands: {', '.join(names)})")
    full = with_default_command(argv)
    args, extra = parser.parse_known_args(full)
    if extra:
        parser.error(f"{full[0]}: unrecognized arguments: {' '.join(extra)}")
    return args.handler(args)


def _a_preset(word: str) -> bool:
    """Whether `word` names a preset file or a shipped preset (what the window opens)."""
    from sim.preset import PRESET_DIR

    return Path(word).is_file() or (PRESET_DIR / f"{word}.toml").is_file()

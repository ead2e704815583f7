"""The command line: one argparse parser (cli.parser) with a subcommand per module here
(`window`, the default, `run`, `export`, `theory`), each module holding its subcommand's
options and its handler. Handlers import torch, Qt and vispy only when they run, so
`main.py --help` answers at once."""

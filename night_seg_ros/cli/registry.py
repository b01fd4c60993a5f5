"""The one shape of both command lines, `night-seg` and `night-seg-train`, as ros2cli's verbs.

Each command is a `register(subcommands)` function that adds its parser and sets `handler(args, parser) -> exit code`
on it; a command line is the list of those functions. `run` parses, calls the handler and prints a NightSegError as
one line with exit code 1; argument errors exit 2 (argparse); anything else is a bug and keeps its traceback.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable

from night_seg_ros.errors import NightSegError

Register = Callable[[argparse._SubParsersAction], None]
"""Adds one or more subcommands, each with `set_defaults(handler=...)`."""


def command_parser(prog: str, description: str, registers: Iterable[Register],
                   epilog: str | None = None) -> argparse.ArgumentParser:
    """The parser of `prog` with the subcommands of `registers`, in their order (`--help` lists them so)."""
    parser = argparse.ArgumentParser(prog=prog, description=description, epilog=epilog,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    subcommands = parser.add_subparsers(dest='command', required=True, metavar='COMMAND')
    for register in registers:
        register(subcommands)
    return parser


def run(parser: argparse.ArgumentParser, argv: list[str] | None) -> int:
    """Parse `argv` (None: sys.argv) and run the chosen subcommand's handler; its exit code, 1 on a NightSegError."""
    args = parser.parse_args(argv)
    try:
        return args.handler(args, parser)
    except NightSegError as error:
        print(f'{parser.prog} {args.command}: error: {error}', file=sys.stderr)
        return 1

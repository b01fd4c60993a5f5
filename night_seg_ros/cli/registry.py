"""The one shape of both command lines, `night-seg` and `night-seg-train`, as ros2cli's verbs.

Each command is a `register(subcommands)` function that adds its parser and sets `handler(args, parser) -> exit code`
on it (`parser`: the subcommand's own, so `parser.error` names the command); a command line is the list of those
functions. `run` parses, calls the handler and ends every failure the user can cause with one line,
`PROG COMMAND: error: ...`, and exit code 1: a NightSegError, an argument error (the parsers are `CommandParser`s:
argparse's usage errors exit 1 too, without the usage block; `--help` shows it), an OSError (a disk full, a
permission), a missing optional package. Ctrl-C ends it with one line and exit code 130 (outputs are written aside,
`files.atomic_output`, so nothing half written is left). Anything else is a bug and keeps its traceback.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterable
from types import FrameType
from typing import NoReturn

from night_seg_ros.errors import NightSegError

Register = Callable[[argparse._SubParsersAction], None]
"""Adds one or more subcommands, each with `set_defaults(handler=...)`."""

USAGE_ERROR = 1
"""Exit code of an argument error: the same as every other error the user can cause."""
INTERRUPTED = 130
"""Exit code after Ctrl-C (128 + SIGINT), as shells report it."""


def one_line(text: str) -> str:
    """`text` with its lines joined by '; ' (an error message must be one line)."""
    return '; '.join(line.strip() for line in str(text).splitlines() if line.strip())


class CommandParser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line, `PROG: error: MESSAGE`, and exit code 1 (USAGE_ERROR).

    Subcommand parsers are of the same class (argparse makes them with the parent's class)."""

    def error(self, message: str) -> NoReturn:
        """Print `PROG: error: MESSAGE` in one line and exit with USAGE_ERROR."""
        self.exit(USAGE_ERROR, f'{self.prog}: error: {one_line(message)}\n')


def command_parser(prog: str, description: str, registers: Iterable[Register],
                   epilog: str | None = None) -> argparse.ArgumentParser:
    """The parser of `prog` with the subcommands of `registers`, in their order (`--help` lists them so)."""
    parser = CommandParser(prog=prog, description=description, epilog=epilog,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    subcommands = parser.add_subparsers(dest='command', required=True, metavar='COMMAND')
    for register in registers:
        register(subcommands)
    return parser


def _interrupt(_signum: int, _frame: FrameType | None) -> None:
    """SIGINT: the first raises KeyboardInterrupt (the command cleans up and exits 130); a second one during that
    clean-up ends the process at once."""
    signal.signal(signal.SIGINT, _exit_now)
    raise KeyboardInterrupt


def _exit_now(_signum: int, _frame: FrameType | None) -> None:
    sys.stderr.write('interrupted again: stopped before cleaning up (a PATH.partial may be left)\n')
    sys.stderr.flush()
    os._exit(INTERRUPTED)


def _missing_package(error: ModuleNotFoundError) -> bool:
    """Whether `error` is a missing third-party package (a missing module of this project is a bug)."""
    return bool(error.name) and not error.name.startswith(('night_seg_ros', 'night_seg_training'))


def _subcommand_parser(parser: argparse.ArgumentParser, command: str) -> argparse.ArgumentParser:
    """The parser of subcommand `command` (its `error` names it: `PROG COMMAND: error: ...`)."""
    subcommands = next(action for action in parser._actions if isinstance(action, argparse._SubParsersAction))
    return subcommands.choices[command]


def run(parser: argparse.ArgumentParser, argv: list[str] | None) -> int:
    """Parse `argv` (None: sys.argv) and run the chosen subcommand's handler; its exit code, 1 on an error the user
    can cause (one line on stderr, argument errors included), 130 on Ctrl-C, 0 after --help."""
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, _interrupt) if main_thread else None
    command = parser.prog
    try:
        args = parser.parse_args(argv)
        command = f'{parser.prog} {args.command}'
        return args.handler(args, _subcommand_parser(parser, args.command))
    except SystemExit as done:  # --help, an argument error (CommandParser.error printed it): the code, not the raise
        return done.code if isinstance(done.code, int) else int(done.code is not None)
    except KeyboardInterrupt:
        print(f'{command}: interrupted', file=sys.stderr)
        return INTERRUPTED
    except (NightSegError, OSError) as error:
        print(f'{command}: error: {one_line(error)}', file=sys.stderr)
        return 1
    except ModuleNotFoundError as error:
        if not _missing_package(error):
            raise
        print(f'{command}: error: this needs the Python module {error.name!r}, which is not installed here '
              '(README: what each command needs)', file=sys.stderr)
        return 1
    finally:
        if main_thread:
            signal.signal(signal.SIGINT, signal.default_int_handler if previous is None else previous)

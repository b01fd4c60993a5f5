"""Both command lines, `night-seg` and `night-seg-train`, have one shape (night_seg_ros/cli/registry.py): every
subcommand sets its handler; a NightSegError, an argument error, an OSError or a missing package ends it with one line
and exit code 1, Ctrl-C with one line and 130, and a bug keeps its traceback."""
from __future__ import annotations

import argparse

import pytest

from night_seg_ros.cli import build_parser as runtime_parser
from night_seg_ros.cli.registry import command_parser, run
from night_seg_ros.errors import NightSegError
from night_seg_training.cli import build_parser as training_parser


@pytest.mark.parametrize('build_parser, commands', [
    (runtime_parser, {'export', 'init', 'bag', 'replay', 'record', 'bench', 'build-engine', 'verify-engine'}),
    (training_parser, {'train', 'eval', 'predict', 'synth', 'drive', 'pairs', 'bench'}),
])
def test_every_subcommand_sets_a_handler(build_parser, commands: set[str]) -> None:
    parser = build_parser()
    subcommands = next(action for action in parser._actions if isinstance(action, argparse._SubParsersAction))
    assert set(subcommands.choices) == commands
    for name, subparser in subcommands.choices.items():
        assert callable(subparser.get_default('handler')), name


def _register(subcommands: argparse._SubParsersAction) -> None:
    def fail(args: argparse.Namespace, _parser: argparse.ArgumentParser) -> int:
        raise NightSegError(f'no such thing: {args.name}\nsecond line')

    def raising(error: BaseException):
        def handler(_args: argparse.Namespace, _parser: argparse.ArgumentParser) -> int:
            raise error
        return handler

    subcommands.add_parser('ok').set_defaults(handler=lambda _args, _parser: 0)
    failing = subcommands.add_parser('fail')
    failing.add_argument('name')
    failing.add_argument('--count', type=int)
    failing.set_defaults(handler=fail)
    subcommands.add_parser('usage').set_defaults(handler=lambda _args, parser: parser.error('needs\nmore'))
    subcommands.add_parser('interrupted').set_defaults(handler=raising(KeyboardInterrupt()))
    subcommands.add_parser('disk').set_defaults(handler=raising(OSError(28, 'No space left on device', 'out.bag')))
    subcommands.add_parser('package').set_defaults(handler=raising(ModuleNotFoundError("no 'tb'", name='tb')))
    subcommands.add_parser('bug').set_defaults(handler=raising(ZeroDivisionError('a bug')))


@pytest.mark.parametrize('argv, code, err', [
    (['ok'], 0, ''),
    (['fail', 'x'], 1, 'tool fail: error: no such thing: x; second line\n'),
    (['fail', 'x', '--count', 'many'], 1, "tool fail: error: argument --count: invalid int value: 'many'\n"),
    (['fail'], 1, 'tool fail: error: the following arguments are required: name\n'),
    (['unknown'], 1, "tool: error: argument COMMAND: invalid choice: 'unknown' (choose from ok, fail, usage, "
                     'interrupted, disk, package, bug)\n'),
    (['usage'], 1, 'tool usage: error: needs; more\n'),
    (['interrupted'], 130, 'tool interrupted: interrupted\n'),
    (['disk'], 1, "tool disk: error: [Errno 28] No space left on device: 'out.bag'\n"),
    (['package'], 1, "tool package: error: this needs the Python module 'tb', which is not installed here (README: "
                     'what each command needs)\n'),
])
def test_every_failure_a_user_causes_is_one_line_with_its_exit_code(capsys: pytest.CaptureFixture[str],
                                                                    argv: list[str], code: int, err: str) -> None:
    parser = command_parser('tool', 'a tool', [_register])
    assert run(parser, argv) == code
    captured = capsys.readouterr()
    assert captured.err.replace("'ok', 'fail', 'usage', 'interrupted', 'disk', 'package', 'bug'",
                                'ok, fail, usage, interrupted, disk, package, bug') == err


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(command_parser('tool', 'a tool', [_register]), ['fail', '--help']) == 0
    assert capsys.readouterr().out.startswith('usage: tool fail')


def test_a_bug_keeps_its_traceback() -> None:
    with pytest.raises(ZeroDivisionError):
        run(command_parser('tool', 'a tool', [_register]), ['bug'])

"""Both command lines, `night-seg` and `night-seg-train`, have one shape (night_seg_ros/cli/registry.py): every
subcommand sets its handler, and a NightSegError ends it with one line and exit code 1."""
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
        raise NightSegError(f'no such thing: {args.name}')

    subcommands.add_parser('ok').set_defaults(handler=lambda _args, _parser: 0)
    failing = subcommands.add_parser('fail')
    failing.add_argument('name')
    failing.set_defaults(handler=fail)


def test_run_returns_the_handlers_code_and_a_night_seg_error_as_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    parser = command_parser('tool', 'a tool', [_register])
    assert run(parser, ['ok']) == 0
    assert run(parser, ['fail', 'x']) == 1
    assert capsys.readouterr().err == 'tool fail: error: no such thing: x\n'
    with pytest.raises(SystemExit) as usage:
        run(parser, ['unknown'])
    assert usage.value.code == 2

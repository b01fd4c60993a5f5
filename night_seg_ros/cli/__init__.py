"""`night-seg`: the runtime tools as subcommands, and the console scripts that are one of them.

  night-seg export BUNDLE               torch -> BUNDLE/model.onnx, checked against torch (exit 1 below 99.9 %)
  night-seg export --hf SOURCE --out DIR   a bundle (with its ONNX) from a Hugging Face SegFormer checkpoint
  night-seg init DIR                    an untrained bundle (random weights) to check plumbing without a model
  night-seg bag | replay | record       recorded drives without the ROS 2 command-line tools
  night-seg bench                       measure backends, the node over DDS, bag processing
  night-seg build-engine BUNDLE         TensorRT engine for this GPU (verify-engine compares it with ONNX Runtime)

Each module here registers its subcommands with `register(subcommands)` (night_seg_ros/cli/registry.py, the shape
`night-seg-train` shares).
"""
from __future__ import annotations

import argparse
import sys

from night_seg_ros.cli import bench, drives, engine, model
from night_seg_ros.cli.registry import command_parser, run

COMMAND_MODULES = (model, drives, bench, engine)
"""The modules whose `register` adds subcommands, in the order `night-seg --help` lists them."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    return command_parser('night-seg', 'night_seg_ros runtime tools', [module.register for module in COMMAND_MODULES])


def main(argv: list[str] | None = None) -> int:
    """Entry point of `night-seg`; returns the exit code (1 with a one-line error for a NightSegError)."""
    return run(build_parser(), argv)


def build_main(argv: list[str] | None = None) -> int:
    """Entry point of `build_engine` (`ros2 run night_seg_ros build_engine BUNDLE ...`): `night-seg build-engine`."""
    return main(['build-engine', *(sys.argv[1:] if argv is None else argv)])


def verify_main(argv: list[str] | None = None) -> int:
    """Entry point of `verify_engine` (`ros2 run night_seg_ros verify_engine BUNDLE ...`): `night-seg verify-engine`."""
    return main(['verify-engine', *(sys.argv[1:] if argv is None else argv)])


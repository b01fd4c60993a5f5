"""Arguments several commands share (of both command lines): --threads bounded as the node's num_threads, --force.

Outputs are checked with `files.output_path` and written with `files.atomic_output`; see night_seg_ros/files.py.
"""
from __future__ import annotations

import argparse

from night_seg_ros.argtypes import number
from night_seg_ros.node.parameters import PARAMETERS_BY_NAME

_NUM_THREADS = PARAMETERS_BY_NAME['num_threads']
threads = number(int, _NUM_THREADS.minimum, _NUM_THREADS.maximum,
                 hint=" (CPU threads, as the node's num_threads; 0 = the library default)")
"""argparse type: a CPU thread count in the range of the node's `num_threads` parameter (0 .. 256)."""


def add_force(parser: argparse.ArgumentParser, what: str = 'outputs') -> None:
    """--force: replace existing `what`, once the new ones are complete (without it an existing output is refused)."""
    parser.add_argument('--force', action='store_true',
                        help=f'replace existing {what}, once the new ones are complete (default: refuse them)')

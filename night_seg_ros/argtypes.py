"""argparse types shared by every command line of the package: numbers within bounds, refused with the bound named;
ROS topic names, devices, folders and files that must exist, each refused naming what is allowed."""
from __future__ import annotations

import argparse
import math
import re
from collections.abc import Callable
from pathlib import Path

from night_seg_ros.vocabulary import DEVICE_PATTERN, DEVICES


def _bound(value: float) -> str:
    """A bound as a user types it: 256, 0.5, 4294967295 (not 4.29497e+09)."""
    return str(int(value)) if float(value).is_integer() else f'{value:g}'


def number(kind: type[int] | type[float], low: float | None = None, high: float | None = None,
           low_inclusive: bool = True, hint: str = '') -> Callable[[str], int | float]:
    """An argparse type: text -> kind(text), refused unless low <= value <= high (low < value if not low_inclusive).

    kind: int or float; a float must be finite. hint: appended to the refusal (e.g. which values make sense).
    """
    noun = 'an integer' if kind is int else 'a number'

    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f'{text!r} is not {noun}') from None
        above = low is None or (value >= low if low_inclusive else value > low)
        below = high is None or value <= high
        if not (math.isfinite(value) and above and below):
            bounds = [f'{">=" if low_inclusive else ">"} {_bound(low)}'] if low is not None else []
            bounds += [f'<= {_bound(high)}'] if high is not None else []
            raise argparse.ArgumentTypeError(f'{value} must be {" and ".join(bounds) or "finite"}{hint}')
        return value

    return parse


positive_int = number(int, 1)
"""An integer >= 1."""
positive_float = number(float, 0.0, low_inclusive=False)
"""A finite number > 0."""
fraction = number(float, 0.0, 1.0)
"""A number between 0 and 1."""
non_negative_int = number(int, 0)
"""An integer >= 0."""
non_negative_float = number(float, 0.0)
"""A finite number >= 0."""
seed = number(int, 0, 2**32 - 1, hint=' (a random seed)')
"""A random seed, 0 .. 2**32 - 1 (what numpy, torch and OpenCV all take)."""

_TOPIC = re.compile(r'/?[A-Za-z_][A-Za-z0-9_]*(/[A-Za-z_][A-Za-z0-9_]*)*')
TOPIC_RULES = ("letters, digits and '_' in tokens separated by single '/', no token starting with a digit, no "
               "trailing '/', e.g. /camera/image_raw")


def ros_topic(text: str) -> str:
    """argparse type: a ROS 2 topic name (absolute or relative; without '~' or '{}' substitutions)."""
    if not _TOPIC.fullmatch(text):
        raise argparse.ArgumentTypeError(f'{text!r} is not a valid ROS topic name ({TOPIC_RULES})')
    return text


def device(text: str) -> str:
    """argparse type: auto, cpu, cuda or cuda:N (as the node's `device` parameter)."""
    if not DEVICE_PATTERN.match(text):
        raise argparse.ArgumentTypeError(f'{text!r} is not a device; allowed: {DEVICES}')
    return text


def existing_folder(text: str) -> Path:
    """argparse type: a folder that exists."""
    path = Path(text).expanduser()
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f'{text} {"is not a folder" if path.exists() else "does not exist"}')
    return path


def existing_file(text: str) -> Path:
    """argparse type: a regular file that exists."""
    path = Path(text).expanduser()
    if not path.is_file():
        raise argparse.ArgumentTypeError(f'{text} {"is not a file" if path.exists() else "does not exist"}')
    return path

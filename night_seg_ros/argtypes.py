"""argparse types shared by every command line of the package: numbers within bounds, refused with the bound named."""
from __future__ import annotations

import argparse
import math
from collections.abc import Callable


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
            bounds = [f'{">=" if low_inclusive else ">"} {low:g}'] if low is not None else []
            bounds += [f'<= {high:g}'] if high is not None else []
            raise argparse.ArgumentTypeError(f'{value} must be {" and ".join(bounds) or "finite"}{hint}')
        return value

    return parse


positive_int = number(int, 1)
"""An integer >= 1."""
positive_float = number(float, 0.0, low_inclusive=False)
"""A finite number > 0."""
fraction = number(float, 0.0, 1.0)
"""A number between 0 and 1."""

"""Figures over seeds, as the studies' tables print them."""
from __future__ import annotations

import statistics
from collections.abc import Sequence


def mean_spread(values: Sequence[float], digits: int = 1) -> str:
    """'mean ± s' of per-seed figures, s the sample standard deviation (n - 1); one figure alone prints as itself.

    The sample spread is the one that estimates how far another seed could land; with two seeds it is √2 times the
    population spread.
    """
    if not values:
        raise ValueError('mean_spread needs at least one value')
    if len(values) == 1:
        return f'{values[0]:.{digits}f}'
    return f'{statistics.fmean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}'

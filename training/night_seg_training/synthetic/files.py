"""Synthetic data on disk: `write_dataset` writes day/night pairs in Dark Zurich's layout with references paired by
name (night_seg_training.layout), `contact_sheet` shows pairs with their labels side by side.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from night_seg_ros.classes import CITYSCAPES_PALETTE
from night_seg_ros.drives import preview
from night_seg_ros.render import colorize, palette_lut, write_png
from night_seg_training import layout
from night_seg_training.synthetic.rendering import SynthError
from night_seg_training.synthetic.street_pairs import StreetPair, check_pairs, render_pair

GENERATOR_VERSION: int = 1
"""Version of the generator, written into the SYNTHETIC.md of every dataset and drive bag."""
SEQUENCE = 'SYNTH'
"""The sequence name of every synthetic pair on disk."""


def write_dataset(root: str | os.PathLike, split: str, count: int, height: int, width: int, seed: int,
                  alignment: str = 'aligned') -> Path:
    """Write `count` pairs of `split` as PNGs under root in Dark Zurich's layout, references paired by name
    (layout.py; sequence SYNTH): the night images and their labels, the day references and their labels, and
    SYNTHETIC.md. Returns root. A rerun overwrites; SYNTH_frame_* files of an earlier, larger run are removed.
    """
    check_pairs(split, count, height, width, seed, alignment)
    root = Path(root)
    kinds = {'night': layout.NIGHT_IMAGES, 'day': layout.REFERENCES, 'night_label': layout.NIGHT_LABELS,
             'day_label': layout.REFERENCE_LABELS}
    for kind in kinds.values():
        folder = kind.sequence_folder(root, split, SEQUENCE)
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob(f'{SEQUENCE}_frame_*.png'):
            old.unlink()
    for index in range(count):
        pair = render_pair(seed, split, index, height, width, alignment)
        for key, image in (('night', pair.night_image), ('day', pair.day_image), ('night_label', pair.night_label),
                           ('day_label', pair.day_label)):
            write_png(kinds[key].path(root, split, SEQUENCE, layout.frame_stem(SEQUENCE, index)),
                      cv2.cvtColor(image, cv2.COLOR_RGB2BGR) if image.ndim == 3 else image)
    (root / 'SYNTHETIC.md').write_text(
        '# Synthetic data\n\n'
        'Every image and label here is procedurally generated synthetic data (night_seg_training.synthetic): simple '
        '3-D street scenes rendered by day and by night, not photographs of real places.\n\n'
        f'- generator version: {GENERATOR_VERSION}\n- seed: {seed}\n- split: {split}\n- pairs: {count}\n'
        f'- day/night alignment: {alignment}\n'
        f'- size: {width}x{height} (width x height)\n'
        '- labels: Cityscapes train ids 0..18 (exact: drawn with the geometry)\n'
        '- layout: Dark Zurich val-like; night images with labels, day references with labels\n')
    return root


def contact_sheet(pairs: Sequence[StreetPair]) -> np.ndarray:
    """uint8 (N * H, 4 * W, 3) RGB: one row per pair, day | day label | night | night label (Cityscapes colours)."""
    if not pairs:
        raise SynthError('contact_sheet needs at least one StreetPair')
    lut = palette_lut(CITYSCAPES_PALETTE)
    return preview.contact_sheet([[('', p.day_image), ('', colorize(p.day_label, lut)), ('', p.night_image),
                                   ('', colorize(p.night_label, lut))] for p in pairs], tile_width=None)

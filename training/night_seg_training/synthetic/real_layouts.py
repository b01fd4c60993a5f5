"""Synthetic streets written in the real datasets' published layouts and file names, for a dress rehearsal of a real
run (train -> eval -> Dark Zurich test submission) on any machine: `write_real_layouts`.

Under root, one folder per dataset, each what its reader (night_seg_training.datasets) expects of the real one:

  cityscapes/          leftImg8bit/<split>/<city>/<city>_000000_<n>_leftImg8bit.png and
                       gtFine/<split>/<city>/<city>_000000_<n>_gtFine_labelTrainIds.png (train, val; day views)
  dark_zurich/         train: rgb_anon/train/night|day/<SEQ>/..., paired by corresp/train/night/
                       zurich_dn_pair_train.csv in DANNet's "<night>,<day>" form; val: night images, their labels
                       (gt/val/night) and day references by name (rgb_anon/val_ref); test: night images and references,
                       no labels (the benchmark withholds them)
  acdc_night/          rgb_anon/night/val/<SEQ>/..._rgb_anon.png, gt/night/val/<SEQ>/..._gt_labelTrainIds.png and
                       references rgb_anon/night/val_ref/<SEQ>/..._rgb_ref_anon.png
  nighttime_driving/   leftImg8bit/test/night/<name>_leftImg8bit.png and
                       gtCoarse_daytime_trainvaltest/test/night/<name>_gtCoarse_labelTrainIds.png

Every image is a synthetic street (SYNTHETIC.md in root says so); no two sets share a place.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from night_seg_ros.render import write_png
from night_seg_training import layout
from night_seg_training.synthetic.files import GENERATOR_VERSION
from night_seg_training.synthetic.street_pairs import StreetPair, check_pairs, render_pair

CITIES = ('aachen', 'bochum')
"""Cityscapes cities the day views are spread over, in turn."""
NIGHT_SEQUENCE, DAY_SEQUENCE = 'GOPR0351', 'GOPR0229'
"""Dark Zurich's train sequences (a night recording and the day recording it is paired with)."""
VAL_SEQUENCE, TEST_SEQUENCE, ACDC_SEQUENCE = 'GOPR0356', 'GOPR0364', 'GOPR0376'


def _write(path: Path, image: np.ndarray) -> None:
    """Write uint8 (H, W, 3) RGB or (H, W) labels as a PNG at `path`."""
    write_png(path, cv2.cvtColor(image, cv2.COLOR_RGB2BGR) if image.ndim == 3 else image)


def _pairs(seed: int, split: str, start: int, count: int, size: tuple[int, int]) -> Iterator[tuple[int, StreetPair]]:
    """(frame number, pair) of places start .. start + count - 1 of `split` at `size` = (height, width)."""
    for frame in range(count):
        yield frame, render_pair(seed, split, start + frame, *size, 'coarse')


def _cityscapes(root: Path, seed: int, count: int, size: tuple[int, int]) -> None:
    for split in ('train', 'val'):
        for frame, pair in _pairs(seed, split, 0, count, size):
            city = CITIES[frame % len(CITIES)]
            stem = f'{city}_000000_{frame:06d}'
            _write(root / 'leftImg8bit' / split / city / f'{stem}_leftImg8bit.png', pair.day_image)
            _write(root / 'gtFine' / split / city / f'{stem}_gtFine_labelTrainIds.png', pair.day_label)


def _dark_zurich(root: Path, seed: int, count: int, size: tuple[int, int]) -> None:
    lines = []
    for frame, pair in _pairs(seed, 'train', count, count, size):
        night_stem = layout.frame_stem(NIGHT_SEQUENCE, frame)
        day_stem = layout.frame_stem(DAY_SEQUENCE, count - 1 - frame)  # crossed, so order cannot stand for pairing
        _write(layout.NIGHT_IMAGES.path(root, 'train', NIGHT_SEQUENCE, night_stem), pair.night_image)
        _write(layout.DAY_IMAGES.path(root, 'train', DAY_SEQUENCE, day_stem), pair.day_image)
        lines.append(f'{layout.pair_key("train", "night", NIGHT_SEQUENCE, night_stem)},'
                     f'{layout.pair_key("train", "day", DAY_SEQUENCE, day_stem)}\n')
    pairs = layout.pair_list(root, 'train')
    pairs.parent.mkdir(parents=True, exist_ok=True)
    pairs.write_text(''.join(lines))
    for split, sequence in (('val', VAL_SEQUENCE), ('test', TEST_SEQUENCE)):
        for frame, pair in _pairs(seed, split, 0, count, size):
            stem = layout.frame_stem(sequence, frame)
            _write(layout.NIGHT_IMAGES.path(root, split, sequence, stem), pair.night_image)
            _write(layout.REFERENCES.path(root, split, sequence, stem), pair.day_image)
            if split == 'val':
                _write(layout.NIGHT_LABELS.path(root, split, sequence, stem), pair.night_label)


def _acdc_night(root: Path, seed: int, count: int, size: tuple[int, int]) -> None:
    for frame, pair in _pairs(seed, 'val', count, count, size):
        stem = layout.frame_stem(ACDC_SEQUENCE, frame)
        _write(root / 'rgb_anon' / 'night' / 'val' / ACDC_SEQUENCE / f'{stem}_rgb_anon.png', pair.night_image)
        _write(root / 'gt' / 'night' / 'val' / ACDC_SEQUENCE / f'{stem}_gt_labelTrainIds.png', pair.night_label)
        _write(root / 'rgb_anon' / 'night' / 'val_ref' / ACDC_SEQUENCE / f'{stem}_rgb_ref_anon.png', pair.day_image)


def _nighttime_driving(root: Path, seed: int, count: int, size: tuple[int, int]) -> None:
    for frame, pair in _pairs(seed, 'test', count, count, size):
        stem = f'{frame:04d}_frame_{frame:06d}'
        _write(root / 'leftImg8bit' / 'test' / 'night' / f'{stem}_leftImg8bit.png', pair.night_image)
        _write(root / 'gtCoarse_daytime_trainvaltest' / 'test' / 'night' / f'{stem}_gtCoarse_labelTrainIds.png',
               pair.night_label)


WRITERS = {'cityscapes': _cityscapes, 'dark_zurich': _dark_zurich, 'acdc_night': _acdc_night,
           'nighttime_driving': _nighttime_driving}
"""The folder under root and the writer of each dataset (its name is the reader's name)."""


def write_real_layouts(root: str | os.PathLike, count: int = 2, height: int = 288, width: int = 512,
                       seed: int = 0) -> dict[str, Path]:
    """Write `count` synthetic images per split of each dataset in WRITERS under root/<dataset name>, at height x
    width (multiples of 32; 288x512 has Dark Zurich's 9:16 aspect, Cityscapes' own is 1:2), and root/SYNTHETIC.md.
    Returns {dataset name: its root}. SynthError for a count, size or seed the generator refuses."""
    check_pairs('train', count, height, width, seed, 'coarse')
    root = Path(root)
    roots = {}
    for name, writer in WRITERS.items():
        roots[name] = root / name
        writer(roots[name], seed, count, (height, width))
    (root / 'SYNTHETIC.md').write_text(
        '# Synthetic data in the real datasets\' layouts\n\n'
        'Every image and label here is procedurally generated synthetic data (night_seg_training.synthetic), written '
        'in the published layouts and file names of Cityscapes, Dark Zurich, ACDC night and Nighttime Driving for a '
        'dress rehearsal of a real run. None of it is a photograph or comes from those datasets.\n\n'
        f'- generator version: {GENERATOR_VERSION}\n- seed: {seed}\n- images per split: {count}\n'
        f'- size: {width}x{height} (width x height)\n')
    return roots

"""Tiny datasets written with cv2 in each reader's published layout (Cityscapes, Dark Zurich train / val / test,
ACDC night, Nighttime Driving), for the readers' tests and the commands that read them."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

HEIGHT, WIDTH = 16, 32
REF_HEIGHT, REF_WIDTH = 20, 40  # day references are another size, as Dark Zurich's may be after cropping
_RNG = np.random.default_rng(20240612)

def random_rgb(height: int = HEIGHT, width: int = WIDTH) -> np.ndarray:
    """Return random uint8 (height, width, 3) RGB noise."""
    return _RNG.integers(0, 256, (height, width, 3), dtype=np.uint8)


def random_label(height: int = HEIGHT, width: int = WIDTH) -> np.ndarray:
    """Return a random uint8 (height, width) train-id label with some ignore (255) pixels."""
    label = _RNG.integers(0, 19, (height, width), dtype=np.uint8)
    label[0, :4] = 255
    return label


def write_image(path: Path, array: np.ndarray) -> np.ndarray:
    """Write ``array`` (RGB (H, W, 3) or single-channel (H, W)) as a PNG at ``path``; return it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), cv2.cvtColor(array, cv2.COLOR_RGB2BGR) if array.ndim == 3 else array)
    return array


def make_cityscapes(root: Path, split: str = 'train', label_suffix: str = '_gtFine_labelTrainIds.png') -> list[dict]:
    """Write two Cityscapes images (two cities) with labels; return the expected samples."""
    expected = []
    for stem in ('aachen_000000_000019', 'bochum_000000_000313'):
        city = stem.split('_')[0]
        image = write_image(root / 'leftImg8bit' / split / city / f'{stem}_leftImg8bit.png', random_rgb())
        label = write_image(root / 'gtFine' / split / city / f'{stem}{label_suffix}', random_label())
        expected.append({'image': image, 'label': label, 'name': stem})
    return expected


def make_dark_zurich_val_style(root: Path, split: str = 'val', day_labels: bool = False) -> tuple[list, list]:
    """Write Dark Zurich val-style night images, labels and day references (and day labels, as the synthetic
    generator does); return the expected night samples and day-reference samples."""
    night, day = [], []
    for sequence, frame in (('GOPR0356', 321), ('GOPR0364', 1)):
        stem = f'{sequence}_frame_{frame:06d}'
        image = write_image(root / 'rgb_anon' / split / 'night' / sequence / f'{stem}_rgb_anon.png', random_rgb())
        label = write_image(root / 'gt' / split / 'night' / sequence / f'{stem}_gt_labelTrainIds.png', random_label())
        reference = write_image(root / 'rgb_anon' / f'{split}_ref' / 'day' / f'{sequence}_ref' /
                                f'{stem}_ref_rgb_anon.png',
                           random_rgb(REF_HEIGHT, REF_WIDTH))
        night.append({'image': image, 'label': label, 'reference': reference, 'name': stem})
        if day_labels:
            day_label = write_image(root / 'gt' / f'{split}_ref' / 'day' / f'{sequence}_ref' /
                               f'{stem}_ref_gt_labelTrainIds.png', random_label(REF_HEIGHT, REF_WIDTH))
            day.append({'image': reference, 'label': day_label, 'name': f'{stem}_ref'})
    return night, day


NIGHT_TO_DAY = {'GOPR0351/GOPR0351_frame_000159': 'GOPR0229/GOPR0229_frame_000401',
                'GOPR0351/GOPR0351_frame_000160': 'GOPR0229/GOPR0229_frame_000400'}


def make_dark_zurich_train(root: Path) -> list[dict]:
    """Write Dark Zurich train night and day images and the pair list (pairs crossed, so order cannot fake them)."""
    expected, lines = [], []
    for night, day in NIGHT_TO_DAY.items():
        image = write_image(root / 'rgb_anon' / 'train' / 'night' / f'{night}_rgb_anon.png', random_rgb())
        reference = write_image(root / 'rgb_anon' / 'train' / 'day' / f'{day}_rgb_anon.png',
                                random_rgb(REF_HEIGHT, REF_WIDTH))
        expected.append({'image': image, 'reference': reference, 'name': night.split('/')[1]})
        lines.append(f'train/night/{night},train/day/{day}\n')
    pairs = root / 'corresp' / 'train' / 'night' / 'zurich_dn_pair_train.csv'
    pairs.parent.mkdir(parents=True)
    pairs.write_text(''.join(lines))
    return expected


def make_acdc_night(root: Path, split: str = 'train') -> list[dict]:
    """Write two ACDC night images with labels and references; return the expected samples with 'reference'."""
    expected = []
    for sequence, frame in (('GOPR0351', 159), ('GOPR0376', 12)):
        stem = f'{sequence}_frame_{frame:06d}'
        image = write_image(root / 'rgb_anon' / 'night' / split / sequence / f'{stem}_rgb_anon.png', random_rgb())
        label = write_image(root / 'gt' / 'night' / split / sequence / f'{stem}_gt_labelTrainIds.png', random_label())
        reference = write_image(root / 'rgb_anon' / 'night' / f'{split}_ref' / sequence / f'{stem}_rgb_ref_anon.png',
                           random_rgb(REF_HEIGHT, REF_WIDTH))
        expected.append({'image': image, 'label': label, 'reference': reference, 'name': stem})
    return expected


def make_nighttime_driving(root: Path) -> list[dict]:
    """Write two Nighttime Driving test images with coarse labels; return the expected samples."""
    expected = []
    for stem in ('0000_frame_000050', '0001_frame_000120'):
        image = write_image(root / 'leftImg8bit' / 'test' / 'night' / f'{stem}_leftImg8bit.png', random_rgb())
        label = write_image(root / 'gtCoarse_daytime_trainvaltest' / 'test' / 'night' /
                            f'{stem}_gtCoarse_labelTrainIds.png',
                       random_label())
        expected.append({'image': image, 'label': label, 'name': stem})
    return expected


def make_dark_zurich_test(root: Path, height: int = HEIGHT, width: int = WIDTH) -> list[dict]:
    """Write Dark Zurich test night images and their day references (the benchmark withholds the labels: no gt/);
    return the expected night samples without references."""
    expected = []
    for sequence, frame in (('GOPR0356', 1), ('GOPR0364', 120)):
        stem = f'{sequence}_frame_{frame:06d}'
        image = write_image(root / 'rgb_anon' / 'test' / 'night' / sequence / f'{stem}_rgb_anon.png',
                            random_rgb(height, width))
        write_image(root / 'rgb_anon' / 'test_ref' / 'day' / f'{sequence}_ref' / f'{stem}_ref_rgb_anon.png',
                    random_rgb(REF_HEIGHT, REF_WIDTH))
        expected.append({'image': image, 'name': stem})
    return expected

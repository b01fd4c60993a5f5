"""Which classes the day reference may give a night image: the static classes, and boolean masks over class ids.

A day and a night visit of the same place share its layout (road, buildings, sky, ...) but not its traffic: the
refinement (refinement.py) takes only static classes from the day reference, and `full`'s ClassMix pastes only the
dynamic ones (augment.classmix_masks with `only=~static`).
"""
from __future__ import annotations

from collections.abc import Sequence

import torch

STATIC_CLASS_NAMES = ('road', 'sidewalk', 'building', 'wall', 'fence', 'pole', 'traffic light', 'traffic sign',
                      'vegetation', 'terrain', 'sky')
"""Classes whose layout does not change between a day and a night visit of the same place (Cityscapes names); the
others (person, rider, car, truck, bus, train, motorcycle, bicycle) are dynamic."""


def class_mask(classes: Sequence[str], chosen: Sequence[str]) -> torch.Tensor:
    """bool (K,): True for the `chosen` class names among a bundle's class names `classes` (K of them)."""
    return torch.tensor([name in chosen for name in classes])


def static_class_mask(classes: Sequence[str]) -> torch.Tensor:
    """bool (K,): True for the static classes (STATIC_CLASS_NAMES) among a bundle's class names."""
    return class_mask(classes, STATIC_CLASS_NAMES)

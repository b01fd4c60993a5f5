"""Rare-class sampling of the labelled day images (DAFormer's RCS, Hoyer et al., CVPR 2022, section 3.3).

Uniform sampling shows a class as often as it occurs, so a class of a few pixels a frame (pole, person, rider) is
rarely learned, and during adaptation the pseudo-labels of the night, where it is rarer still, wash it out. RCS
first draws a class c with probability P(c) = softmax((1 - f_c) / T) over the classes that occur, f_c the share
of all labelled pixels that are c, then a day image that shows c. The crop is redrawn (up to `CROP_TRIES` times)
until it shows c as well.

Which images "show" a class is resolution-free here: c covers at least `min_share` of the image's labelled pixels
(DAFormer: 3000 pixels of a GTA frame, about 0.15 %), and a crop at least half that share of its own pixels
(DAFormer's crop ratio 0.5).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from night_seg_ros.errors import NightSegError

CROP_TRIES = 10
"""Crops drawn at most until one shows the drawn class (DAFormer: 10); the last one is kept either way."""


class RareClassError(NightSegError, ValueError):
    """The labelled images cannot be sampled by class (no labels, or no class covers enough of any image)."""


def label_pixel_counts(dataset: Any, num_classes: int) -> np.ndarray:
    """int64 (len(dataset), num_classes): pixels of each train id in each image's label (ignored pixels not counted).

    Reads only the label where the dataset offers `label(index)` (the file readers), else the whole item.
    RareClassError when an item has no label.
    """
    counts = np.zeros((len(dataset), num_classes), np.int64)
    read_label = getattr(dataset, 'label', None)
    for index in range(len(dataset)):
        label = read_label(index) if read_label is not None else dataset[index].get('label')
        if label is None:
            raise RareClassError(f'{dataset!r} item {index} has no label; rare-class sampling needs labelled images')
        counts[index] = np.bincount(label.ravel(), minlength=256)[:num_classes]
    return counts


@dataclass(frozen=True)
class RareClassSampler:
    """Draws (class, image index) pairs; built by `rare_class_sampler`.

    classes:       int64 (K,) the train ids that can be drawn
    probabilities: float64 (K,) P(c), summing to 1
    images:        per drawable class, int64 indices of the images that show it
    min_share:     the share of an image's labelled pixels a class must cover there to be shown
    """

    classes: np.ndarray
    probabilities: np.ndarray
    images: tuple[np.ndarray, ...]
    min_share: float

    def draw(self, rng: np.random.Generator) -> tuple[int, int]:
        """(train id, image index): a class by P(c), then uniformly one of the images that show it."""
        which = int(rng.choice(len(self.classes), p=self.probabilities))
        candidates = self.images[which]
        return int(self.classes[which]), int(candidates[rng.integers(0, len(candidates))])

    def crop_shows(self, label: np.ndarray, train_id: int) -> bool:
        """Whether a crop's label uint8 (h, w) shows `train_id` on at least half of `min_share` of its pixels."""
        return np.count_nonzero(label == train_id) >= 0.5 * self.min_share * label.size


def rare_class_sampler(counts: np.ndarray, temperature: float, min_share: float) -> RareClassSampler:
    """The sampler over images with per-image class pixel counts `counts` int64 (N, C).

    temperature: T of the softmax over 1 - f_c (DAFormer: 0.01; larger is closer to uniform over classes).
    min_share:   an image shows class c when c covers at least this share of its labelled pixels.
    Classes no image shows are never drawn, and P(c) is renormalised over the others. RareClassError when no
    class qualifies.
    """
    totals = counts.sum(axis=1, keepdims=True)
    shows = (counts >= min_share * np.maximum(totals, 1)) & (counts > 0)
    drawable = np.flatnonzero(shows.any(axis=0))
    if drawable.size == 0:
        raise RareClassError(f'no class covers {min_share:.2%} of any of the {len(counts)} labelled images; '
                             'lower data.rare_class_min_share or check the labels')
    frequency = counts.sum(axis=0) / max(int(counts.sum()), 1)
    logits = (1.0 - frequency[drawable]) / temperature
    probabilities = np.exp(logits - logits.max())
    return RareClassSampler(classes=drawable.astype(np.int64), probabilities=probabilities / probabilities.sum(),
                            images=tuple(np.flatnonzero(shows[:, c]) for c in drawable), min_share=min_share)

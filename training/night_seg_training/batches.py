"""What each training iteration gets: sampled items, weak (geometric) augmentation, and torch tensors.

A batch is a pure function of (seed, rank, iteration): the items it samples and every random choice of its
augmentation come from `np.random.default_rng([seed, rank, iteration])`. So a resumed run sees exactly the batches
the interrupted run would have seen, with no sampler state to save, and DDP ranks see different data.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import torch

from night_seg_ros.classes import IGNORE_INDEX
from night_seg_training.rare_class import CROP_TRIES, RareClassSampler

IMAGE_KEYS = ('image', 'reference')
LABEL_KEYS = ('label',)
SOURCE_KEYS = ('image', 'label')
VALID_KEY = 'valid'
"""The key of each crop's mask of image pixels (not padding)."""


def weak_augment(sample: dict[str, Any], rng: np.random.Generator, resize_height: int,
                 scale_range: tuple[float, float], crop: tuple[int, int], flip: bool = True) -> dict[str, np.ndarray]:
    """Resize, randomly scale, crop and flip every image and label of one sample with the same choices.

    sample: 'image' uint8 (H, W, 3), optional 'reference' uint8 (H', W', 3) (first resized to H x W, since a day
    reference is only coarsely aligned with its night image), optional 'label' uint8 (H, W).
    Returns the same keys at `crop` = (height, width) pixels; padding (where the scaled image is smaller than the
    crop) is 0 for images and IGNORE_INDEX for labels; and VALID_KEY: uint8 (height, width), 1 on image pixels, 0 on
    padding (the night image and its reference share it: the reference is cut as the night image is).
    """
    height, width = sample['image'].shape[:2]
    scale = resize_height / height * rng.uniform(*scale_range)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))  # cv2 order: (width, height)
    crop_h, crop_w = crop
    pad_h, pad_w = max(0, crop_h - size[1]), max(0, crop_w - size[0])
    top = int(rng.integers(0, size[1] + pad_h - crop_h + 1))
    left = int(rng.integers(0, size[0] + pad_w - crop_w + 1))
    mirror = flip and rng.random() < 0.5
    resized = {key: cv2.resize(sample[key], size, interpolation=cv2.INTER_NEAREST if key in LABEL_KEYS
                               else cv2.INTER_LINEAR) for key in IMAGE_KEYS + LABEL_KEYS if key in sample}
    resized[VALID_KEY] = np.ones((size[1], size[0]), np.uint8)
    out = {}
    for key, array in resized.items():
        if pad_h or pad_w:
            fill = IGNORE_INDEX if key in LABEL_KEYS else 0 if key == VALID_KEY else (0, 0, 0)
            array = cv2.copyMakeBorder(array, 0, pad_h, 0, pad_w, cv2.BORDER_CONSTANT, value=fill)
        array = array[top:top + crop_h, left:left + crop_w]
        out[key] = np.ascontiguousarray(array[:, ::-1] if mirror else array)
    return out


def to_tensors(samples: list[dict[str, np.ndarray]]) -> dict[str, torch.Tensor]:
    """Stack augmented samples: images -> float32 (N, 3, H, W) in [0, 1] RGB; labels -> int64 (N, H, W);
    VALID_KEY -> bool (N, H, W)."""
    batch = {}
    for key in samples[0]:
        stacked = torch.from_numpy(np.stack([sample[key] for sample in samples]))
        if key in IMAGE_KEYS:
            batch[key] = stacked.permute(0, 3, 1, 2).float().div_(255.0)  # (N, H, W, 3) -> (N, 3, H, W)
        elif key == VALID_KEY:
            batch[key] = stacked.bool()
        else:
            batch[key] = stacked.long()
    return batch


@dataclass(frozen=True)
class Crops:
    """How `weak_augment` cuts a training crop from an item: resized to `resize_height` (keeping the aspect ratio),
    scaled by a random factor in `scale_range`, cut to `size` = (height, width) pixels, flipped half of the time."""

    resize_height: int
    scale_range: tuple[float, float]
    size: tuple[int, int]


class IterationBatches:
    """Map-style dataset over iteration numbers: item `i` is the whole batch of iteration `i` for this rank.

    source: the labelled day items; crops: how each item is cut (`Crops`); batch_size: items per domain; seed and
    rank: what the draws depend on besides the iteration. target: the night items, drawn with only `target_keys`
    ('image', and 'reference', 'label' as the method and its diagnostics need); None for a method that reads none.
    source_sampler: draws the day items by class (rare_class.py) instead of uniformly.

    Returns {'source': {'image', 'label'}} plus, with a target, {'target': {key: ... for key in target_keys}};
    tensors as in `to_tensors`.
    """

    def __init__(self, source: Any, crops: Crops, batch_size: int, seed: int, rank: int = 0, target: Any | None = None,
                 target_keys: tuple[str, ...] = ('image',), source_sampler: RareClassSampler | None = None) -> None:
        self.source = source
        self.source_sampler = source_sampler
        self.target = target
        self.batch_size = batch_size
        self.seed = seed
        self.rank = rank
        self.augment = dict(resize_height=crops.resize_height, scale_range=crops.scale_range, crop=crops.size)
        self.target_keys = target_keys

    @staticmethod
    def _item(dataset: Any, index: int, keys: tuple[str, ...]) -> dict[str, Any]:
        """Item `index` of `dataset` with only `keys`; KeyError naming what it lacks and what the method needs."""
        item = dataset[index]
        missing = [key for key in keys if key not in item]
        if missing:
            raise KeyError(f'{type(dataset).__name__} item {index} has no {", ".join(missing)}; '
                           f'this method needs {", ".join(keys)}')
        return {key: item[key] for key in keys}

    def _draw(self, dataset: Any, keys: tuple[str, ...], rng: np.random.Generator) -> dict[str, torch.Tensor]:
        indices = rng.integers(0, len(dataset), size=self.batch_size)
        return to_tensors([weak_augment(self._item(dataset, int(index), keys), rng, **self.augment)
                           for index in indices])

    def _draw_rare(self, rng: np.random.Generator) -> dict[str, torch.Tensor]:
        """Day items by rare-class sampling, each crop redrawn until it shows the drawn class (CROP_TRIES)."""
        samples = []
        for _ in range(self.batch_size):
            train_id, index = self.source_sampler.draw(rng)
            item = self._item(self.source, index, SOURCE_KEYS)
            for _ in range(CROP_TRIES):
                sample = weak_augment(item, rng, **self.augment)
                if self.source_sampler.crop_shows(sample['label'], train_id):
                    break
            samples.append(sample)
        return to_tensors(samples)

    def __getitem__(self, iteration: int) -> dict[str, dict[str, torch.Tensor]]:
        rng = np.random.default_rng([self.seed, self.rank, iteration])
        batch = {'source': (self._draw(self.source, SOURCE_KEYS, rng) if self.source_sampler is None
                            else self._draw_rare(rng))}
        if self.target is not None:
            batch['target'] = self._draw(self.target, self.target_keys, rng)
        return batch


def iteration_loader(batches: IterationBatches, start: int, stop: int, workers: int) -> torch.utils.data.DataLoader:
    """Batches of iterations start..stop-1 in order, prepared by `workers` background processes (0: inline)."""
    return torch.utils.data.DataLoader(batches, sampler=range(start, stop), batch_size=None, num_workers=workers,
                                       prefetch_factor=2 if workers else None, persistent_workers=False)

"""Confusion matrix and IoU of semantic segmentation, accumulated over many images (numpy only).

Used by the offline bag tool and the demo in the runtime, and by training's evaluation. IoU_c = TP_c / (TP_c + FP_c +
FN_c) from one integer matrix over the whole set (not averaged per image), the Cityscapes convention; mIoU is the
mean over classes that occur in the ground truth or the prediction.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from night_seg_ros.classes import IGNORE_INDEX


class ConfusionMatrix:
    """Pixel counts of (ground-truth class, predicted class) pairs, accumulated over many images.

    `matrix` is int64 (C, C + 1): row = ground-truth class, column = predicted class, and the extra last column counts
    pixels predicted as `ignore_index` ("unknown", e.g. below the node's confidence threshold). Those pixels are
    errors: they count as false negatives of their ground-truth class and as no class's false positive. Pixels whose
    ground truth is `ignore_index` are not counted at all.
    """

    def __init__(self, num_classes: int, ignore_index: int = IGNORE_INDEX) -> None:
        """Start empty for class ids 0..num_classes - 1; `ignore_index` (num_classes..255) marks "no class"."""
        if not 0 < num_classes <= 255:
            raise ValueError(f'num_classes must be in 1-255 (uint8 labels); got {num_classes}')
        if not num_classes <= ignore_index <= 255:
            raise ValueError(f'ignore_index must be in {num_classes}-255 (not a class id); got {ignore_index}')
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self._matrix = np.zeros((num_classes, num_classes + 1), np.int64)
        # uint8 id -> bin along each axis: classes 0..C-1, C = ignore, C + 1 = an id that is neither (an error).
        self._bins = np.full(256, num_classes + 1, np.int64)
        self._bins[:num_classes] = np.arange(num_classes)
        self._bins[ignore_index] = num_classes

    @property
    def matrix(self) -> np.ndarray:
        """A copy of the counts, int64 (C, C + 1): [ground-truth class, predicted class or C = unknown]."""
        return self._matrix.copy()

    def update(self, prediction: np.ndarray, target: np.ndarray) -> None:
        """Count one or more images: prediction and target are uint8 (H, W) or (N, H, W) class ids of the same shape.

        Raises ValueError on a shape or dtype mismatch, or on an id that is neither a class nor `ignore_index`.
        """
        if prediction.shape != target.shape:
            raise ValueError(f'prediction shape {prediction.shape} and target shape {target.shape} differ')
        if prediction.dtype != np.uint8 or target.dtype != np.uint8:
            raise ValueError(f'prediction and target must be uint8 class ids; got {prediction.dtype} and '
                             f'{target.dtype}')
        size = self.num_classes + 2
        counts = np.bincount((self._bins[target] * size + self._bins[prediction]).ravel(), minlength=size * size)
        counts = counts.reshape(size, size)  # [target bin, prediction bin]
        for name, ids, bad in (('target', target, counts[-1].sum()), ('prediction', prediction, counts[:, -1].sum())):
            if bad:
                invalid = np.unique(ids[self._bins[ids] == self.num_classes + 1])
                raise ValueError(f'{name} has {bad} pixels with ids {invalid.tolist()}, neither a class id '
                                 f'(0-{self.num_classes - 1}) nor ignore ({self.ignore_index})')
        self._matrix += counts[:self.num_classes, :self.num_classes + 1]

    def merge(self, matrix: np.ndarray) -> None:
        """Add counts from elsewhere (another process, another shard): an integer (C, C + 1) array like `matrix`."""
        matrix = np.asarray(matrix)
        if matrix.shape != self._matrix.shape or not np.issubdtype(matrix.dtype, np.integer):
            raise ValueError(f'cannot merge a {matrix.dtype} {matrix.shape} matrix into an int64 {self._matrix.shape} '
                             'confusion matrix')
        self._matrix += matrix.astype(np.int64)

    def iou(self) -> np.ndarray:
        """float64 (C,) intersection over union per class, 0-1; NaN for a class in neither target nor prediction."""
        true_positive = np.diag(self._matrix[:, :self.num_classes]).astype(np.float64)
        union = self._matrix.sum(axis=1) + self._matrix[:, :self.num_classes].sum(axis=0) - true_positive
        with np.errstate(divide='ignore', invalid='ignore'):
            return np.where(union > 0, true_positive / union, np.nan)

    def defined_iou(self, class_names: Sequence[str]) -> dict[str, float]:
        """{class name: IoU 0-1} for the classes whose IoU is defined (occurring in target or prediction)."""
        return {name: float(value) for name, value in zip(class_names, self.iou(), strict=True) if np.isfinite(value)}

    def miou(self) -> float:
        """Mean IoU over the classes whose IoU is defined (0-1); NaN when nothing has been counted."""
        iou = self.iou()
        return float(np.nanmean(iou)) if np.isfinite(iou).any() else math.nan

    def pixel_accuracy(self) -> float:
        """Correct pixels / counted pixels (0-1; unknown predictions are wrong); NaN when nothing has been counted."""
        total = self._matrix.sum()
        return float(np.trace(self._matrix[:, :self.num_classes]) / total) if total else math.nan

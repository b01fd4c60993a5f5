"""How good the night pseudo-labels are, measured against night ground truth where a dataset has it (synthetic).

For measurement only: the numbers go to the training log and TensorBoard, never into a loss.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from night_seg_ros.metrics import ConfusionMatrix

WATCHED_CLASSES = ('sky', 'car', 'pole', 'sidewalk')
"""Classes whose own IoU is logged: the night sky (the static class a day model gets wrong at night), cars (the
dynamic class the day reference cannot show, since traffic differs between the two drives), poles (the thin
static class a day reference a few pixels off misplaces) and the sidewalk (static, beside the road it merges
with in the dark)."""


def watched_classes(classes: Sequence[str]) -> dict[str, int]:
    """Name -> index in `classes` of each of WATCHED_CLASSES that `classes` has."""
    return {name: list(classes).index(name) for name in WATCHED_CLASSES if name in classes}


def label_quality(predicted: torch.Tensor, truth: torch.Tensor, num_classes: int, ignore_index: int,
                  watched: dict[str, int] | None = None) -> dict[str, float]:
    """Accuracy, mIoU and per-class IoU (percent) of predicted int64 (N, H, W) class ids against truth int64 (N, H, W).

    Counted by the evaluation's ConfusionMatrix: pixels where truth is `ignore_index` are not counted, predicted
    `ignore_index` counts as wrong, mIoU is over the classes present in truth or prediction. Returns
    {'accuracy', 'miou'} plus '<name>_iou' for each `watched` class (name -> index) that occurs; empty when nothing
    is counted.
    """
    confusion = ConfusionMatrix(num_classes, ignore_index)
    confusion.update(predicted.to(torch.uint8).cpu().numpy(), truth.to(torch.uint8).cpu().numpy())
    accuracy = confusion.pixel_accuracy()
    if math.isnan(accuracy):
        return {}
    quality = {'accuracy': 100.0 * accuracy, 'miou': 100.0 * confusion.miou()}
    iou = confusion.iou()
    for name, index in (watched or {}).items():
        if not math.isnan(value := float(iou[index])):
            quality[f'{name}_iou'] = 100.0 * value
    return quality

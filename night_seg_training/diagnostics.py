"""How good the night pseudo-labels are, measured against night ground truth where a dataset has it (synthetic).

For measurement only: the numbers go to the training log and TensorBoard, never into a loss.
"""
from __future__ import annotations

import math

import torch

from night_seg_ros.metrics import ConfusionMatrix


def label_quality(predicted: torch.Tensor, truth: torch.Tensor, num_classes: int, ignore_index: int,
                  sky: int | None = None) -> dict[str, float]:
    """Accuracy, mIoU and sky IoU (percent) of predicted int64 (N, H, W) class ids against truth int64 (N, H, W).

    Counted by the evaluation's ConfusionMatrix: pixels where truth is `ignore_index` are not counted, predicted
    `ignore_index` counts as wrong, mIoU is over the classes present in truth or prediction. Returns
    {'accuracy', 'miou'} plus 'sky_iou' when `sky` is a class that occurs; empty when nothing is counted.
    """
    confusion = ConfusionMatrix(num_classes, ignore_index)
    confusion.update(predicted.to(torch.uint8).cpu().numpy(), truth.to(torch.uint8).cpu().numpy())
    accuracy = confusion.pixel_accuracy()
    if math.isnan(accuracy):
        return {}
    quality = {'accuracy': 100.0 * accuracy, 'miou': 100.0 * confusion.miou()}
    if sky is not None and not math.isnan(sky_iou := float(confusion.iou()[sky])):
        quality['sky_iou'] = 100.0 * sky_iou
    return quality

"""How good the night pseudo-labels are, measured against night ground truth where a dataset has it (synthetic).

For measurement only: the numbers go to the training log and TensorBoard, never into a loss.
"""
from __future__ import annotations

import torch


def label_quality(predicted: torch.Tensor, truth: torch.Tensor, num_classes: int, ignore_index: int,
                  sky: int | None = None) -> dict[str, float]:
    """Accuracy, mIoU and sky IoU (percent) of predicted int64 (N, H, W) class ids against truth int64 (N, H, W).

    Pixels where truth is `ignore_index` are not counted; predicted ids outside 0..num_classes-1 (ignored
    pseudo-labels) count as wrong. mIoU is over the classes present in truth or prediction. Returns
    {'accuracy', 'miou'} plus 'sky_iou' when `sky` is a class that occurs; empty when nothing is counted.
    """
    valid = truth != ignore_index
    truth, predicted = truth[valid], predicted[valid]
    if truth.numel() == 0:
        return {}
    known = (predicted >= 0) & (predicted < num_classes)
    correct = (predicted == truth) & known
    counts = torch.bincount(truth[known] * num_classes + predicted[known], minlength=num_classes * num_classes)
    confusion = counts.view(num_classes, num_classes).double()
    intersection = confusion.diagonal()
    union = torch.bincount(truth, minlength=num_classes).double() + confusion.sum(0) - intersection
    defined = union > 0
    iou = intersection[defined] / union[defined]
    quality = {'accuracy': 100.0 * correct.double().mean().item(), 'miou': 100.0 * iou.mean().item()}
    if sky is not None and union[sky] > 0:
        quality['sky_iou'] = 100.0 * (intersection[sky] / union[sky]).item()
    return quality

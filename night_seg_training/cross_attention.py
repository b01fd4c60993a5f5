"""Cross attention over day/night image pairs (training only; nothing of it reaches the bundle, ONNX or TensorRT).

Night features are the queries, the paired day features the keys; the teacher's day prediction is the value. Used
twice (DESIGN.md section 1):
1. `similarity`: how well each night location matches some day location; the consistency loss weighs those more;
2. `transfer`: the day prediction carried to night positions by the attention weights, which refines the night
   pseudo-label for static classes, weighted by the similarity. Dynamic classes never come from the reference.

The attention has no learnable parameters: it compares the EMA teacher's encoder features (cosine similarity, a
temperature, and a Gaussian prior on displacement because the pairs are only coarsely aligned).
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

STATIC_CLASS_NAMES = ('road', 'sidewalk', 'building', 'wall', 'fence', 'pole', 'traffic light', 'traffic sign',
                      'vegetation', 'terrain', 'sky')
"""Classes whose layout does not change between a day and a night visit of the same place."""


def static_class_mask(classes: Sequence[str]) -> torch.Tensor:
    """bool (K,): True for the static classes among a bundle's class names."""
    return torch.tensor([name in STATIC_CLASS_NAMES for name in classes])


def _positions(height: int, width: int, device: torch.device) -> torch.Tensor:
    """float (height * width, 2): (y, x) cell centres in [0, 1], row-major."""
    ys = (torch.arange(height, device=device, dtype=torch.float32) + 0.5) / height
    xs = (torch.arange(width, device=device, dtype=torch.float32) + 0.5) / width
    return torch.stack(torch.meshgrid(ys, xs, indexing='ij'), -1).view(-1, 2)


class CrossAttentionTransfer(nn.Module):
    """Night-to-day cross attention, parameter free.

    forward(night_features, day_features, day_probabilities) with night_features float (N, C, h, w), day_features
    float (N, C, h', w'), day_probabilities float (N, K, H', W') (the teacher's softmax on the day image, any
    resolution). Returns (transferred float (N, K, h, w): the day prediction carried to each night position, zero
    on dynamic classes; similarity float (N, h, w) in [0, 1]).
    """

    def __init__(self, static_classes: torch.Tensor, temperature: float = 0.07, position_sigma: float = 0.25) -> None:
        super().__init__()
        self.register_buffer('static', static_classes.float(), persistent=False)  # (K,)
        self.temperature = temperature
        self.position_sigma = position_sigma

    def attend(self, night: torch.Tensor, day: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Attention weights float (N, h*w, h'*w') (rows sum to 1) and similarity float (N, h, w).

        The similarity of a night position is the attention-weighted cosine similarity of the day positions it
        attends to, clamped at 0.
        """
        n, _, h, w = night.shape
        query = F.normalize(night.float().flatten(2), dim=1).transpose(1, 2)  # (N, h*w, C)
        key = F.normalize(day.float().flatten(2), dim=1)  # (N, C, h'*w')
        cosine = query @ key  # (N, h*w, h'*w')
        scores = cosine / self.temperature
        if self.position_sigma > 0:
            offsets = torch.cdist(_positions(h, w, night.device), _positions(*day.shape[-2:], night.device))
            scores = scores - (offsets ** 2 / (2 * self.position_sigma ** 2))  # log of a Gaussian prior
        weights = torch.softmax(scores, dim=-1)
        similarity = (weights * cosine).sum(-1).clamp(min=0).view(n, h, w)
        return weights, similarity

    def forward(self, night_features: torch.Tensor, day_features: torch.Tensor,
                day_probabilities: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """See the class docstring."""
        n, _, h, w = night_features.shape
        weights, similarity = self.attend(night_features, day_features)
        values = F.adaptive_avg_pool2d(day_probabilities.float(), day_features.shape[-2:])  # (N, K, h', w')
        transferred = weights @ values.flatten(2).transpose(1, 2)  # (N, h*w, K)
        static = self.static.to(transferred.device).view(1, -1, 1, 1)  # the method builds it on the CPU
        transferred = transferred.transpose(1, 2).reshape(n, -1, h, w) * static
        return transferred, similarity


def refine_pseudo_labels(night_probabilities: torch.Tensor, night_labels: torch.Tensor, transferred: torch.Tensor,
                         similarity: torch.Tensor, static_classes: torch.Tensor, weight: float) -> torch.Tensor:
    """Refine the teacher's night probabilities with the transferred day prediction, for static classes only.

    night_probabilities float (N, K, H, W) (softmax) and night_labels int64 (N, H, W) (their argmax, computed once
    by the caller: an argmax over classes is one of the dearest operations here on a CPU); transferred float
    (N, K, H, W) (zero on dynamic classes); similarity float (N, H, W) in [0, 1]; static_classes bool (K,). Where the
    teacher's night label is a static class, adds weight * similarity * transferred and renormalises; where it is a
    dynamic class, the pixel is left as the teacher saw it (a car parked at night is not in the day reference).
    Returns float (N, K, H, W), summing to 1 over K.
    """
    gate = static_classes.to(night_probabilities.device)[night_labels]  # (N, H, W) bool
    strength = (weight * similarity * gate).unsqueeze(1)  # (N, 1, H, W)
    refined = night_probabilities + strength * transferred
    return refined / (1.0 + strength * transferred.sum(1, keepdim=True))

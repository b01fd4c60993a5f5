"""The mean teacher: an exponential moving average of the student, and what it gives the night images.

The teacher labels weakly augmented night images; each pseudo-label is weighted by its confidence
(`pseudo_label_weight`).
"""
from __future__ import annotations

import copy

import torch
from torch import nn

from night_seg_training.config import PSEUDO_WEIGHTINGS


class EmaTeacher:
    """teacher <- a * teacher + (1 - a) * student after each step, a = min(1 - 1 / (iteration + 1), alpha).

    The ramp lets the teacher follow the (still random) student closely at the start. Buffers are copied. The
    teacher never needs gradients and always runs in eval mode (no dropout, no stochastic depth). `anchored` also
    keeps `anchor`, a frozen copy of the student as it is now (the start model, before any step or resume), for
    `method.anchor_classes`; otherwise `anchor` is None.
    """

    def __init__(self, student: nn.Module, alpha: float = 0.999, anchored: bool = False) -> None:
        self.model = copy.deepcopy(student).eval().requires_grad_(False)
        self.anchor = copy.deepcopy(self.model) if anchored else None
        self.alpha = alpha

    def alpha_at(self, iteration: int) -> float:
        """The EMA factor used after step `iteration` (0-based)."""
        return min(1.0 - 1.0 / (iteration + 1), self.alpha)

    @torch.no_grad()
    def update(self, student: nn.Module, iteration: int) -> None:
        """Move the teacher towards `student` (same architecture; unwrap DDP first)."""
        alpha = self.alpha_at(iteration)
        teacher_params = list(self.model.parameters())
        student_params = [param.detach() for param in student.parameters()]
        if len(teacher_params) != len(student_params):
            raise ValueError(f'teacher has {len(teacher_params)} parameters, student {len(student_params)}')
        torch._foreach_lerp_(teacher_params, student_params, 1.0 - alpha)  # one fused pass instead of 2 per tensor
        for teacher_buffer, student_buffer in zip(self.model.buffers(), student.buffers(), strict=True):
            teacher_buffer.copy_(student_buffer)


def pseudo_label_weight(confidence: torch.Tensor, rule: str, threshold: float) -> torch.Tensor:
    """Per-pixel weight of each pseudo-label: confidence float (N, H, W) in [0, 1] -> float (N, H, W).

    `confidence`: the pixel's own confidence (the max probability of the, possibly refined, pseudo-label). It works
    from scratch: an unsure teacher gives small but non-zero weights, a confident reference large ones.
    `image_fraction` (DAFormer): every pixel of an image weighs the fraction of its pixels above `threshold`. At
    DAFormer's 0.968 it is about 0 for a teacher trained from scratch, so its pseudo-labels never count.
    """
    if rule == 'confidence':
        return confidence
    if rule == 'image_fraction':
        fraction = (confidence > threshold).float().mean(dim=(1, 2), keepdim=True)  # (N, 1, 1)
        return fraction.expand_as(confidence)
    raise ValueError(f'pseudo_weighting {rule!r}; allowed: {", ".join(PSEUDO_WEIGHTINGS)}')


def similarity_weight(similarity: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Per-pixel weight from night-day similarity (N, H, W) -> (N, H, W), normalised to mean 1 per image.

    Normalising keeps the loss scale of each image; only where inside the image the loss looks changes.
    """
    return similarity / similarity.mean(dim=(1, 2), keepdim=True).clamp(min=eps)

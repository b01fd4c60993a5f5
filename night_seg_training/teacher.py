"""The mean teacher: an exponential moving average of the student, and what it gives the night images.

The teacher labels weakly augmented night images; each image's pseudo-labels are weighted by the fraction of its
pixels the teacher is confident about (DAFormer: threshold 0.968).
"""
from __future__ import annotations

import copy

import torch
from torch import nn


class EmaTeacher:
    """teacher <- a * teacher + (1 - a) * student after each step, a = min(1 - 1 / (iteration + 1), alpha).

    The ramp lets the teacher follow the (still random) student closely at the start. Buffers are copied. The
    teacher never needs gradients and always runs in eval mode (no dropout, no stochastic depth).
    """

    def __init__(self, student: nn.Module, alpha: float = 0.999) -> None:
        self.model = copy.deepcopy(student).eval().requires_grad_(False)
        self.alpha = alpha

    def alpha_at(self, iteration: int) -> float:
        """The EMA factor used after step `iteration` (0-based)."""
        return min(1.0 - 1.0 / (iteration + 1), self.alpha)

    @torch.no_grad()
    def update(self, student: nn.Module, iteration: int) -> None:
        """Move the teacher towards `student` (same architecture; unwrap DDP first)."""
        alpha = self.alpha_at(iteration)
        for teacher_param, student_param in zip(self.model.parameters(), student.parameters(), strict=True):
            teacher_param.mul_(alpha).add_(student_param.detach(), alpha=1.0 - alpha)
        for teacher_buffer, student_buffer in zip(self.model.buffers(), student.buffers(), strict=True):
            teacher_buffer.copy_(student_buffer)


def confidence_weight(confidence: torch.Tensor, threshold: float) -> torch.Tensor:
    """Per-image pseudo-label weight: confidence float (N, H, W) -> float (N,), the fraction above `threshold`."""
    return (confidence > threshold).float().mean(dim=(1, 2))


def similarity_weight(similarity: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Per-pixel weight from night-day similarity (N, H, W) -> (N, H, W), normalised to mean 1 per image.

    Normalising keeps the loss scale of each image; only where inside the image the loss looks changes.
    """
    return similarity / similarity.mean(dim=(1, 2), keepdim=True).clamp(min=eps)

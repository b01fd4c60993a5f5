"""The mean teacher: an exponential moving average of the student (the paper's consistency regularisation).

The teacher labels the weakly augmented night crops (pseudo_label.py builds the pseudo-labels from its prediction);
the student learns them under ClassMix and strong augmentation (steps.MeanTeacher). The teacher never learns by
gradient: it follows the student after each step.
"""
from __future__ import annotations

import copy

import torch
from torch import nn


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

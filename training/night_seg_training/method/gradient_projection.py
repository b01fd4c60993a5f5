"""The night losses' gradient projected off the day loss's where the two conflict (`method.project_night_gradient`):
A-GEM's rule (Chaudhry et al., ICLR 2019) with the day as the task to keep,

    g = g_day + g_night - min(0, <g_night, g_day>) / |g_day|^2 * g_day

over all the student's parameters at once, so that to first order a step never raises the day loss. Costs a second
backward pass through the student (the two gradients are taken apart).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import torch


def project_off(night: torch.Tensor, day: torch.Tensor) -> tuple[torch.Tensor, float]:
    """`night` without its component along `day` when they point against each other (a negative dot product), else
    unchanged; and their cosine before. night, day: float (P,), gradients over the same P parameters."""
    dot = torch.dot(night, day)
    cosine = float(dot / (night.norm() * day.norm()).clamp_min(torch.finfo(day.dtype).tiny))
    day_squared = torch.dot(day, day)
    if dot < 0 and day_squared > 0:
        night = night - (dot / day_squared) * day
    return night, cosine


def _flat_gradient(loss: torch.Tensor, parameters: Sequence[torch.Tensor], retain_graph: bool) -> torch.Tensor:
    """d loss / d parameters, float (P,) in the parameters' order (0 where a parameter does not reach the loss)."""
    grads = torch.autograd.grad(loss, parameters, retain_graph=retain_graph, allow_unused=True)
    return torch.cat([(torch.zeros_like(p) if g is None else g).reshape(-1) for g, p in zip(grads, parameters,
                                                                                           strict=True)])


def backward_projected(day_loss: torch.Tensor, night_loss: torch.Tensor, parameters: Sequence[torch.Tensor],
                       reduce: Callable[[torch.Tensor], torch.Tensor] | None = None) -> dict[str, float]:
    """Set each parameter's .grad to the day gradient plus the night gradient projected off it (`project_off`), in
    place of `(day_loss + night_loss).backward()`. `parameters`: those that learn (requires_grad). `reduce`: averages
    a flat gradient over processes (under DDP, whose own reduction the caller has turned off), before the
    projection, so every process projects the same gradients. Returns scalars to log: the cosine of the two
    gradients and whether the night one was projected (1.0) or not (0.0)."""
    day = _flat_gradient(day_loss, parameters, retain_graph=True)
    night = _flat_gradient(night_loss, parameters, retain_graph=False)
    if reduce is not None:
        day, night = reduce(day), reduce(night)
    projected, cosine = project_off(night, day)
    total = day + projected
    offset = 0
    for parameter in parameters:
        size = parameter.numel()
        parameter.grad = total[offset:offset + size].view_as(parameter).clone()
        offset += size
    return {'gradient/day_night_cosine': cosine, 'gradient/night_projected': float(cosine < 0)}

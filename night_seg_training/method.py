"""One training step of the method and its baselines: the losses, given a batch, the student and the teacher.

  source_only   L = CE(student(day), day labels)
  oracle        L = CE(student([day, night]), [day labels, night labels])          (synthetic data only)
  mean_teacher  L = CE(student(day), day labels) + w * weighted CE(student(strong(mix)), mixed pseudo-labels)
  full          as mean_teacher, with pseudo-labels refined by cross attention to the day reference and the
                per-pixel weight multiplied by the night-day similarity

The student sees day crops and mixed night crops in one forward (one batch of 2N), so DDP syncs one backward.
"""
from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from night_seg_ros.classes import IGNORE_INDEX
from night_seg_training.augment import classmix_masks, mix, strong_augment
from night_seg_training.config import MethodConfig
from night_seg_training.cross_attention import CrossAttentionTransfer, refine_pseudo_labels, static_class_mask
from night_seg_training.teacher import EmaTeacher, confidence_weight, similarity_weight


def weighted_cross_entropy(logits: torch.Tensor, labels: torch.Tensor, weight: torch.Tensor,
                           ignore_index: int = IGNORE_INDEX) -> torch.Tensor:
    """Mean over all pixels of weight * CE. logits float (N, K, H, W); labels int64 (N, H, W); weight (N, H, W)."""
    loss = F.cross_entropy(logits.float(), labels, ignore_index=ignore_index, reduction='none')  # (N, H, W)
    return (loss * weight).mean()


@dataclass
class StepResult:
    """The loss to back-propagate, scalars to log, and images (float (3, H, W) in [0, 1] or label maps) to show."""

    loss: torch.Tensor
    scalars: dict[str, float] = field(default_factory=dict)
    night: torch.Tensor | None = None
    """float (3, H, W): the first night crop the student learned from (after mixing and strong augmentation)."""
    pseudo_label: torch.Tensor | None = None
    """int64 (H, W): its (mixed) pseudo-label."""


class AdaptationMethod:
    """The switch between `source_only`, `mean_teacher`, `full` and `oracle` (config.name)."""

    def __init__(self, config: MethodConfig, classes: Sequence[str], ignore_index: int = IGNORE_INDEX) -> None:
        self.config = config
        self.ignore_index = ignore_index
        self.static = static_class_mask(classes)
        self.attention = CrossAttentionTransfer(self.static, config.attention_temperature,
                                                config.attention_position_sigma)

    @property
    def uses_teacher(self) -> bool:
        """mean_teacher and full keep an EMA teacher."""
        return self.config.name in ('mean_teacher', 'full')

    @property
    def uses_target(self) -> bool:
        """Every method but source_only reads night images."""
        return self.config.name != 'source_only'

    @property
    def uses_reference(self) -> bool:
        """Only full reads the day reference of each night image."""
        return self.config.name == 'full'

    @property
    def uses_target_labels(self) -> bool:
        """Only the oracle reads night ground truth."""
        return self.config.name == 'oracle'

    def step(self, student: nn.Module, teacher: EmaTeacher | None, batch: dict[str, dict[str, torch.Tensor]],
             generator: torch.Generator, autocast: AbstractContextManager) -> StepResult:
        """Losses of one iteration. `student` may be DDP-wrapped; `autocast` is the mixed-precision context."""
        source = batch['source']
        if self.config.name == 'source_only':
            with autocast:
                logits = student(source['image'])
            loss = F.cross_entropy(logits.float(), source['label'], ignore_index=self.ignore_index)
            return StepResult(loss, {'loss/source': loss.item()})
        target = batch['target']
        if self.config.name == 'oracle':
            with autocast:
                logits = student(torch.cat([source['image'], target['image']]))
            n = source['image'].shape[0]
            source_loss = F.cross_entropy(logits[:n].float(), source['label'], ignore_index=self.ignore_index)
            night_loss = F.cross_entropy(logits[n:].float(), target['label'], ignore_index=self.ignore_index)
            return StepResult(source_loss + night_loss, {'loss/source': source_loss.item(),
                                                         'loss/night_supervised': night_loss.item()})
        with torch.no_grad():
            pseudo, weight, scalars = self._pseudo_labels(teacher, target, autocast)
            if self.config.classmix:
                mask = classmix_masks(source['label'], generator, self.ignore_index)
                night = mix(mask, source['image'], target['image'])
                pseudo = mix(mask, source['label'], pseudo)
                weight = mix(mask, torch.ones_like(weight), weight)
            else:
                night = target['image']
            night = strong_augment(night, generator)
        with autocast:
            logits = student(torch.cat([source['image'], night]))
        n = source['image'].shape[0]
        source_loss = F.cross_entropy(logits[:n].float(), source['label'], ignore_index=self.ignore_index)
        night_loss = weighted_cross_entropy(logits[n:], pseudo, weight, self.ignore_index)
        scalars.update({'loss/source': source_loss.item(), 'loss/night_consistency': night_loss.item()})
        return StepResult(source_loss + self.config.unsup_weight * night_loss, scalars, night[0], pseudo[0])

    def _pseudo_labels(self, teacher: EmaTeacher, target: dict[str, torch.Tensor],
                       autocast: AbstractContextManager) -> tuple[torch.Tensor, torch.Tensor, dict[str, float]]:
        """Teacher pseudo-labels int64 (N, H, W) and per-pixel weights float (N, H, W) for the night crops."""
        night = target['image']
        n, _, height, width = night.shape
        if self.config.name == 'full':
            reference = target['reference']
            if self.config.reference_scale != 1.0:  # (N, 3, H * scale, W * scale)
                reference = F.interpolate(reference, scale_factor=self.config.reference_scale, mode='bilinear',
                                          align_corners=False, antialias=True)
            with autocast:
                logits, night_features = teacher.model(night, self.config.attention_stage)
                day_logits, day_features = teacher.model(reference, self.config.attention_stage)
            probabilities = torch.softmax(logits.float(), dim=1)  # (N, K, H, W)
            transferred, similarity = self.attention(night_features, day_features,
                                                     torch.softmax(day_logits.float(), dim=1))
            transferred = F.interpolate(transferred, size=(height, width), mode='bilinear', align_corners=False)
            similarity = F.interpolate(similarity.unsqueeze(1), size=(height, width), mode='bilinear',
                                       align_corners=False).squeeze(1)  # (N, H, W)
            teacher_labels = probabilities.argmax(1)  # (N, H, W)
            night_probabilities = refine_pseudo_labels(probabilities, teacher_labels, transferred, similarity,
                                                       self.static, self.config.transfer_weight)
        else:
            with autocast:
                logits = teacher.model(night)
            night_probabilities = torch.softmax(logits.float(), dim=1)
        confidence, pseudo = night_probabilities.max(dim=1)  # (N, H, W) each
        image_weight = confidence_weight(confidence, self.config.pseudo_threshold)  # (N,)
        weight = image_weight.view(n, 1, 1).expand(n, height, width)
        scalars = {'pseudo/confident_fraction': image_weight.mean().item()}
        if self.config.name == 'full':
            if self.config.similarity_weighting:
                weight = weight * similarity_weight(similarity)
            changed = (pseudo != teacher_labels).float().mean().item()
            scalars.update({'attention/similarity': similarity.mean().item(), 'attention/changed_fraction': changed})
        return pseudo, weight, scalars

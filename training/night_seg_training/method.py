"""One training step of the method and its baselines: the losses, given a batch, the student and the teacher.

  source_only   L = CE(student(day), day labels)
  oracle        L = CE(student([day, night]), [day labels, night labels])          (synthetic data only)
  mean_teacher  L = CE(student(day), day labels) + w * weighted CE(student(strong(mix)), mixed pseudo-labels)
  full          L = CE(student(day), day labels) + w * weighted CE(student(night), refined pseudo-labels): the night
                pseudo-labels refined on static classes by the day reference's prediction, carried to night pixels
                by cross attention (or copied, `transfer: identity`); by default the student's night crop gets
                only the day crop's dynamic classes pasted in, no strong augmentation (config.STUDENT_INPUT;
                `method.classmix` / `method.classmix_classes` / `method.strong_augmentation` switch them)

With `method.anchor_classes`, where the frozen start model labels a night pixel with one of them, its softmax
replaces the pseudo-label there (the mean teacher forgets thin and rare night classes with the student). Each
pseudo-label pixel weighs its own confidence after refinement (teacher.pseudo_label_weight). Where the night
dataset has ground truth (synthetic), the pseudo-labels are measured against it for the log (diagnostics.py); the
ground truth never enters a loss but the oracle's.

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
from night_seg_training.augment import classmix_masks, mix, relight, strong_augment
from night_seg_training.config import STUDENT_INPUT, TEACHER_METHODS, TEACHER_RELIGHT, MethodConfig
from night_seg_training.cross_attention import (
    attend,
    class_mask,
    cosine_similarity,
    global_shift,
    reference_gate,
    refine,
    static_class_mask,
    warp,
)
from night_seg_training.diagnostics import label_quality, watched_classes
from night_seg_training.teacher import EmaTeacher, pseudo_label_weight, similarity_weight


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
        self.anchor_classes = class_mask(classes, config.anchor_classes) if config.anchor_classes else None
        self.num_classes = len(classes)
        self.watched = watched_classes(classes)
        chosen = STUDENT_INPUT.get(config.name, STUDENT_INPUT['mean_teacher'])
        self.classmix, self.classmix_classes, self.strong_augmentation = (
            chosen[key] if getattr(config, key) is None else getattr(config, key)
            for key in ('classmix', 'classmix_classes', 'strong_augmentation'))
        self.teacher_relight = (TEACHER_RELIGHT.get(config.name, 0.0) if config.teacher_relight is None
                                else config.teacher_relight)

    @property
    def uses_teacher(self) -> bool:
        """mean_teacher and full keep an EMA teacher."""
        return self.config.name in TEACHER_METHODS

    @property
    def uses_target(self) -> bool:
        """Every method but source_only reads night images."""
        return self.config.name != 'source_only'

    @property
    def uses_anchor(self) -> bool:
        """`method.anchor_classes` set: the teacher keeps a frozen copy of the start model."""
        return self.uses_teacher and self.anchor_classes is not None

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
        day = source['image']
        if self.config.name == 'source_only':
            with autocast:
                logits = student(day)
            loss = F.cross_entropy(logits.float(), source['label'], ignore_index=self.ignore_index)
            return StepResult(loss, {'loss/source': loss.item()})
        target = batch['target']
        if self.config.name == 'oracle':
            with autocast:
                logits = student(torch.cat([day, target['image']]))
            n = source['image'].shape[0]
            source_loss = F.cross_entropy(logits[:n].float(), source['label'], ignore_index=self.ignore_index)
            night_loss = F.cross_entropy(logits[n:].float(), target['label'], ignore_index=self.ignore_index)
            return StepResult(source_loss + night_loss, {'loss/source': source_loss.item(),
                                                         'loss/night_supervised': night_loss.item()})
        with torch.no_grad():
            pseudo, weight, scalars = self.pseudo_labels(teacher, target, autocast)
            if self.classmix:
                mask = classmix_masks(source['label'], generator, self.ignore_index,
                                      ~self.static if self.classmix_classes == 'dynamic' else None)
                night = mix(mask, source['image'], target['image'])
                pseudo = mix(mask, source['label'], pseudo)
                weight = mix(mask, torch.ones_like(weight), weight)
            else:
                night = target['image']
            if self.strong_augmentation:
                night = strong_augment(night, generator)
        with autocast:
            logits = student(torch.cat([day, night]))
        n = source['image'].shape[0]
        source_loss = F.cross_entropy(logits[:n].float(), source['label'], ignore_index=self.ignore_index)
        night_loss = weighted_cross_entropy(logits[n:], pseudo, weight, self.ignore_index)
        scalars.update({'loss/source': source_loss.item(), 'loss/night_consistency': night_loss.item()})
        return StepResult(source_loss + self.config.unsup_weight * night_loss, scalars, night[0], pseudo[0])

    def pseudo_labels(self, teacher: EmaTeacher, target: dict[str, torch.Tensor],
                       autocast: AbstractContextManager) -> tuple[torch.Tensor, torch.Tensor, dict[str, float]]:
        """Teacher pseudo-labels int64 (N, H, W), per-pixel weights float (N, H, W) and scalars to log for the night
        crops of `target` (the step uses them; experiments/pseudo_labels measures them)."""
        scalars: dict[str, float] = {}
        if self.config.name == 'full':
            probabilities, teacher_labels, similarity, scalars = self._refined(teacher, target, autocast)
        else:
            probabilities, _ = self._teacher_view(teacher.model, target, ('image',), autocast)
            teacher_labels = similarity = None
        if self.anchor_classes is not None:
            probabilities, anchored = self._anchored(teacher, target, probabilities, autocast)
            scalars['anchor/fraction'] = anchored.float().mean().item()
        confidence, pseudo = probabilities.max(dim=1)  # (N, H, W) each
        weight = pseudo_label_weight(confidence, self.config.pseudo_weighting, self.config.pseudo_threshold)
        if similarity is not None and self.config.similarity_weighting:
            weight = weight * similarity_weight(similarity)
        scalars.update({'pseudo/confident_fraction': (confidence > self.config.pseudo_threshold).float().mean().item(),
                        'pseudo/weight': weight.mean().item()})
        if teacher_labels is not None:
            scalars['refine/changed_fraction'] = (pseudo != teacher_labels).float().mean().item()
        if 'label' in target:  # measurement only: ground truth never enters these methods' losses
            scalars.update(self._quality('pseudo', pseudo, target['label']))
            if teacher_labels is not None:
                scalars.update(self._quality('teacher', teacher_labels, target['label']))
        return pseudo, weight, scalars

    def _refined(self, teacher: EmaTeacher, target: dict[str, torch.Tensor], autocast: AbstractContextManager
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, dict[str, float]]:
        """`full`: the teacher's night probabilities refined by the day reference (cross_attention.refine).

        One teacher forward over the night and reference crops, or their whole frames (`_teacher_view`). Returns
        (refined float (N, K, H, W), the teacher's own night labels int64 (N, H, W), the night-day similarity float
        (N, H, W) or None for the identity transfer, scalars to log).
        """
        n, _, height, width = target['image'].shape
        attention = self.config.transfer == 'attention'
        stage = self.config.attention_stage if attention else None
        probabilities, features = self._teacher_view(teacher.model, target, ('image', 'reference'), autocast, stage)
        night_probabilities, day_probabilities = probabilities[:n], probabilities[n:]  # one forward over both
        night_features, day_features = (features[:n], features[n:]) if attention else (None, None)
        scalars = {}
        similarity = None
        if attention:
            cells = tuple(day_features.shape[-2:])
            cosine = cosine_similarity(night_features, day_features)  # (N, h*w, h*w)
            shift = global_shift(cosine, cells, (height, width),
                                 (self.config.attention_search_vertical_px, self.config.attention_search_px))
            flow, cell_similarity = attend(cosine, cells, (height, width), shift, self.config.attention_sigma_px,
                                           self.config.attention_temperature)
            day_probabilities = warp(day_probabilities, flow)
            similarity = F.interpolate(cell_similarity.unsqueeze(1), size=(height, width), mode='bilinear',
                                       align_corners=False).squeeze(1)  # (N, H, W)
            scalars.update({'attention/similarity': similarity.mean().item(),
                            'attention/shift_x_px': shift[:, 1].abs().mean().item()})
        night_confidence, teacher_labels = night_probabilities.max(1)  # (N, H, W) each
        gate = reference_gate(night_confidence, teacher_labels, day_probabilities, self.static,
                              self.config.overrule_dynamic_below)
        refined = refine(night_probabilities, day_probabilities, gate, self.config.reference_weight)
        scalars['refine/gate_fraction'] = gate.float().mean().item()
        return refined, teacher_labels, similarity, scalars

    def _anchored(self, teacher: EmaTeacher, target: dict[str, torch.Tensor], probabilities: torch.Tensor,
                  autocast: AbstractContextManager) -> tuple[torch.Tensor, torch.Tensor]:
        """Where the frozen start model (teacher.anchor) labels the night view with an anchor class, its softmax
        replaces `probabilities` float (N, K, H, W). Returns them and the bool (N, H, W) mask of those pixels."""
        if teacher.anchor is None:
            raise ValueError('method.anchor_classes needs a teacher that keeps the start model (EmaTeacher anchored)')
        start, _ = self._teacher_view(teacher.anchor, target, ('image',), autocast)
        anchored = self.anchor_classes.to(start.device)[start.argmax(1)]  # (N, H, W)
        return torch.where(anchored.unsqueeze(1), start, probabilities), anchored

    def _teacher_view(self, model: nn.Module, target: dict[str, torch.Tensor], keys: tuple[str, ...],
                      autocast: AbstractContextManager, stage: int | None = None
                      ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """One forward of `model` (the teacher's, or the frozen start model) over target's `keys` ('image', then
        'reference'), concatenated: probabilities float (len(keys) * N, K, H, W) for target's crops of H x W, and
        with `stage` the features there float (len(keys) * N, C, H / 2**(stage+1), W / 2**(stage+1)). With
        `teacher_relight` the night view ('image') is lifted by augment.relight first."""
        views = [target[key] for key in keys]
        if self.teacher_relight > 0:
            views = [relight(view, self.teacher_relight) if key == 'image' else view
                     for key, view in zip(keys, views, strict=True)]
        with autocast:
            output = model(torch.cat(views), stage)
        logits, features = output if stage is not None else (output, None)
        probabilities = torch.softmax(logits.float(), dim=1)
        return probabilities, features

    def _quality(self, prefix: str, labels: torch.Tensor, truth: torch.Tensor) -> dict[str, float]:
        """`prefix`/accuracy, /miou, /sky_iou, /car_iou of labels int64 (N, H, W) against night truth (percent)."""
        quality = label_quality(labels, truth, self.num_classes, self.ignore_index, self.watched)
        return {f'{prefix}/{key}': value for key, value in quality.items()}

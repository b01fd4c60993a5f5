"""One training step of the method and its baselines: the losses, given a batch, the student and the teacher.

  source_only   L = CE(student(day), day labels)                                                   Supervised
  oracle        L = CE(student([day, night]), [day labels, night labels])  (synthetic data only)    Supervised
  mean_teacher  L = CE(student(day), day labels) + w * weighted CE(student(strong(mix)), mixed pseudo-labels)
                                                                                                    MeanTeacher
  full          the same, the pseudo-labels refined on static classes by the day reference's prediction, carried
                to night pixels by cross attention (or copied, `transfer: identity`); by default the student's
                night crop gets only the day crop's dynamic classes pasted in, no strong augmentation (the
                preset's classmix_classes and strong_augmentation)                                  MeanTeacher
  + MIC         mean_teacher or full with method.mic_weight > 0: + mic_weight * weighted CE(student(the night
                crop, blocks set to the normalisation mean), the pseudo-labels of the whole crop)   MeanTeacher

`build_method` picks the class from the method's preset (options.PRESETS): a teacher or not, the day reference or
not. The pseudo-labels come from pseudo_label.NightPseudoLabeler. The student sees day crops and (mixed) night crops
in one forward (one batch of 2N, 3N with MIC), so DDP syncs one backward.
"""
from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from night_seg_ros.classes import IGNORE_INDEX
from night_seg_training.method.augment import STRONG_AUGMENTATIONS, classmix_masks, mask_patches, mix
from night_seg_training.method.class_masks import static_class_mask
from night_seg_training.method.options import PRESET_OPTIONS, PRESETS, MethodConfig, Preset
from night_seg_training.method.pseudo_label import NightPseudoLabeler, PseudoLabels, transfer_for
from night_seg_training.method.refinement import ReferenceRefinement
from night_seg_training.method.teacher import EmaTeacher

Batch = dict[str, dict[str, torch.Tensor]]
"""One iteration's tensors (batches.IterationBatches): 'source' {'image' float (N, 3, H, W), 'label' int64
(N, H, W)} and, for a method that reads night images, 'target' {'image', and 'reference', 'label' as it needs}."""


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


class Supervised:
    """`source_only` (day labels) and `oracle` (day labels and the night ground truth, one CE each): no teacher."""

    uses_teacher = False
    uses_anchor = False

    def __init__(self, config: MethodConfig, preset: Preset, classes: Sequence[str],
                 ignore_index: int = IGNORE_INDEX) -> None:
        self.config = config
        self.preset = preset
        self.ignore_index = ignore_index
        self.night_keys: tuple[str, ...] = ('image', 'label') if preset.night_labels else ()
        """What a step reads of each night item (nothing for source_only)."""

    @property
    def uses_target(self) -> bool:
        """Whether a step reads night crops."""
        return bool(self.night_keys)

    @property
    def uses_reference(self) -> bool:
        """Whether a step reads each night crop's day reference."""
        return 'reference' in self.night_keys

    @property
    def uses_target_labels(self) -> bool:
        """Whether a step learns from the night ground truth (the oracle)."""
        return self.preset.night_labels

    def step(self, student: nn.Module, teacher: EmaTeacher | None, batch: Batch, generator: torch.Generator,
             autocast: AbstractContextManager) -> StepResult:
        """Losses of one iteration. `student` may be DDP-wrapped; `autocast` is the mixed-precision context; the
        teacher and the generator are not used."""
        source = batch['source']
        images, labels = [source['image']], [source['label']]
        if self.uses_target_labels:
            images.append(batch['target']['image'])
            labels.append(batch['target']['label'])
        with autocast:
            logits = student(torch.cat(images) if len(images) > 1 else images[0])
        n = source['image'].shape[0]
        source_loss = F.cross_entropy(logits[:n].float(), labels[0], ignore_index=self.ignore_index)
        if not self.uses_target_labels:
            return StepResult(source_loss, {'loss/source': source_loss.item()})
        night_loss = F.cross_entropy(logits[n:].float(), labels[1], ignore_index=self.ignore_index)
        return StepResult(source_loss + night_loss, {'loss/source': source_loss.item(),
                                                     'loss/night_supervised': night_loss.item()})


class MeanTeacher:
    """`mean_teacher` and `full`: day supervision plus the consistency loss on the EMA teacher's night pseudo-labels,
    which `full` refines by the day reference (pseudo_label.NightPseudoLabeler). The student learns them on the
    night crop mixed with the day crop's classes (ClassMix) and strongly augmented, as the resolved options say."""

    uses_teacher = True
    uses_target = True
    uses_target_labels = False

    def __init__(self, config: MethodConfig, preset: Preset, classes: Sequence[str],
                 ignore_index: int = IGNORE_INDEX) -> None:
        self.config = config
        self.preset = preset
        self.ignore_index = ignore_index
        static = static_class_mask(classes)
        refinement = (ReferenceRefinement(static, config.reference_weight, config.overrule_dynamic_below)
                      if preset.reference else None)
        self.pseudo_labeler = NightPseudoLabeler(config, classes, transfer_for(config) if preset.reference else None,
                                                 refinement, ignore_index)
        self.pasted_classes = {'half': None, 'dynamic': ~static}[config.classmix_classes]
        """What ClassMix pastes (augment.classmix_masks `only`): None, a random half of the classes; or a mask."""
        self.night_keys = self.pseudo_labeler.keys
        """What a step reads of each night item: 'image', and 'reference' for `full`."""

    @property
    def uses_reference(self) -> bool:
        """Whether a step reads each night crop's day reference (`full`)."""
        return 'reference' in self.night_keys

    @property
    def uses_anchor(self) -> bool:
        """`method.anchor_classes` set: the teacher keeps a frozen copy of the start model."""
        return self.pseudo_labeler.anchor_classes is not None

    def pseudo_labels(self, teacher: EmaTeacher, target: dict[str, torch.Tensor],
                      autocast: AbstractContextManager) -> PseudoLabels:
        """The night crops' pseudo-labels (labels, weight, scalars); the step uses them, experiments measure them."""
        return self.pseudo_labeler(teacher, target, autocast)

    def step(self, student: nn.Module, teacher: EmaTeacher | None, batch: Batch, generator: torch.Generator,
             autocast: AbstractContextManager) -> StepResult:
        """Losses of one iteration. `student` may be DDP-wrapped; `autocast` is the mixed-precision context;
        `generator` draws ClassMix's classes and the strong augmentation."""
        if teacher is None:
            raise ValueError(f'method {self.config.name!r} needs its EMA teacher')
        source, target = batch['source'], batch['target']
        augment = STRONG_AUGMENTATIONS[self.config.strong_augmentation_style]
        with torch.no_grad():
            whole_pseudo, whole_weight, scalars = self.pseudo_labeler(teacher, target, autocast)
            night, pseudo, weight = target['image'], whole_pseudo, whole_weight
            if self.config.classmix:
                mask = classmix_masks(source['label'], generator, self.ignore_index, self.pasted_classes)
                night = mix(mask, source['image'], night)
                pseudo = mix(mask, source['label'], pseudo)
                weight = mix(mask, torch.ones_like(weight), weight)
            if self.config.strong_augmentation:
                night = augment(night, generator)
            views = [source['image'], night]
            if self.config.mic_weight > 0:  # MIC: the whole night crop, blocks of it masked
                masked = augment(target['image'], generator) if self.config.strong_augmentation else target['image']
                fill = getattr(student, 'module', student).mean  # (1, 3, 1, 1): 0 once normalised
                views.append(mask_patches(masked, generator, self.config.mic_patch_px, self.config.mic_mask_ratio,
                                          fill))
        with autocast:
            logits = student(torch.cat(views))
        n = source['image'].shape[0]
        source_loss = F.cross_entropy(logits[:n].float(), source['label'], ignore_index=self.ignore_index)
        night_loss = weighted_cross_entropy(logits[n:2 * n], pseudo, weight, self.ignore_index)
        loss = source_loss + self.config.unsup_weight * night_loss
        scalars.update({'loss/source': source_loss.item(), 'loss/night_consistency': night_loss.item()})
        if self.config.mic_weight > 0:
            masked_loss = weighted_cross_entropy(logits[2 * n:], whole_pseudo, whole_weight, self.ignore_index)
            loss = loss + self.config.mic_weight * masked_loss
            scalars['loss/night_masked'] = masked_loss.item()
        return StepResult(loss, scalars, night[0], pseudo[0])


AdaptationMethod = Supervised | MeanTeacher
"""What `build_method` returns: `step` gives the losses; night_keys, uses_teacher, uses_anchor, uses_target,
uses_reference, uses_target_labels say what the run must build and draw for it."""


def build_method(config: MethodConfig, classes: Sequence[str], ignore_index: int = IGNORE_INDEX) -> AdaptationMethod:
    """The step of the method `config` (resolved: method.options.resolved, as load_config does) names, for a bundle
    with class names `classes`."""
    unset = [key for key in PRESET_OPTIONS if getattr(config, key) is None]
    if unset:
        raise ValueError(f'method.{", method.".join(unset)} unset; resolve the config first (method.options.resolved)')
    preset = PRESETS[config.name]
    method_class = MeanTeacher if preset.teacher else Supervised
    return method_class(config, preset, classes, ignore_index)

"""The night pseudo-label, built in one place: teacher prediction -> refinement by the day reference -> weight.

1. The EMA teacher predicts the night crops (lifted to `teacher_relight` brightness first, when set) and, for `full`,
   their day references in the same forward, with the encoder features the cross attention compares.
2. `full`: the day prediction is carried to night pixels (cross_attention.CrossAttentionTransfer, or the identity
   copy) and mixed into the night prediction on static classes (refinement.ReferenceRefinement).
3. `anchor_classes`: where the frozen start model labels a night pixel with one of them, its softmax stands.
4. The label is the argmax; each pixel weighs its own confidence (`pseudo_weighting: confidence`) or DAFormer's
   fraction of confident pixels (`image_fraction`), times the normalised similarity map with
   `similarity_weighting`.

Where the night crops have ground truth (synthetic data), the labels are measured against it for the log
(diagnostics.label_quality); the ground truth never changes them.
"""
from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import NamedTuple

import torch
from torch import nn

from night_seg_ros.classes import IGNORE_INDEX
from night_seg_training.batches import VALID_KEY
from night_seg_training.diagnostics import label_quality, watched_classes
from night_seg_training.method.augment import relight
from night_seg_training.method.class_masks import class_mask
from night_seg_training.method.cross_attention import CrossAttentionTransfer, IdentityTransfer
from night_seg_training.method.options import PSEUDO_WEIGHTINGS, MethodConfig
from night_seg_training.method.refinement import ReferenceRefinement
from night_seg_training.method.teacher import EmaTeacher


def _valid_mean(values: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Mean per image of float (N, H, W) `values` over the True pixels of bool (N, H, W) `valid`: float (N, 1, 1)
    (0 for an image without valid pixels)."""
    return (values * valid).sum(dim=(1, 2), keepdim=True) / valid.sum(dim=(1, 2), keepdim=True).clamp(min=1)


def pseudo_label_weight(confidence: torch.Tensor, rule: str, threshold: float,
                        valid: torch.Tensor | None = None) -> torch.Tensor:
    """Per-pixel weight of each pseudo-label: confidence float (N, H, W) in [0, 1] -> float (N, H, W).

    `confidence`: the pixel's own confidence (the max probability of the, possibly refined, pseudo-label). It works
    from scratch: an unsure teacher gives small but non-zero weights, a confident reference large ones.
    `image_fraction` (DAFormer): every pixel of an image weighs the fraction of its pixels above `threshold`. At
    DAFormer's 0.968 it is about 0 for a teacher trained from scratch, so its pseudo-labels never count.
    valid: bool (N, H, W), False on a crop's padding (batches.VALID_KEY): weight 0 there, and left out of the
    fraction. None: every pixel is the image's.
    """
    valid = torch.ones_like(confidence, dtype=torch.bool) if valid is None else valid
    if rule == 'confidence':
        return confidence * valid
    if rule == 'image_fraction':
        fraction = _valid_mean((confidence > threshold).float(), valid)  # (N, 1, 1)
        return fraction * valid
    raise ValueError(f'pseudo_weighting {rule!r}; allowed: {", ".join(PSEUDO_WEIGHTINGS)}')


def similarity_weight(similarity: torch.Tensor, valid: torch.Tensor | None = None, eps: float = 1e-6) -> torch.Tensor:
    """Per-pixel weight from night-day similarity float (N, H, W) -> float (N, H, W), normalised to mean 1 per image
    over its `valid` pixels (bool (N, H, W); None: all).

    Normalising keeps the loss scale of each image; only where inside the image the loss looks changes.
    """
    valid = torch.ones_like(similarity, dtype=torch.bool) if valid is None else valid
    return similarity / _valid_mean(similarity, valid).clamp(min=eps)


def transfer_for(config: MethodConfig) -> CrossAttentionTransfer | IdentityTransfer:
    """The transfer `config.transfer` names: `attention` (with the config's attention settings) or `identity`."""
    builders = {'attention': lambda: CrossAttentionTransfer(
                    config.attention_stage, config.attention_temperature, config.attention_sigma_px,
                    (config.attention_search_vertical_px, config.attention_search_px)),
                'identity': IdentityTransfer}
    return builders[config.transfer]()


class PseudoLabels(NamedTuple):
    """The night crops' pseudo-labels, their weights in the consistency loss, and scalars to log."""

    labels: torch.Tensor
    """int64 (N, H, W): the (refined, anchored) teacher's argmax."""
    weight: torch.Tensor
    """float (N, H, W): each pixel's weight in the consistency loss."""
    scalars: dict[str, float]
    """pseudo/confident_fraction, pseudo/weight, refine/*, attention/*, anchor/fraction, and with night ground truth
    pseudo/* and teacher/* label quality (percent)."""


class NightPseudoLabeler:
    """Builds the night pseudo-labels of a batch from the EMA teacher (see the module docstring).

    config: the resolved method options; classes: the bundle's class names (K); transfer and refinement: how the
    day reference's prediction reaches the night pixels and how it refines the night one (`full`); both None for
    the plain mean teacher.
    """

    def __init__(self, config: MethodConfig, classes: Sequence[str],
                 transfer: CrossAttentionTransfer | IdentityTransfer | None = None,
                 refinement: ReferenceRefinement | None = None, ignore_index: int = IGNORE_INDEX) -> None:
        if (transfer is None) != (refinement is None):
            raise ValueError('the day reference needs both a transfer and a refinement (or neither)')
        self.config = config
        self.transfer = transfer
        self.refinement = refinement
        self.teacher_relight = config.teacher_relight
        self.anchor_classes = class_mask(classes, config.anchor_classes) if config.anchor_classes else None
        self.num_classes = len(classes)
        self.ignore_index = ignore_index
        self.watched = watched_classes(classes)

    @property
    def keys(self) -> tuple[str, ...]:
        """What it reads of each night item: 'image', and 'reference' when it refines."""
        return ('image', 'reference') if self.refinement is not None else ('image',)

    def __call__(self, teacher: EmaTeacher, target: dict[str, torch.Tensor],
                 autocast: AbstractContextManager) -> PseudoLabels:
        """The pseudo-labels of target's night crops ('image' float (N, 3, H, W), with 'reference' the same shape
        when refining, 'label' int64 (N, H, W) where measured, 'valid' bool (N, H, W) False on padding where the crop
        has any); `autocast` is the mixed-precision context. Padding gets the ignore label and weight 0, counts in
        no image fraction and never passes the reference's gate: at night dark pixels are real content, black
        padding is not."""
        scalars: dict[str, float] = {}
        teacher_labels = similarity = None
        valid = target.get(VALID_KEY)
        if valid is None:
            valid = torch.ones_like(target['image'][:, 0], dtype=torch.bool)
        if self.refinement is None:
            probabilities, _ = self.teacher_view(teacher.model, target, ('image',), autocast)
        else:
            probabilities, teacher_labels, similarity, scalars = self._refined(teacher, target, valid, autocast)
        if self.anchor_classes is not None:
            probabilities, anchored = self._anchored(teacher, target, probabilities, autocast)
            scalars['anchor/fraction'] = anchored.float().mean().item()
        confidence, labels = probabilities.max(dim=1)  # (N, H, W) each
        labels = labels.masked_fill(~valid, self.ignore_index)
        weight = pseudo_label_weight(confidence, self.config.pseudo_weighting, self.config.pseudo_threshold, valid)
        if similarity is not None and self.config.similarity_weighting:
            weight = weight * similarity_weight(similarity, valid)
        confident = _valid_mean((confidence > self.config.pseudo_threshold).float(), valid).mean()
        scalars.update({'pseudo/confident_fraction': confident.item(), 'pseudo/weight': weight.mean().item()})
        if teacher_labels is not None:
            scalars['refine/changed_fraction'] = (labels != teacher_labels).float().mean().item()
        if 'label' in target:  # measurement only: ground truth never enters these methods' losses
            scalars.update(self._quality('pseudo', labels, target['label']))
            if teacher_labels is not None:
                scalars.update(self._quality('teacher', teacher_labels, target['label']))
        return PseudoLabels(labels, weight, scalars)

    def _refined(self, teacher: EmaTeacher, target: dict[str, torch.Tensor], valid: torch.Tensor,
                 autocast: AbstractContextManager
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, dict[str, float]]:
        """The teacher's night softmax refined by the day reference: one teacher forward over the night and
        reference crops, the transfer, the refinement; the reference's padding carries nothing and the night
        padding (`valid` bool (N, H, W) False) receives nothing, so neither passes the gate. Returns (refined float
        (N, K, H, W), the teacher's own night labels int64 (N, H, W), the night-day similarity float (N, H, W) or
        None, scalars to log)."""
        n = target['image'].shape[0]
        stage = self.transfer.feature_stage
        probabilities, features = self.teacher_view(teacher.model, target, ('image', 'reference'), autocast, stage)
        night_probabilities, day_probabilities = probabilities[:n], probabilities[n:]  # one forward over both
        night_features, day_features = (features[:n], features[n:]) if features is not None else (None, None)
        image_pixels = valid.unsqueeze(1)  # (N, 1, H, W)
        carried = self.transfer(day_probabilities * image_pixels, night_features, day_features)
        refined, teacher_labels, gate = self.refinement(night_probabilities, carried.day_probabilities * image_pixels)
        scalars = dict(carried.scalars, **{'refine/gate_fraction': gate.float().mean().item()})
        return refined, teacher_labels, carried.similarity, scalars

    def _anchored(self, teacher: EmaTeacher, target: dict[str, torch.Tensor], probabilities: torch.Tensor,
                  autocast: AbstractContextManager) -> tuple[torch.Tensor, torch.Tensor]:
        """Where the frozen start model (teacher.anchor) labels the night view with an anchor class, its softmax
        replaces `probabilities` float (N, K, H, W). Returns them and the bool (N, H, W) mask of those pixels."""
        if teacher.anchor is None:
            raise ValueError('method.anchor_classes needs a teacher that keeps the start model (EmaTeacher anchored)')
        start, _ = self.teacher_view(teacher.anchor, target, ('image',), autocast)
        anchored = self.anchor_classes.to(start.device)[start.argmax(1)]  # (N, H, W)
        return torch.where(anchored.unsqueeze(1), start, probabilities), anchored

    def teacher_view(self, model: nn.Module, target: dict[str, torch.Tensor], keys: tuple[str, ...],
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
        return torch.softmax(logits.float(), dim=1), features

    def _quality(self, prefix: str, labels: torch.Tensor, truth: torch.Tensor) -> dict[str, float]:
        """`prefix`/accuracy, /miou and /NAME_iou for each of diagnostics.WATCHED_CLASSES, of labels int64
        (N, H, W) against night truth (percent)."""
        quality = label_quality(labels, truth, self.num_classes, self.ignore_index, self.watched)
        return {f'{prefix}/{key}': value for key, value in quality.items()}

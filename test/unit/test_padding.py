"""Crop padding in the night pipeline: marked by the weak augmentation, and never a pseudo-label, a weight, an image
fraction or a pass of the reference's gate (at night dark pixels are content; black padding is not)."""
from __future__ import annotations

import contextlib
from types import SimpleNamespace

import numpy as np
import torch

from night_seg_ros.classes import CITYSCAPES_CLASSES, IGNORE_INDEX
from night_seg_training.batches import VALID_KEY, to_tensors, weak_augment
from night_seg_training.method.class_masks import static_class_mask
from night_seg_training.method.cross_attention import IdentityTransfer
from night_seg_training.method.options import MethodConfig, resolved
from night_seg_training.method.pseudo_label import NightPseudoLabeler, pseudo_label_weight, similarity_weight
from night_seg_training.method.refinement import ReferenceRefinement

SKY = CITYSCAPES_CLASSES.index('sky')
K = len(CITYSCAPES_CLASSES)


def _sample(height: int = 20, width: int = 40) -> dict[str, np.ndarray]:
    return {'image': np.full((height, width, 3), 200, np.uint8), 'reference': np.full((10, 30, 3), 90, np.uint8),
            'label': np.full((height, width), 3, np.uint8)}


def test_weak_augment_marks_the_padding_of_a_crop_larger_than_the_scaled_image() -> None:
    rng = np.random.default_rng(0)
    for _ in range(10):
        crop = weak_augment(_sample(), rng, resize_height=20, scale_range=(0.5, 0.5), crop=(16, 32))  # 10 x 20 image
        padding = crop[VALID_KEY] == 0
        assert crop[VALID_KEY].dtype == np.uint8 and padding.sum() == 16 * 32 - 10 * 20
        np.testing.assert_array_equal(padding, crop['image'].max(axis=-1) == 0)
        np.testing.assert_array_equal(padding, crop['label'] == IGNORE_INDEX)
        np.testing.assert_array_equal(padding, crop['reference'].max(axis=-1) == 0)  # cut as the night image
    whole = weak_augment(_sample(), rng, resize_height=20, scale_range=(1.0, 1.0), crop=(16, 32))
    assert whole[VALID_KEY].all()
    assert to_tensors([whole])[VALID_KEY].dtype == torch.bool


def test_weights_leave_padding_out() -> None:
    confidence = torch.tensor([[[0.99, 0.99], [0.1, 0.1]]])
    valid = torch.tensor([[[True, True], [False, False]]])
    assert torch.equal(pseudo_label_weight(confidence, 'image_fraction', 0.968, valid),
                       torch.tensor([[[1.0, 1.0], [0.0, 0.0]]]))  # 2 of 2 image pixels confident, not 2 of 4
    assert torch.equal(pseudo_label_weight(confidence, 'confidence', 0.968, valid),
                       torch.tensor([[[0.99, 0.99], [0.0, 0.0]]]))
    similarity = torch.tensor([[[0.2, 0.6], [0.0, 0.0]]])
    weight = similarity_weight(similarity, valid)
    assert torch.allclose(weight[valid].mean(), torch.tensor(1.0))


def _logits(label: torch.Tensor, sure: torch.Tensor) -> torch.Tensor:
    """float (N, K, H, W) logits: class `label` int64 (N, H, W), 20 above the rest where `sure`, a flat 0 elsewhere."""
    one_hot = torch.nn.functional.one_hot(label, K).permute(0, 3, 1, 2).float()
    return 20.0 * one_hot * sure.unsqueeze(1)


def test_padding_gets_no_pseudo_label_no_weight_and_never_passes_the_reference_gate() -> None:
    n, height, width = 2, 8, 8
    valid = torch.ones(n, height, width, dtype=torch.bool)
    valid[:, :, width // 2:] = False  # the right half is padding
    # The teacher is sure of sky on the image pixels and flat (argmax road, a static class) on the black padding;
    # the reference is sure of sky everywhere, its padding included: without the mask the gate would pass there.
    night = _logits(torch.full((n, height, width), SKY), valid)
    day = _logits(torch.full((n, height, width), SKY), torch.ones_like(valid))
    teacher = SimpleNamespace(model=lambda images, stage: torch.cat([night, day]), anchor=None)
    config = resolved(MethodConfig(name='full', transfer='identity', pseudo_weighting='image_fraction'))
    labeler = NightPseudoLabeler(config, CITYSCAPES_CLASSES, IdentityTransfer(),
                                 ReferenceRefinement(static_class_mask(CITYSCAPES_CLASSES), 0.8, 0.9))
    target = {'image': torch.zeros(n, 3, height, width), 'reference': torch.zeros(n, 3, height, width),
              VALID_KEY: valid}
    labels, weight, scalars = labeler(teacher, target, contextlib.nullcontext())
    assert (labels[~valid] == IGNORE_INDEX).all() and (labels[valid] == SKY).all()
    assert (weight[~valid] == 0).all() and torch.allclose(weight[valid], torch.tensor(1.0))
    assert scalars['refine/gate_fraction'] == 0.5  # the image half only
    assert scalars['pseudo/confident_fraction'] == 1.0
    unmasked, _, unmasked_scalars = labeler(teacher, {key: value for key, value in target.items() if key != VALID_KEY},
                                            contextlib.nullcontext())
    assert unmasked_scalars['refine/gate_fraction'] == 1.0 and (unmasked != IGNORE_INDEX).all()

"""Unit tests of each piece of the method: cross attention, static transfer, EMA teacher, ClassMix, weighting."""
from __future__ import annotations

import contextlib

import pytest
import torch
import torch.nn.functional as F

from night_seg_ros.bundle import InputSpec
from night_seg_ros.classes import CITYSCAPES_CLASSES, IGNORE_INDEX
from night_seg_ros.model import build_network, segformer_arch
from night_seg_training.augment import classmix_masks, gaussian_blur, mix, strong_augment
from night_seg_training.config import MethodConfig
from night_seg_training.cross_attention import CrossAttentionTransfer, refine_pseudo_labels, static_class_mask
from night_seg_training.method import AdaptationMethod, weighted_cross_entropy
from night_seg_training.segmenter import Segmenter
from night_seg_training.teacher import EmaTeacher, confidence_weight, similarity_weight

STATIC = static_class_mask(CITYSCAPES_CLASSES)
CAR = CITYSCAPES_CLASSES.index('car')
ROAD, BUILDING, SKY = (CITYSCAPES_CLASSES.index(name) for name in ('road', 'building', 'sky'))


def test_static_classes_are_the_eleven_background_classes() -> None:
    assert STATIC.sum() == 11
    assert STATIC[:11].all() and not STATIC[11:].any()  # person, rider, car, truck, bus, train, motorcycle, bicycle


def _shifted_pair(shift: int, channels: int = 64, height: int = 8, width: int = 12) -> tuple[torch.Tensor, ...]:
    """Day features and night features of the same place seen `shift` cells further right, plus a day prediction."""
    generator = torch.Generator().manual_seed(0)
    world = torch.randn(1, channels, height, width + shift, generator=generator)
    day = world[..., :width]
    night = world[..., shift:]  # night (y, x) shows what day (y, x + shift) shows
    static_ids = torch.nonzero(STATIC).flatten()
    day_classes = static_ids[torch.randint(len(static_ids), (1, height, width), generator=generator)]
    day_probabilities = F.one_hot(day_classes, len(CITYSCAPES_CLASSES)).permute(0, 3, 1, 2).float()
    return night, day, day_probabilities, day_classes


def test_attention_transfer_carries_reference_prediction_to_the_matching_place() -> None:
    shift = 2
    night, day, day_probabilities, day_classes = _shifted_pair(shift)
    attention = CrossAttentionTransfer(STATIC, temperature=0.05, position_sigma=0.25)
    transferred, similarity = attention(night, day, day_probabilities)
    width = day.shape[-1]
    inside = transferred[..., :width - shift]  # night columns whose match lies inside the day image
    assert torch.equal(inside.argmax(1), day_classes[..., shift:])
    assert inside.max(1).values.min() > 0.9
    assert similarity[..., :width - shift].min() > 0.9  # matched places look alike


def test_attention_without_a_match_has_low_similarity() -> None:
    night, day, day_probabilities, _ = _shifted_pair(0)
    attention = CrossAttentionTransfer(STATIC)
    _, same = attention(night, day, day_probabilities)
    _, opposite = attention(night, -day, day_probabilities)
    assert same.min() > 0.9
    assert opposite.max() < 0.5  # the best a random 64-d feature finds among 96 unrelated ones
    assert opposite.mean() < same.mean() - 0.6


def test_only_static_classes_are_transferred() -> None:
    night, day, _, _ = _shifted_pair(0)
    attention = CrossAttentionTransfer(STATIC)
    all_car = torch.zeros(1, len(CITYSCAPES_CLASSES), *day.shape[-2:])
    all_car[:, CAR] = 1.0
    transferred, _ = attention(night, day, all_car)
    assert transferred.abs().max() == 0  # a day reference full of cars transfers nothing
    mixed = torch.softmax(torch.randn(1, len(CITYSCAPES_CLASSES), *day.shape[-2:]), dim=1)
    transferred, _ = attention(night, day, mixed)
    assert transferred[:, ~STATIC].abs().max() == 0
    assert transferred[:, STATIC].sum(1).min() > 0


def test_refinement_changes_static_pixels_only_and_keeps_a_distribution() -> None:
    classes = len(CITYSCAPES_CLASSES)
    night = torch.full((1, classes, 2, 2), 0.01)
    night[0, BUILDING, 0, 0] = 0.5  # unsure building: static, may be refined
    night[0, CAR, 0, 1] = 0.5  # unsure car: dynamic, must stay
    night[0, SKY, 1, :] = 0.9  # confident sky
    night = night / night.sum(1, keepdim=True)
    transferred = torch.zeros_like(night)
    transferred[:, ROAD] = 1.0  # the day reference says road everywhere
    similarity = torch.tensor([[[1.0, 1.0], [0.0, 1.0]]])
    refined = refine_pseudo_labels(night, night.argmax(1), transferred, similarity, STATIC, weight=2.0)
    assert torch.allclose(refined.sum(1), torch.ones(1, 2, 2))
    labels = refined.argmax(1)[0]
    assert labels[0, 0] == ROAD  # unsure static pixel refined by a similar reference
    assert labels[0, 1] == CAR and torch.equal(refined[0, :, 0, 1], night[0, :, 0, 1])  # dynamic untouched
    assert torch.equal(refined[0, :, 1, 0], night[0, :, 1, 0])  # similarity 0: untouched
    assert refined[0, ROAD, 1, 1] > night[0, ROAD, 1, 1]  # similar static pixel moves towards the reference


def test_ema_teacher_math() -> None:
    torch.manual_seed(0)
    student = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))
    teacher = EmaTeacher(student, alpha=0.9)
    assert all(not p.requires_grad for p in teacher.model.parameters())
    assert not teacher.model.training
    assert teacher.alpha_at(0) == 0.0 and teacher.alpha_at(3) == 0.75 and teacher.alpha_at(1000) == 0.9
    before = [p.detach().clone() for p in teacher.model.parameters()]
    with torch.no_grad():
        for p in student.parameters():
            p.add_(1.0)
        student[1].running_mean.fill_(5.0)
    teacher.update(student, iteration=1000)
    for old, new, current in zip(before, teacher.model.parameters(), student.parameters(), strict=True):
        assert torch.allclose(new, 0.9 * old + 0.1 * current)
    assert torch.equal(teacher.model[1].running_mean, student[1].running_mean)
    teacher.update(student, iteration=0)  # alpha 0: a copy of the student
    for new, current in zip(teacher.model.parameters(), student.parameters(), strict=True):
        assert torch.equal(new, current)


def test_classmix_image_and_label_masks_agree() -> None:
    generator = torch.Generator().manual_seed(3)
    labels = torch.tensor([[[0, 0, 2, 2], [5, 5, 13, 13], [IGNORE_INDEX, 8, 8, 10]]]).repeat(2, 1, 1)
    masks = classmix_masks(labels, generator)
    for index in range(2):
        chosen = torch.unique(labels[index][masks[index]])
        assert len(chosen) == 3  # half of the 6 classes present (0, 2, 5, 8, 10, 13)
        assert IGNORE_INDEX not in chosen.tolist()
        assert torch.equal(masks[index], torch.isin(labels[index], chosen))  # whole classes, never parts
    source = torch.rand(2, 3, 3, 4)
    target = torch.rand(2, 3, 3, 4)
    pseudo = torch.full_like(labels, 7)
    image = mix(masks, source, target)
    label = mix(masks, labels, pseudo)
    from_source = masks.unsqueeze(1).expand_as(image)
    assert torch.equal(image[from_source], source[from_source])
    assert torch.equal(image[~from_source], target[~from_source])
    assert torch.equal(label[masks], labels[masks]) and (label[~masks] == 7).all()


def test_confidence_and_similarity_weights() -> None:
    confidence = torch.tensor([[[0.99, 0.5], [0.97, 0.1]], [[0.2, 0.2], [0.2, 0.2]]])
    assert torch.allclose(confidence_weight(confidence, 0.968), torch.tensor([0.5, 0.0]))
    similarity = torch.tensor([[[0.2, 0.6], [0.4, 0.8]]])
    weight = similarity_weight(similarity)
    assert torch.allclose(weight.mean(), torch.tensor(1.0))
    assert torch.equal(weight.flatten().argsort(), similarity.flatten().argsort())  # more similar, more weight


def test_weighted_cross_entropy() -> None:
    logits = torch.randn(1, 4, 2, 2)
    labels = torch.tensor([[[0, 1], [2, IGNORE_INDEX]]])
    plain = F.cross_entropy(logits, labels, ignore_index=IGNORE_INDEX, reduction='none')
    weight = torch.tensor([[[1.0, 0.0], [0.5, 1.0]]])
    assert torch.allclose(weighted_cross_entropy(logits, labels, weight), (plain * weight).mean())
    assert weighted_cross_entropy(logits, labels, torch.zeros_like(weight)) == 0


def test_strong_augment_is_reproducible_bounded_and_changes_images() -> None:
    images = torch.rand(3, 3, 16, 16)
    first = strong_augment(images, torch.Generator().manual_seed(1))
    again = strong_augment(images, torch.Generator().manual_seed(1))
    other = strong_augment(images, torch.Generator().manual_seed(2))
    assert first.shape == images.shape
    assert torch.equal(first, again) and not torch.equal(first, other)
    assert first.min() >= 0 and first.max() <= 1
    assert (first - images).abs().mean() > 0.01


def test_gaussian_blur_keeps_the_mean_and_smooths() -> None:
    images = torch.rand(2, 3, 32, 32)
    blurred = gaussian_blur(images, torch.tensor([0.0, 2.0]))
    assert torch.equal(blurred[0], images[0])
    assert torch.allclose(blurred[1].mean(), images[1].mean(), atol=0.02)
    assert blurred[1].std() < images[1].std()


def _tiny_segmenter() -> Segmenter:
    torch.manual_seed(0)
    return Segmenter(build_network(segformer_arch('b0')), InputSpec(64, 64))


@pytest.mark.parametrize('name', ['source_only', 'mean_teacher', 'full', 'oracle'])
def test_each_switch_gives_a_finite_loss_with_gradients(name: str) -> None:
    student = _tiny_segmenter()
    method = AdaptationMethod(MethodConfig(name=name), CITYSCAPES_CLASSES)
    teacher = EmaTeacher(student) if method.uses_teacher else None
    generator = torch.Generator().manual_seed(0)
    batch = {'source': {'image': torch.rand(2, 3, 64, 64), 'label': torch.randint(0, 19, (2, 64, 64))},
             'target': {'image': torch.rand(2, 3, 64, 64) * 0.2, 'reference': torch.rand(2, 3, 64, 64),
                        'label': torch.randint(0, 19, (2, 64, 64))}}
    result = method.step(student, teacher, batch, generator, contextlib.nullcontext())
    assert torch.isfinite(result.loss)
    result.loss.backward()
    assert all(p.grad is not None for p in student.parameters() if p.requires_grad)
    expected = {'source_only': {'loss/source'}, 'oracle': {'loss/source', 'loss/night_supervised'},
                'mean_teacher': {'loss/source', 'loss/night_consistency', 'pseudo/confident_fraction'},
                'full': {'loss/source', 'loss/night_consistency', 'pseudo/confident_fraction',
                         'attention/similarity', 'attention/changed_fraction'}}[name]
    assert set(result.scalars) == expected
    assert (method.uses_target, method.uses_reference, method.uses_target_labels) == {
        'source_only': (False, False, False), 'mean_teacher': (True, False, False), 'full': (True, True, False),
        'oracle': (True, False, True)}[name]

"""Unit tests of each piece of the method: cross attention, static transfer, EMA teacher, ClassMix, weighting."""
from __future__ import annotations

import contextlib
import dataclasses
import re

import pytest
import torch
import torch.nn.functional as F

from night_seg_ros.bundle import InputSpec
from night_seg_ros.classes import CITYSCAPES_CLASSES, IGNORE_INDEX
from night_seg_ros.model import build_network, segformer_arch
from night_seg_training.config import RECIPES_DIR, load_config
from night_seg_training.diagnostics import WATCHED_CLASSES, label_quality
from night_seg_training.method.augment import (
    classmix_masks,
    daformer_augment,
    gaussian_blur,
    mask_patches,
    mix,
    relight,
    strong_augment,
)
from night_seg_training.method.class_masks import static_class_mask
from night_seg_training.method.cross_attention import attend, cosine_similarity, global_shift, warp
from night_seg_training.method.options import PRESET_OPTIONS, PRESETS, MethodConfig, resolved
from night_seg_training.method.pseudo_label import pseudo_label_weight, similarity_weight
from night_seg_training.method.refinement import reference_gate, refine
from night_seg_training.method.steps import AdaptationMethod, build_method, weighted_cross_entropy
from night_seg_training.method.teacher import EmaTeacher
from night_seg_training.segmenter import Segmenter

STATIC = static_class_mask(CITYSCAPES_CLASSES)
CAR = CITYSCAPES_CLASSES.index('car')


def method_of(config: MethodConfig) -> AdaptationMethod:
    """The step of `config` resolved as the config loads (the method's own values of what it leaves unset)."""
    return build_method(resolved(config), CITYSCAPES_CLASSES)

ROAD, BUILDING, SKY, POLE = (CITYSCAPES_CLASSES.index(name) for name in ('road', 'building', 'sky', 'pole'))


def test_static_classes_are_the_eleven_background_classes() -> None:
    assert STATIC.sum() == 11
    assert STATIC[:11].all() and not STATIC[11:].any()  # person, rider, car, truck, bus, train, motorcycle, bicycle


CELL = 8  # pixels per feature cell in these tests (stage 2 of SegFormer)


def _shifted_pair(shift: int, channels: int = 64, height: int = 8, width: int = 12) -> tuple[torch.Tensor, ...]:
    """Night and day features of the same place, the day camera seeing it `shift` cells further left, plus a day
    prediction: night cell (y, x) shows what day cell (y, x + shift) shows. Images are CELL pixels per cell."""
    generator = torch.Generator().manual_seed(0)
    world = torch.randn(1, channels, height, width + shift, generator=generator)
    day = world[..., :width]
    night = world[..., shift:] * 0.3 + 2.0  # darker and offset: night light changes every feature alike
    static_ids = torch.nonzero(STATIC).flatten()
    day_classes = static_ids[torch.randint(len(static_ids), (1, height, width), generator=generator)]
    day_probabilities = F.one_hot(day_classes, len(CITYSCAPES_CLASSES)).permute(0, 3, 1, 2).float()
    return night, day, day_probabilities, day_classes


@pytest.mark.parametrize('shift', [0, 2, 5])
def test_global_shift_finds_the_displacement_between_day_and_night(shift: int) -> None:
    night, day, _, _ = _shifted_pair(shift)
    cells = tuple(night.shape[-2:])
    image = (cells[0] * CELL, cells[1] * CELL)
    found = global_shift(cosine_similarity(night, day), cells, image, search_px=(16.0, 64.0))
    assert found.tolist() == [[0.0, shift * CELL]]


def test_attention_anchored_at_the_shift_carries_the_day_prediction_to_the_matching_place() -> None:
    shift = 5
    night, day, day_probabilities, day_classes = _shifted_pair(shift)
    cells = tuple(night.shape[-2:])
    anchor = torch.tensor([[0.0, shift * CELL]])
    flow, similarity = attend(cosine_similarity(night, day), cells, (cells[0] * CELL, cells[1] * CELL), anchor,
                              sigma_px=16.0, temperature=0.07)
    inside = slice(0, day.shape[-1] - shift)  # night columns whose match lies inside the day image
    assert torch.allclose(flow[0, 1, :, inside], torch.tensor(float(shift * CELL)), atol=1.0)
    assert flow[0, 0, :, inside].abs().max() < 1.0
    assert similarity[..., inside].min() > 0.9  # matched places look alike
    dense = F.interpolate(day_probabilities, scale_factor=CELL, mode='nearest')  # (1, K, H, W)
    warped = warp(dense, flow)
    centres = warped[..., CELL // 2::CELL, CELL // 2::CELL]  # one pixel per cell, at its centre
    assert torch.equal(centres[..., inside].argmax(1), day_classes[..., shift:])


def test_attention_without_a_match_has_low_similarity() -> None:
    night, day, _, _ = _shifted_pair(0)
    cells = tuple(night.shape[-2:])
    image = (cells[0] * CELL, cells[1] * CELL)
    zero = torch.zeros(1, 2)
    _, same = attend(cosine_similarity(night, day), cells, image, zero, sigma_px=16.0, temperature=0.07)
    _, opposite = attend(cosine_similarity(night, -day), cells, image, zero, sigma_px=16.0, temperature=0.07)
    assert same.min() > 0.9
    assert opposite.mean() < same.mean() - 0.6


def test_warp_moves_the_prediction_by_the_flow_and_leaves_nothing_outside() -> None:
    probabilities = torch.zeros(1, len(CITYSCAPES_CLASSES), 4, 8)
    probabilities[:, ROAD] = 1.0
    probabilities[..., 0, :, 6:] = 0.0
    probabilities[0, SKY, :, 6:] = 1.0  # the two right columns are sky
    flow = torch.zeros(1, 2, 4, 8)
    flow[:, 1] = 2.0  # every night pixel takes the day pixel 2 to its right
    warped = warp(probabilities, flow)
    assert torch.equal(warped[0, :, :, 4:6].argmax(0), torch.full((4, 2), SKY))
    assert torch.equal(warped[0, :, :, :4].argmax(0), torch.full((4, 4), ROAD))
    assert warped[0, :, :, 6:].abs().max() == 0  # beyond the day image: no reference
    assert torch.equal(warp(probabilities, torch.zeros(1, 2, 2, 2)), probabilities)  # identity


def _refine(night: torch.Tensor, day: torch.Tensor, mix: float,
            overrule_dynamic_below: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """(refined, gate) as the method computes them."""
    gate = reference_gate(*night.max(1), day, STATIC, overrule_dynamic_below)
    return refine(night, day, gate, mix), gate


def test_refinement_overrules_a_confidently_wrong_static_label_and_keeps_dynamic_ones() -> None:
    classes = len(CITYSCAPES_CLASSES)
    night = torch.full((1, classes, 2, 3), 0.01)
    night[0, BUILDING, 0, 0] = 0.9  # the night sky called building, confidently
    night[0, CAR, 0, 1] = 0.9  # a night car where the day reference has road
    night[0, ROAD, 0, 2] = 0.9  # road where the day reference has a parked car
    night[0, BUILDING, 1, :] = 0.9  # building, with no reference at (1, 2)
    night = night / night.sum(1, keepdim=True)
    day = torch.full((1, classes, 2, 3), 0.05 / (classes - 1))
    day[0, SKY, 0, 0] = 0.95
    day[0, ROAD, 0, 1] = 0.95
    day[0, CAR, 0, 2] = 0.95
    day[0, SKY, 1, :] = 0.95
    day[..., 1, 2] = 0.0  # outside the day image
    refined, gate = _refine(night, day, 0.8)
    assert torch.allclose(refined.sum(1), torch.ones(1, 2, 3))
    assert gate.tolist() == [[[True, False, False], [True, True, False]]]
    labels = refined.argmax(1)[0]
    assert labels[0, 0] == SKY and refined[0, SKY, 0, 0] > 0.75  # overruled, and confident enough to learn from
    for y, x in ((0, 1), (0, 2), (1, 2)):  # the night car, the day's parked car, no reference: untouched
        assert torch.equal(refined[0, :, y, x], night[0, :, y, x])
    assert torch.equal(_refine(night, day, 0.0)[0], night)


def test_an_unsure_dynamic_night_label_is_overruled_only_below_the_threshold() -> None:
    classes = len(CITYSCAPES_CLASSES)
    night = torch.full((1, classes, 1, 2), 0.001)
    night[0, CAR, 0, 0] = 0.5  # an unsure "car": the dark sky, say
    night[0, BUILDING, 0, 0] = 0.4
    night[0, CAR, 0, 1] = 0.95  # a confident car
    night = night / night.sum(1, keepdim=True)
    day = torch.full((1, classes, 1, 2), 0.05 / (classes - 1))
    day[0, SKY] = 0.95
    assert _refine(night, day, 0.8, overrule_dynamic_below=0.0)[1].tolist() == [[[False, False]]]
    refined, gate = _refine(night, day, 0.8, overrule_dynamic_below=0.9)
    assert gate.tolist() == [[[True, False]]]
    assert refined.argmax(1).tolist() == [[[SKY, CAR]]]
    assert _refine(night, day, 0.8, overrule_dynamic_below=1.0)[1].all()


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


def test_pseudo_label_weights() -> None:
    confidence = torch.tensor([[[0.99, 0.5], [0.97, 0.1]], [[0.2, 0.2], [0.2, 0.2]]])
    assert torch.equal(pseudo_label_weight(confidence, 'confidence', 0.968), confidence)
    fraction = pseudo_label_weight(confidence, 'image_fraction', 0.968)
    assert torch.allclose(fraction, torch.tensor([0.5, 0.0]).view(2, 1, 1).expand(2, 2, 2))
    with pytest.raises(ValueError, match="pseudo_weighting 'soft'; allowed: confidence, image_fraction"):
        pseudo_label_weight(confidence, 'soft', 0.968)
    similarity = torch.tensor([[[0.2, 0.6], [0.4, 0.8]]])
    weight = similarity_weight(similarity)
    assert torch.allclose(weight.mean(), torch.tensor(1.0))
    assert torch.equal(weight.flatten().argsort(), similarity.flatten().argsort())  # more similar, more weight


def test_classmix_of_dynamic_classes_pastes_every_dynamic_class_and_nothing_else() -> None:
    labels = torch.tensor([[[0, 0, 2, 2], [5, 5, 13, 13], [IGNORE_INDEX, 11, 8, 10]],
                           [[0, 0, 2, 2], [5, 5, 8, 8], [IGNORE_INDEX, 8, 8, 10]]])
    masks = classmix_masks(labels, torch.Generator().manual_seed(3), only=~STATIC)
    assert torch.equal(masks[0], torch.isin(labels[0], torch.tensor([11, 13])))  # person and car, whole
    assert not masks[1].any()  # no dynamic class in this crop: the night crop stays whole


def test_label_quality_by_hand() -> None:
    truth = torch.tensor([[[0, 0, 1, 1], [10, 10, 10, IGNORE_INDEX]]])
    predicted = torch.tensor([[[0, 1, 1, 1], [10, 10, 0, 3]]])
    quality = label_quality(predicted, truth, 19, IGNORE_INDEX, {'sky': 10})
    assert quality['accuracy'] == pytest.approx(100 * 5 / 7)
    # IoU: class 0: 1 / (2 + 2 - 1) = 1/3; class 1: 2 / 3; class 10 (sky): 2 / 3
    assert quality['miou'] == pytest.approx(100 * (1 / 3 + 2 / 3 + 2 / 3) / 3)
    assert quality['sky_iou'] == pytest.approx(100 * 2 / 3)
    assert 'sky_iou' not in label_quality(predicted[:, :1], truth[:, :1], 19, IGNORE_INDEX, {'sky': 10})
    unknown = label_quality(torch.full_like(truth, IGNORE_INDEX), truth, 19, IGNORE_INDEX)
    assert unknown['accuracy'] == 0.0


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


def _batch(with_night_labels: bool) -> dict[str, dict[str, torch.Tensor]]:
    generator = torch.Generator().manual_seed(5)
    target = {'image': torch.rand(2, 3, 64, 64, generator=generator) * 0.2,
              'reference': torch.rand(2, 3, 64, 64, generator=generator),
              'label': torch.randint(0, 19, (2, 64, 64), generator=generator)}
    if not with_night_labels:
        del target['label']
    return {'source': {'image': torch.rand(2, 3, 64, 64, generator=generator),
                       'label': torch.randint(0, 19, (2, 64, 64), generator=generator)}, 'target': target}


METHOD_SCALARS = {'loss/source', 'loss/night_consistency', 'pseudo/confident_fraction', 'pseudo/weight'}
QUALITY = {'pseudo/accuracy', 'pseudo/miou'}


@pytest.mark.parametrize(('name', 'transfer'), [('source_only', 'attention'), ('mean_teacher', 'attention'),
                                                ('full', 'attention'), ('full', 'identity'), ('oracle', 'attention')])
def test_each_switch_gives_a_finite_loss_with_gradients(name: str, transfer: str) -> None:
    student = _tiny_segmenter()
    method = method_of(MethodConfig(name=name, transfer=transfer))
    teacher = EmaTeacher(student) if method.uses_teacher else None
    result = method.step(student, teacher, _batch(True), torch.Generator().manual_seed(0), contextlib.nullcontext())
    assert torch.isfinite(result.loss)
    result.loss.backward()
    assert all(p.grad is not None for p in student.parameters() if p.requires_grad)
    refinement = {'teacher/accuracy', 'teacher/miou', 'refine/gate_fraction', 'refine/changed_fraction'}
    expected = {'source_only': {'loss/source'}, 'oracle': {'loss/source', 'loss/night_supervised'},
                'mean_teacher': METHOD_SCALARS | QUALITY,
                'full': METHOD_SCALARS | QUALITY | refinement | (
                    {'attention/similarity', 'attention/shift_x_px'} if transfer == 'attention' else set())}[name]
    watched = {f'{prefix}/{name}_iou' for prefix in ('pseudo', 'teacher') for name in WATCHED_CLASSES}
    assert expected <= set(result.scalars) <= expected | watched
    assert (method.uses_target, method.uses_reference, method.uses_target_labels) == {
        'source_only': (False, False, False), 'mean_teacher': (True, False, False), 'full': (True, True, False),
        'oracle': (True, False, True)}[name]


@pytest.mark.parametrize('name', ['mean_teacher', 'full'])
def test_night_ground_truth_is_measured_but_never_learned_from(name: str) -> None:
    losses = {}
    for with_labels in (False, True):
        student = _tiny_segmenter()
        method = method_of(MethodConfig(name=name))
        result = method.step(student, EmaTeacher(student), _batch(with_labels), torch.Generator().manual_seed(0),
                             contextlib.nullcontext())
        losses[with_labels] = result.loss.item()
        assert ('pseudo/accuracy' in result.scalars) == with_labels
    assert losses[True] == losses[False]


@pytest.mark.parametrize('name', ['mean_teacher', 'full'])
@pytest.mark.parametrize('weight', [0.0, 0.5, 1.0])
def test_the_night_loss_enters_at_its_weight(name: str, weight: float) -> None:
    student = _tiny_segmenter()
    method = method_of(MethodConfig(name=name, unsup_weight=weight))
    result = method.step(student, EmaTeacher(student), _batch(False), torch.Generator().manual_seed(0),
                         contextlib.nullcontext())
    night = result.scalars['loss/night_consistency']
    assert night > 0
    assert result.loss.item() == pytest.approx(result.scalars['loss/source'] + weight * night, rel=1e-5)


def test_the_night_weight_defaults_to_half_and_the_oracle_ignores_it() -> None:
    assert MethodConfig().unsup_weight == 0.5
    losses = []
    for weight in (0.5, 1.0):
        student = _tiny_segmenter()
        method = method_of(MethodConfig(name='oracle', unsup_weight=weight))
        result = method.step(student, None, _batch(True), torch.Generator().manual_seed(0), contextlib.nullcontext())
        losses.append(result.loss.item())
        assert result.loss.item() == pytest.approx(
            result.scalars['loss/source'] + result.scalars['loss/night_supervised'], rel=1e-5)
    assert losses[0] == losses[1]


@pytest.mark.parametrize(('classmix', 'strong_augmentation'), [(False, False), (False, True), (True, False)])
def test_the_student_sees_the_night_crop_as_is_only_without_classmix_and_strong_augmentation(
        classmix: bool, strong_augmentation: bool) -> None:
    student = _tiny_segmenter()
    method = method_of(MethodConfig(name='mean_teacher', classmix=classmix, strong_augmentation=strong_augmentation))
    batch = _batch(False)
    result = method.step(student, EmaTeacher(student), batch, torch.Generator().manual_seed(0),
                         contextlib.nullcontext())
    unchanged = torch.equal(result.night, batch['target']['image'][0])
    assert unchanged == (not classmix and not strong_augmentation)


def test_each_method_has_its_own_student_input_unless_the_config_says() -> None:
    student = _tiny_segmenter()
    batch = _batch(False)
    night, source = batch['target']['image'][0], batch['source']

    def student_input(config: MethodConfig) -> torch.Tensor:
        return method_of(config).step(
            student, EmaTeacher(student), batch, torch.Generator().manual_seed(0), contextlib.nullcontext()).night

    dynamic = ~STATIC[source['label'][0]]  # (H, W): the day crop's cars, people, ...
    assert dynamic.any() and not dynamic.all()
    # full: the day crop's dynamic classes pasted into the plain night crop, nothing else touched
    assert torch.equal(student_input(MethodConfig(name='full')), torch.where(dynamic, source['image'][0], night))
    assert torch.equal(student_input(MethodConfig(name='full', classmix=False)), night)
    # mean_teacher: DACS half-class mixing and strong augmentation unless switched off
    assert not torch.equal(student_input(MethodConfig(name='mean_teacher')), night)
    assert torch.equal(student_input(MethodConfig(name='mean_teacher', classmix=False, strong_augmentation=False)),
                       night)


def test_relight_lifts_a_dark_image_towards_the_brightness_and_leaves_a_bright_one() -> None:
    generator = torch.Generator().manual_seed(4)
    dark = torch.rand(1, 3, 32, 32, generator=generator) * 0.25  # mean about 0.125, like the synthetic night
    bright = 0.3 + torch.rand(1, 3, 32, 32, generator=generator) * 0.6
    lifted = relight(torch.cat([dark, bright]), 0.3)
    assert 0.25 < lifted[0].mean() < 0.35 and lifted.min() >= 0 and lifted.max() <= 1
    order = dark.flatten().argsort()
    assert bool((lifted[0].flatten()[order].diff() >= 0).all())  # one monotone curve: the scene stays the scene
    assert torch.equal(lifted[1], bright[0])


def test_teacher_relight_changes_what_the_teacher_sees_not_what_the_student_learns_from() -> None:
    student = _tiny_segmenter()
    batch = _batch(False)
    results = {}
    for brightness in (0.0, 0.3):
        method = method_of(MethodConfig(name='full', transfer='identity', classmix=False, teacher_relight=brightness))
        teacher = EmaTeacher(student)
        results[brightness] = method.step(student, teacher, batch, torch.Generator().manual_seed(0),
                                          contextlib.nullcontext())
        seen, _ = method.pseudo_labeler.teacher_view(teacher.model, batch['target'], ('image', 'reference'),
                                                     contextlib.nullcontext())
        expected = teacher.model(torch.cat([relight(batch['target']['image'], brightness) if brightness else
                                            batch['target']['image'], batch['target']['reference']]))
        assert torch.allclose(seen, torch.softmax(expected, 1), atol=1e-6)
    assert torch.equal(results[0.0].night, results[0.3].night)  # the student's input is the plain night crop
    assert not torch.equal(results[0.0].pseudo_label, results[0.3].pseudo_label)


@pytest.mark.parametrize('recipe', sorted(path.stem for path in RECIPES_DIR.glob('*.yaml')))
def test_a_loaded_config_holds_every_method_value_that_runs(recipe: str) -> None:
    """No null meaning "the method's own choice" survives loading: the saved config says what ran."""
    for name, preset in PRESETS.items():
        method = load_config(recipe, [f'method.name={name}', 'method.anchor_classes=[]']).method
        unset = [key for key, value in dataclasses.asdict(method).items() if value is None]
        assert not unset, (recipe, name, unset)
        written = load_config(recipe, [f'method.name={name}', 'method.anchor_classes=[]']).to_dict()['method']
        assert None not in written.values()
        if recipe == 'synthetic_demo':  # the recipe leaves them to the method
            assert all(getattr(method, key) == getattr(preset, key) for key in PRESET_OPTIONS)
    assert load_config('own_drives').method.teacher_relight == 0.0  # a recipe's own value stays
    with pytest.raises(ValueError, match='resolve the config first'):
        build_method(MethodConfig(name='full'), CITYSCAPES_CLASSES)


def test_teacher_relight_unset_is_each_methods_own_choice() -> None:
    def chosen(**settings: object) -> float:
        return resolved(MethodConfig(**settings)).teacher_relight

    assert chosen(name='full') == 0.25 and chosen(name='full', transfer='identity') == 0.25
    assert chosen(name='mean_teacher') == 0.0 and chosen(name='oracle') == 0.0
    assert chosen(name='full', teacher_relight=0.0) == 0.0 and chosen(name='mean_teacher', teacher_relight=0.3) == 0.3


def test_anchor_classes_keep_the_start_models_night_labels_where_it_predicts_them() -> None:
    torch.manual_seed(0)
    student = _tiny_segmenter()
    with torch.no_grad():
        for p in student.parameters():
            p.add_(torch.randn_like(p))  # a start model that predicts several classes on noise
    teacher = EmaTeacher(student, anchored=True)
    assert EmaTeacher(student).anchor is None
    start = [p.detach().clone() for p in teacher.anchor.parameters()]
    with torch.no_grad():
        for p in student.parameters():
            p.add_(torch.randn_like(p) * 0.5)  # the student drifts ...
    teacher.update(student, iteration=0)  # ... and the teacher with it (alpha 0: a copy)
    assert all(torch.equal(old, now) for old, now in zip(start, teacher.anchor.parameters(), strict=True))
    assert not teacher.anchor.training and not any(p.requires_grad for p in teacher.anchor.parameters())
    target = _batch(False)['target']
    with torch.no_grad():
        start_probabilities = torch.softmax(teacher.anchor(target['image']), 1)
        teacher_labels = teacher.model(target['image']).argmax(1)
    start_confidence, start_labels = start_probabilities.max(1)
    kept = int(torch.bincount(start_labels.flatten()).argmax())  # the start model's commonest night class
    where = start_labels == kept
    assert 0 < where.sum() < where.numel() and (teacher_labels[where] != kept).any()
    method = method_of(MethodConfig(name='mean_teacher', anchor_classes=[CITYSCAPES_CLASSES[kept]]))
    assert method.uses_anchor
    pseudo, weight, scalars = method.pseudo_labels(teacher, target, contextlib.nullcontext())
    assert torch.equal(pseudo[where], start_labels[where])
    assert torch.allclose(weight[where], start_confidence[where], atol=1e-5)
    assert torch.equal(pseudo[~where], teacher_labels[~where])
    assert scalars['anchor/fraction'] == pytest.approx(where.float().mean().item())
    full = method_of(MethodConfig(name='full', transfer='identity', anchor_classes=['pole']))
    result = full.step(student, teacher, _batch(False), torch.Generator().manual_seed(0), contextlib.nullcontext())
    assert torch.isfinite(result.loss) and 'anchor/fraction' in result.scalars
    with pytest.raises(ValueError, match='keeps the start model'):
        full.pseudo_labels(EmaTeacher(student), target, contextlib.nullcontext())


def test_daformer_augment_jitters_colour_mildly_and_blurs() -> None:
    images = 0.2 + 0.6 * torch.rand(64, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    first = daformer_augment(images, torch.Generator().manual_seed(1))
    assert torch.equal(first, daformer_augment(images, torch.Generator().manual_seed(1)))
    assert first.min() >= 0 and first.max() <= 1
    changed = (first - images).abs().mean(dim=(1, 2, 3)) > 1e-6
    assert 0.75 < changed.float().mean() < 1.0  # jitter skipped with p 0.2, blurred half the time
    brightness = first.mean(dim=(1, 2, 3)) / images.mean(dim=(1, 2, 3))
    assert brightness.min() > 0.7 and brightness.max() < 1.3  # no night-like darkening
    night = strong_augment(images, torch.Generator().manual_seed(1))
    assert (first - images).abs().mean() < (night - images).abs().mean()
    assert torch.equal(daformer_augment(images, torch.Generator().manual_seed(1), skip=1.0, blur=0.0), images)


def test_the_strong_augmentation_style_reaches_the_student() -> None:
    student = _tiny_segmenter()
    batch = _batch(False)

    def student_input(style: str) -> torch.Tensor:
        config = MethodConfig(name='mean_teacher', classmix=False, strong_augmentation_style=style)
        return method_of(config).step(
            student, EmaTeacher(student), batch, torch.Generator().manual_seed(0), contextlib.nullcontext()).night

    night = batch['target']['image']
    assert torch.equal(student_input('daformer'), daformer_augment(night, torch.Generator().manual_seed(0))[0])
    assert not torch.equal(student_input('night'), student_input('daformer'))
    with pytest.raises(ValueError, match="strong_augmentation_style is 'harsh'; allowed: night, daformer"):
        load_config('synthetic_demo', ['method.strong_augmentation_style=harsh'])


def test_mask_patches_fills_whole_blocks_with_the_normalisation_mean_at_the_ratio() -> None:
    images = torch.rand(16, 3, 40, 72, generator=torch.Generator().manual_seed(0))
    fill = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    masked = mask_patches(images, torch.Generator().manual_seed(1), patch=8, ratio=0.7, fill=fill)
    assert torch.equal(masked, mask_patches(images, torch.Generator().manual_seed(1), patch=8, ratio=0.7, fill=fill))
    filled = (masked == fill).all(dim=1)  # (N, H, W); random pixels never equal the fill in all three channels
    kept = ~filled.unsqueeze(1).expand_as(masked)
    assert torch.equal(masked[kept], images[kept])
    blocks = filled.view(16, 5, 8, 9, 8)  # 5 x 9 blocks of 8 x 8
    assert torch.equal(blocks.all(dim=(2, 4)), blocks.any(dim=(2, 4)))  # a block is masked whole or not at all
    assert 0.6 < filled.float().mean() < 0.8
    normalised = (masked - fill) / torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    assert torch.equal(normalised.abs().sum(dim=1) == 0, filled)  # a masked block is 0 to the network, as in MIC
    edge = mask_patches(images[:, :, :36, :70], torch.Generator().manual_seed(1), patch=8, ratio=0.7, fill=fill)
    assert edge.shape == (16, 3, 36, 70)


@pytest.mark.parametrize('name', ['mean_teacher', 'full'])
def test_mic_adds_the_masked_view_loss_at_its_weight(name: str) -> None:
    results = {}
    for weight in (0.0, 1.0, 2.0):
        student = _tiny_segmenter()
        method = method_of(MethodConfig(name=name, mic_weight=weight, mic_patch_px=16))
        results[weight] = method.step(student, EmaTeacher(student), _batch(False), torch.Generator().manual_seed(0),
                                      contextlib.nullcontext())
    assert 'loss/night_masked' not in results[0.0].scalars
    for weight in (1.0, 2.0):
        scalars = results[weight].scalars
        assert scalars['loss/night_masked'] > 0
        assert results[weight].loss.item() == pytest.approx(
            scalars['loss/source'] + method.config.unsup_weight * scalars['loss/night_consistency']
            + weight * scalars['loss/night_masked'], rel=1e-5)
    results[1.0].loss.backward()


@pytest.mark.parametrize(('override', 'message'), [
    ('method.mic_weight=-1', 'method.mic_weight is -1.0; it must be >= 0'),
    ('method.mic_mask_ratio=1.0', 'method.mic_mask_ratio is 1.0; allowed: 0 <= ratio < 1'),
    ('method.mic_patch_px=0', 'method.mic_patch_px is 0; it must be >= 1'),
])
def test_mic_options_are_checked(override: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        load_config('synthetic_demo', [override])
    with pytest.raises(ValueError, match="mic_weight needs a teacher's pseudo-labels; method 'source_only' has none"):
        load_config('synthetic_demo', ['method.name=source_only', 'method.mic_weight=1'])
    defaults = MethodConfig()
    assert (defaults.mic_weight, defaults.mic_patch_px, defaults.mic_mask_ratio) == (0.0, 64, 0.7)

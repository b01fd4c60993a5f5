"""Tests for night_seg_training.evaluate: confusion matrix and IoU by hand, figures, an untrained model evaluated
(the two-process evaluation is test/slow/test_distributed_evaluation.py)."""
from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest

from night_seg_ros.backends.torch_backend import TorchBackend
from night_seg_ros.bundle import Bundle
from night_seg_ros.classes import CITYSCAPES_CLASSES, CITYSCAPES_PALETTE, IGNORE_INDEX
from night_seg_ros.model import SegmentationModel, create_untrained_bundle, load_model
from night_seg_ros.pipeline import OutputRequest, SegmentationPipeline
from night_seg_training.evaluate import ConfusionMatrix, confusion_png, evaluate, format_table, gallery_png, segment

NUM_CLASSES = len(CITYSCAPES_CLASSES)
MODEL_HEIGHT, MODEL_WIDTH = 64, 128
IMAGE_HEIGHT, IMAGE_WIDTH = 96, 160  # the "camera" resolution: another size and aspect ratio than the model's


def _decode(path: Path) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(path.read_bytes(), np.uint8), cv2.IMREAD_UNCHANGED)
    assert image is not None, f'{path} is not a decodable image'
    return image


def _random_labels(rng: np.random.Generator, shape: tuple[int, ...], num_classes: int) -> np.ndarray:
    """uint8 class ids in 0..num_classes - 1 with about 10 % IGNORE_INDEX."""
    labels = rng.integers(0, num_classes, shape).astype(np.uint8)
    labels[rng.random(shape) < 0.1] = IGNORE_INDEX
    return labels


# --- ConfusionMatrix -------------------------------------------------------------------------------------------------

def test_confusion_matrix_by_hand() -> None:
    # (target, prediction) pixels: (0, 0) (0, 1) (1, 1) (1, ignore) (2, 2) and (ignore, 0), which is not counted.
    target = np.array([[0, 0, 1], [1, 2, IGNORE_INDEX]], np.uint8)
    prediction = np.array([[0, 1, 1], [IGNORE_INDEX, 2, 0]], np.uint8)
    confusion = ConfusionMatrix(4)
    confusion.update(prediction, target)

    expected = np.array([[1, 1, 0, 0, 0],
                         [0, 1, 0, 0, 1],  # the pixel predicted ignore: last ('unknown') column
                         [0, 0, 1, 0, 0],
                         [0, 0, 0, 0, 0]])
    np.testing.assert_array_equal(confusion.matrix, expected)
    assert confusion.matrix.dtype == np.int64
    # class 0: TP 1, FN 1 -> 1/2. class 1: TP 1, FP 1 (a 0 pixel), FN 1 (unknown) -> 1/3. class 2: 1/1.
    # class 3: in neither target nor prediction -> NaN, left out of the mean.
    iou = confusion.iou()
    assert iou.dtype == np.float64 and iou.shape == (4,)
    np.testing.assert_allclose(iou[:3], [1 / 2, 1 / 3, 1.0])
    assert math.isnan(iou[3])
    assert confusion.miou() == pytest.approx((1 / 2 + 1 / 3 + 1) / 3)
    assert confusion.pixel_accuracy() == pytest.approx(3 / 5)  # the unknown pixel counts as wrong


def test_class_only_predicted_has_zero_iou() -> None:
    confusion = ConfusionMatrix(3)
    confusion.update(np.array([2, 2, 0], np.uint8), np.array([0, 0, 0], np.uint8))
    np.testing.assert_allclose(confusion.iou(), [1 / 3, np.nan, 0.0])
    assert confusion.miou() == pytest.approx(1 / 6)
    assert confusion.defined_iou(['a', 'b', 'c']) == pytest.approx({'a': 1 / 3, 'c': 0.0})  # 'b' never occurs


def test_all_predicted_ignore_gives_zero_not_nan() -> None:
    confusion = ConfusionMatrix(2)
    confusion.update(np.full((2, 2), IGNORE_INDEX, np.uint8), np.array([[0, 0], [0, IGNORE_INDEX]], np.uint8))
    np.testing.assert_allclose(confusion.iou(), [0.0, np.nan])
    assert confusion.miou() == 0.0 and confusion.pixel_accuracy() == 0.0


def test_empty_matrix_metrics_are_nan_without_warnings() -> None:
    confusion = ConfusionMatrix(3)
    confusion.update(np.zeros((2, 2), np.uint8), np.full((2, 2), IGNORE_INDEX, np.uint8))
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        assert np.isnan(confusion.iou()).all()
        assert math.isnan(confusion.miou()) and math.isnan(confusion.pixel_accuracy())
    assert confusion.matrix.sum() == 0


def test_update_matches_a_pixel_loop_and_batches() -> None:
    rng = np.random.default_rng(0)
    target = _random_labels(rng, (3, 20, 30), 5)
    prediction = _random_labels(rng, (3, 20, 30), 5)
    reference = np.zeros((5, 6), np.int64)
    for t, p in zip(target.ravel(), prediction.ravel(), strict=True):
        if t != IGNORE_INDEX:
            reference[t, 5 if p == IGNORE_INDEX else p] += 1
    batched = ConfusionMatrix(5)
    batched.update(prediction, target)
    one_by_one = ConfusionMatrix(5)
    for image_prediction, image_target in zip(prediction, target, strict=True):
        one_by_one.update(image_prediction, image_target)
    np.testing.assert_array_equal(batched.matrix, reference)
    np.testing.assert_array_equal(one_by_one.matrix, reference)


def test_merge_equals_one_accumulation_over_concatenated_data() -> None:
    rng = np.random.default_rng(1)
    targets = [_random_labels(rng, (2, 16, 24), NUM_CLASSES) for _ in range(3)]
    predictions = [_random_labels(rng, (2, 16, 24), NUM_CLASSES) for _ in range(3)]
    whole = ConfusionMatrix(NUM_CLASSES)
    whole.update(np.concatenate(predictions), np.concatenate(targets))
    merged = ConfusionMatrix(NUM_CLASSES)
    for prediction, target in zip(predictions, targets, strict=True):
        shard = ConfusionMatrix(NUM_CLASSES)
        shard.update(prediction, target)
        merged.merge(shard.matrix)
    np.testing.assert_array_equal(merged.matrix, whole.matrix)
    np.testing.assert_array_equal(merged.iou(), whole.iou())
    with pytest.raises(ValueError, match=r'cannot merge a int64 \(19, 19\) matrix into an int64 \(19, 20\)'):
        merged.merge(np.zeros((NUM_CLASSES, NUM_CLASSES), np.int64))


def test_matrix_property_is_a_copy() -> None:
    confusion = ConfusionMatrix(2)
    confusion.update(np.zeros(3, np.uint8), np.zeros(3, np.uint8))
    confusion.matrix[0, 0] = 100
    assert confusion.matrix[0, 0] == 3


def test_update_refuses_bad_input() -> None:
    confusion = ConfusionMatrix(3)
    with pytest.raises(ValueError, match=r'prediction shape \(4, 5\) and target shape \(5, 4\) differ'):
        confusion.update(np.zeros((4, 5), np.uint8), np.zeros((5, 4), np.uint8))
    with pytest.raises(ValueError, match='must be uint8 class ids; got int64 and uint8'):
        confusion.update(np.zeros(4, np.int64), np.zeros(4, np.uint8))
    with pytest.raises(ValueError, match=r'target has 2 pixels with ids \[3, 7\], neither a class id \(0-2\)'):
        confusion.update(np.zeros(4, np.uint8), np.array([0, 3, 7, IGNORE_INDEX], np.uint8))
    with pytest.raises(ValueError, match=r'prediction has 1 pixels with ids \[9\]'):
        confusion.update(np.array([0, 9, 0, 0], np.uint8), np.zeros(4, np.uint8))
    assert confusion.matrix.sum() == 0  # a refused update counts nothing
    with pytest.raises(ValueError, match='ignore_index must be in 3-255'):
        ConfusionMatrix(3, ignore_index=2)


# --- figures and table -----------------------------------------------------------------------------------------------

def test_confusion_png_layout(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    matrix = rng.integers(0, 1000, (NUM_CLASSES, NUM_CLASSES + 1))
    matrix[3] = 0  # a class without ground truth: a grey row, not a division by zero
    confusion_png(matrix, CITYSCAPES_CLASSES, tmp_path / 'small.png', cell=32)
    confusion_png(matrix, CITYSCAPES_CLASSES, tmp_path / 'large.png', cell=40)
    confusion_png(matrix[:, :-1], CITYSCAPES_CLASSES, tmp_path / 'square.png', cell=32)
    small, large, square = (_decode(tmp_path / f'{name}.png') for name in ('small', 'large', 'square'))
    assert small.dtype == np.uint8 and small.ndim == 3 and small.shape[2] == 3
    assert small.shape[0] > NUM_CLASSES * 32 and small.shape[1] > (NUM_CLASSES + 1) * 32
    # Cells scale with `cell`; the labels and the title do not. The 'unknown' column is one cell wide.
    assert large.shape[0] - small.shape[0] == NUM_CLASSES * 8
    assert large.shape[1] - small.shape[1] == (NUM_CLASSES + 1) * 8
    assert small.shape[0] == square.shape[0] and small.shape[1] - square.shape[1] == 32
    assert sorted(path.name for path in tmp_path.iterdir()) == ['large.png', 'small.png', 'square.png']  # no temps
    with pytest.raises(ValueError, match=r'matrix shape \(19, 21\) does not fit 19 class names'):
        confusion_png(np.zeros((NUM_CLASSES, NUM_CLASSES + 2)), CITYSCAPES_CLASSES, tmp_path / 'bad.png')


def test_gallery_png_rows_and_colours(tmp_path: Path) -> None:
    image = np.full((IMAGE_HEIGHT, IMAGE_WIDTH, 3), 200, np.uint8)
    car = np.full((IMAGE_HEIGHT, IMAGE_WIDTH), CITYSCAPES_CLASSES.index('car'), np.uint8)
    ignore = np.full((IMAGE_HEIGHT, IMAGE_WIDTH), IGNORE_INDEX, np.uint8)
    heights = []
    for count in (1, 2, 3):
        gallery_png([(image, car, ignore)] * count, CITYSCAPES_PALETTE, tmp_path / f'{count}.png', panel_width=200)
        heights.append(_decode(tmp_path / f'{count}.png').shape[0])
    assert heights[0] < heights[1] < heights[2] and heights[2] - heights[1] == heights[1] - heights[0]
    assert heights[1] - heights[0] >= 200 * IMAGE_HEIGHT // IMAGE_WIDTH  # a row holds a panel of the image's aspect

    gallery_png([(image, car, ignore), (image, ignore, None)], CITYSCAPES_PALETTE, tmp_path / 'g.png', panel_width=200)
    bgr = _decode(tmp_path / 'g.png')
    height, width = bgr.shape[:2]
    assert width >= 3 * 200
    first_row, last_row = (height - 30) // 2, height - 10
    middle, right = width // 2, width - 100  # centres of the prediction and ground-truth panels
    assert tuple(bgr[first_row, middle]) == CITYSCAPES_PALETTE[13][::-1]  # car prediction in its palette colour
    assert tuple(bgr[first_row, right]) == (0, 0, 0)  # ignore ground truth is black
    assert tuple(bgr[last_row, middle]) == (0, 0, 0)  # ignore prediction is black
    assert tuple(bgr[last_row, right]) == (128, 128, 128)  # no ground truth: grey
    assert tuple(bgr[last_row, 100]) == (200, 200, 200)  # the input itself
    with pytest.raises(ValueError, match='at least one row'):
        gallery_png([], CITYSCAPES_PALETTE, tmp_path / 'empty.png')


def test_format_table() -> None:
    iou = {name: None for name in CITYSCAPES_CLASSES} | {'road': 97.26, 'car': 12.0}
    table = format_table({'baseline': {'iou': iou, 'miou': 54.54},
                          'ours': {'iou': {'road': 98.0}, 'miou': 60.04}}, CITYSCAPES_CLASSES)
    lines = table.splitlines()
    assert len(lines) == 2 + NUM_CLASSES + 1 and table.endswith('\n')
    assert lines[:3] == ['| class         | baseline |     ours |',
                         '| ------------- | -------: | -------: |',
                         '| road          |     97.3 |     98.0 |']
    assert lines[2 + CITYSCAPES_CLASSES.index('car')] == '| car           |     12.0 |        - |'
    assert lines[-1] == '| **mIoU**      | **54.5** | **60.0** |'


# --- evaluate --------------------------------------------------------------------------------------------------------

@pytest.fixture(scope='module')
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Bundle:
    """An untrained SegFormer-B0 bundle at a 64x128 input."""
    return create_untrained_bundle(tmp_path_factory.mktemp('bundle'), height=MODEL_HEIGHT, width=MODEL_WIDTH)


@pytest.fixture(scope='module')
def model(bundle: Bundle) -> SegmentationModel:
    return load_model(bundle)


@pytest.fixture(scope='module')
def images() -> list[np.ndarray]:
    """Five random RGB "camera" images at 96x160 (not the model's 64x128)."""
    rng = np.random.default_rng(3)
    return [rng.integers(0, 256, (IMAGE_HEIGHT, IMAGE_WIDTH, 3), dtype=np.uint8) for _ in range(5)]


@pytest.fixture(scope='module')
def predictions(model: SegmentationModel, images: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
    """`segment`'s labels and confidence of each image at its own size, seen at the model's input."""
    return segment(model.eval(), images, [image.shape[:2] for image in images])


def _dataset(images: list[np.ndarray], labels: list[np.ndarray]) -> list[dict]:
    return [{'image': image, 'label': label, 'name': f'frame_{index}'}
            for index, (image, label) in enumerate(zip(images, labels, strict=True))]


def test_segment_at_the_model_input_size_gives_the_node_labels(bundle: Bundle, model: SegmentationModel,
                                                               images: list[np.ndarray]) -> None:
    """Where the label size is the network's input size, upsampling logits and labels are the same thing: the
    node's labels (the pipeline on the torch backend) come out, so figures measured at that size do not change."""
    small = [cv2.resize(image, (MODEL_WIDTH, MODEL_HEIGHT), interpolation=cv2.INTER_LINEAR) for image in images]
    pipeline = SegmentationPipeline(TorchBackend(bundle, 'cpu'), (MODEL_HEIGHT, MODEL_WIDTH), CITYSCAPES_PALETTE)
    request = OutputRequest(labels=True, color=False, overlay=False, confidence=True)
    results = segment(model.eval(), images, [(MODEL_HEIGHT, MODEL_WIDTH)] * len(images))
    for image, (labels, confidence) in zip(small, results, strict=True):
        node = pipeline.process(image, request)
        np.testing.assert_array_equal(labels, node.labels)
        assert labels.dtype == np.uint8 and confidence.dtype == np.float32


def test_segment_upsamples_logits_not_labels(model: SegmentationModel, images: list[np.ndarray],
                                             predictions: list[tuple[np.ndarray, np.ndarray]]) -> None:
    """At the camera's size the labels come from bilinearly upsampled logits: mostly the nearest-neighbour upsampled
    labels of the network's size, but not everywhere (class borders move)."""
    coarse = segment(model.eval(), images, [(MODEL_HEIGHT, MODEL_WIDTH)] * len(images))
    nearest = [cv2.resize(labels, (IMAGE_WIDTH, IMAGE_HEIGHT), interpolation=cv2.INTER_NEAREST_EXACT)
               for labels, _ in coarse]
    agree = np.mean([np.mean(labels == near) for (labels, _), near in zip(predictions, nearest, strict=True)])
    assert 0.7 < agree < 1.0
    for labels, confidence in predictions:
        assert labels.shape == confidence.shape == (IMAGE_HEIGHT, IMAGE_WIDTH)
        assert confidence.min() >= 1 / NUM_CLASSES - 1e-6 and confidence.max() <= 1.0


def test_segment_with_flip_is_mirror_symmetric(model: SegmentationModel, images: list[np.ndarray]) -> None:
    model.eval()
    mirrored = [image[:, ::-1].copy() for image in images[:2]]
    sizes = [image.shape[:2] for image in images[:2]]
    for (labels, confidence), (mirror_labels, mirror_confidence) in zip(
            segment(model, images[:2], sizes, flip=True), segment(model, mirrored, sizes, flip=True), strict=True):
        np.testing.assert_array_equal(labels, mirror_labels[:, ::-1])
        np.testing.assert_allclose(confidence, mirror_confidence[:, ::-1], atol=1e-5)
    plain = segment(model, images[:1], sizes[:1])[0][1]
    assert not np.allclose(plain, segment(model, images[:1], sizes[:1], flip=True)[0][1])


def test_evaluate_on_its_own_predictions_is_perfect(model: SegmentationModel, images: list[np.ndarray],
                                                    predictions: list[tuple[np.ndarray, np.ndarray]],
                                                    tmp_path: Path) -> None:
    labels = [label.copy() for label, _ in predictions]
    labels[0][:10] = IGNORE_INDEX  # unlabelled pixels are not counted
    present = set(np.unique(np.concatenate([label.ravel() for label in labels]))) - {IGNORE_INDEX}
    assert len(present) >= 3, 'the untrained model should predict several classes on noise'
    model.train()
    results = evaluate(model, _dataset(images, labels), CITYSCAPES_CLASSES, CITYSCAPES_PALETTE, out_dir=tmp_path,
                       gallery=3, batch_size=2, progress=False)
    assert model.training, 'evaluate restores the mode it found'
    assert results['miou'] == pytest.approx(100.0) and results['pixel_accuracy'] == pytest.approx(100.0)
    assert results['images'] == len(images)
    assert list(results['iou']) == list(CITYSCAPES_CLASSES)
    for index, name in enumerate(CITYSCAPES_CLASSES):  # 100 % where present, undefined (None) where absent
        assert results['iou'][name] == (pytest.approx(100.0) if index in present else None)

    metrics = json.loads((tmp_path / 'metrics.json').read_text())
    confusion = np.array(metrics.pop('confusion'))
    assert metrics == json.loads(json.dumps(results))
    assert confusion.shape == (NUM_CLASSES, NUM_CLASSES + 1)
    assert confusion.sum() == len(images) * IMAGE_HEIGHT * IMAGE_WIDTH - 10 * IMAGE_WIDTH
    assert confusion.sum() == np.trace(confusion)
    assert _decode(tmp_path / 'confusion.png').shape[0] > NUM_CLASSES * 32
    one_row = tmp_path / 'one_row.png'
    gallery_png([(images[0], labels[0], labels[0])], CITYSCAPES_PALETTE, one_row)
    gallery = _decode(tmp_path / 'gallery.png')
    assert gallery.shape[1] == _decode(one_row).shape[1]
    assert gallery.shape[0] > 2 * _decode(one_row).shape[0]  # three rows


def test_evaluate_sees_the_images_at_the_input_size_it_is_given(model: SegmentationModel,
                                                                images: list[np.ndarray]) -> None:
    sizes = [image.shape[:2] for image in images]
    labels = [label for label, _ in segment(model.eval(), images, sizes, input_size=(32, 96), flip=True)]
    dataset = _dataset(images, labels)
    assert evaluate(model, dataset, CITYSCAPES_CLASSES, CITYSCAPES_PALETTE, progress=False, input_size=(32, 96),
                    flip=True)['miou'] == pytest.approx(100.0)
    assert evaluate(model, dataset, CITYSCAPES_CLASSES, CITYSCAPES_PALETTE, progress=False)['miou'] < 90.0


def test_evaluate_on_shifted_labels_scores_zero(model: SegmentationModel, images: list[np.ndarray],
                                                predictions: list[tuple[np.ndarray, np.ndarray]]) -> None:
    shifted = [((label.astype(np.int64) + 1) % NUM_CLASSES).astype(np.uint8) for label, _ in predictions]
    results = evaluate(model, _dataset(images, shifted), CITYSCAPES_CLASSES, CITYSCAPES_PALETTE, progress=False)
    assert results['miou'] == 0.0 and results['pixel_accuracy'] == 0.0
    assert all(value in (0.0, None) for value in results['iou'].values())


def test_evaluate_refuses_an_empty_dataset(model: SegmentationModel) -> None:
    with pytest.raises(ValueError, match='empty dataset'):
        evaluate(model, [], CITYSCAPES_CLASSES, CITYSCAPES_PALETTE, progress=False)

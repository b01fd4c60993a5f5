"""rare_class: DAFormer's class probabilities, which images show a class, and the day batches drawn by class."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from night_seg_ros.classes import IGNORE_INDEX
from night_seg_training.batches import Crops, IterationBatches
from night_seg_training.datasets import Cityscapes
from night_seg_training.rare_class import RareClassError, label_pixel_counts, rare_class_sampler


def _labelled(labels: list[np.ndarray]) -> list[dict[str, np.ndarray]]:
    """In-memory day items {'image': uint8 (H, W, 3), 'label': uint8 (H, W)} with the given labels."""
    return [{'image': np.full(label.shape + (3,), 40 * index % 256, np.uint8), 'label': label}
            for index, label in enumerate(labels)]


def _street(rare_columns: int, height: int = 64, width: int = 128) -> np.ndarray:
    """uint8 (height, width): road (0) below, sky (10) above, and `rare_columns` columns of pole (5) at the right."""
    label = np.zeros((height, width), np.uint8)
    label[:height // 2] = 10
    label[:, width - rare_columns:] = 5
    return label


def test_probabilities_are_the_softmax_of_one_minus_the_pixel_share() -> None:
    counts = np.array([[60, 0, 30, 10], [40, 0, 50, 0]], np.int64)  # class 1 never occurs
    sampler = rare_class_sampler(counts, temperature=0.5, min_share=0.05)
    share = np.array([100, 80, 10]) / 190  # classes 0, 2, 3
    expected = np.exp((1 - share) / 0.5) / np.exp((1 - share) / 0.5).sum()
    assert sampler.classes.tolist() == [0, 2, 3]
    np.testing.assert_allclose(sampler.probabilities, expected)
    assert [images.tolist() for images in sampler.images] == [[0, 1], [0, 1], [0]]


def test_an_image_shows_a_class_only_above_the_share_and_unshown_classes_are_never_drawn() -> None:
    counts = np.array([[995, 5], [990, 10]], np.int64)
    sampler = rare_class_sampler(counts, temperature=0.01, min_share=0.008)
    assert sampler.images[sampler.classes.tolist().index(1)].tolist() == [1]  # 5 of 1000 is under 0.8 %
    sampler = rare_class_sampler(counts, temperature=0.01, min_share=0.02)
    assert sampler.classes.tolist() == [0]
    with pytest.raises(RareClassError, match='no class covers 50.00% of any of the 2 labelled images'):
        rare_class_sampler(np.zeros((2, 3), np.int64), 0.01, 0.5)


def test_draws_follow_the_probabilities_and_pick_images_that_show_the_class() -> None:
    counts = np.array([[900, 100], [1000, 0], [800, 200]], np.int64)
    sampler = rare_class_sampler(counts, temperature=0.2, min_share=0.01)
    rng = np.random.default_rng(0)
    draws = [sampler.draw(rng) for _ in range(4000)]
    rare = [image for train_id, image in draws if train_id == 1]
    assert len(rare) / len(draws) == pytest.approx(sampler.probabilities[1], abs=0.03)
    assert set(rare) == {0, 2}
    assert {image for train_id, image in draws if train_id == 0} == {0, 1, 2}


def test_label_pixel_counts_reads_only_the_labels_of_a_file_dataset(tmp_path) -> None:
    labels = [_street(4), _street(0)]
    labels[1][0, 0] = IGNORE_INDEX  # not counted
    for index, label in enumerate(labels):
        stem = f'aachen_{index:06d}_000019'
        for folder, suffix, array in (('leftImg8bit', 'leftImg8bit', np.zeros(label.shape + (3,), np.uint8)),
                                      ('gtFine', 'gtFine_labelTrainIds', label)):
            path = tmp_path / folder / 'train' / 'aachen' / f'{stem}_{suffix}.png'
            path.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(path), array)
    dataset = Cityscapes(tmp_path, 'train')
    counts = label_pixel_counts(dataset, 19)
    assert counts.shape == (2, 19)
    assert counts[0, 5] == 4 * 64 and counts[1, 5] == 0
    assert counts[1].sum() == 64 * 128 - 1
    assert counts[0, 0] + counts[0, 10] + counts[0, 5] == 64 * 128


def test_unlabelled_items_are_refused() -> None:
    with pytest.raises(RareClassError, match='item 0 has no label'):
        label_pixel_counts([{'image': np.zeros((4, 4, 3), np.uint8)}], 19)


def test_day_batches_drawn_by_class_show_the_rare_class_more_often_and_repeat_exactly() -> None:
    """Ten street images, one with a thin pole at the right edge: by class, the crops show it far more often."""
    items = _labelled([_street(6 if index == 3 else 0) for index in range(10)])
    sampler = rare_class_sampler(label_pixel_counts(items, 19), temperature=0.01, min_share=0.0015)
    assert sampler.classes.tolist() == [0, 5, 10]

    def pole_crops(batches: IterationBatches) -> int:
        return sum(int((batches[iteration]['source']['label'] == 5).any(dim=(1, 2)).sum()) for iteration in range(40))

    arguments = dict(crops=Crops(64, (1.0, 1.0), (32, 64)), batch_size=4, seed=0)
    uniform = pole_crops(IterationBatches(items, **arguments))
    by_class = IterationBatches(items, source_sampler=sampler, **arguments)
    rare = pole_crops(by_class)
    assert rare > 60 > 10 > uniform  # P(pole) is about 1 with T 0.01, and a crop is redrawn until it shows it
    first, again = by_class[7]['source'], by_class[7]['source']
    assert all(np.array_equal(first[key].numpy(), again[key].numpy()) for key in ('image', 'label'))

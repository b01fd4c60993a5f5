"""experiments/own_drives/table.py: the mIoU over classes with ground truth, from an evaluation's confusion matrix."""
from __future__ import annotations

import pytest

from experiments.own_drives.table import present_miou


def test_present_miou_leaves_out_a_class_predicted_without_ground_truth_and_names_it() -> None:
    # rows: truth road, car, bus (none); columns: predicted road, car, bus, ignored
    metrics = {'confusion': [[90, 0, 10, 0], [5, 5, 0, 0], [0, 0, 0, 0]],
               'iou': {'road': 100 * 90 / 105, 'car': 100 * 5 / 10, 'bus': 0.0}}
    miou, absent = present_miou(metrics)
    assert miou == pytest.approx((100 * 90 / 105 + 50.0) / 2)
    assert absent == ['bus']
    metrics['iou']['bus'] = None  # neither in the truth nor predicted: the standard mIoU leaves it out too
    assert present_miou(metrics)[1] == []

"""The class map the node publishes (vision_msgs/LabelInfo): every id its labels image can hold has a name."""
from night_seg_ros.classes import CITYSCAPES_CLASSES, IGNORE_INDEX, label_map


def test_label_map_names_every_class_and_255_unknown():
    entries = label_map(CITYSCAPES_CLASSES)
    assert entries[:2] == [(0, 'road'), (1, 'sidewalk')] and len(entries) == len(CITYSCAPES_CLASSES) + 1
    assert entries[-1] == (IGNORE_INDEX, 'unknown') == (255, 'unknown')

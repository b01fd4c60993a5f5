"""The 19 Cityscapes train-id classes and their standard palette (RGB), the label space of every bundled model."""
from __future__ import annotations

from collections.abc import Sequence

CITYSCAPES_CLASSES: tuple[str, ...] = (
    'road', 'sidewalk', 'building', 'wall', 'fence', 'pole', 'traffic light', 'traffic sign', 'vegetation', 'terrain',
    'sky', 'person', 'rider', 'car', 'truck', 'bus', 'train', 'motorcycle', 'bicycle',
)

CITYSCAPES_PALETTE: tuple[tuple[int, int, int], ...] = (
    (128, 64, 128), (244, 35, 232), (70, 70, 70), (102, 102, 156), (190, 153, 153), (153, 153, 153),
    (250, 170, 30), (220, 220, 0), (107, 142, 35), (152, 251, 152), (70, 130, 180), (220, 20, 60),
    (255, 0, 0), (0, 0, 142), (0, 0, 70), (0, 60, 100), (0, 80, 100), (0, 0, 230), (119, 11, 32),
)

IGNORE_INDEX = 255
"""Label id meaning 'no class': unlabelled ground truth, and node output pixels below the confidence threshold."""
IGNORE_NAME = 'unknown'
"""What label IGNORE_INDEX is called where the class names are published (vision_msgs/LabelInfo)."""


def label_map(classes: Sequence[str]) -> list[tuple[int, str]]:
    """(label id, name) of every id the labels image can hold: the model's classes in id order, then IGNORE_INDEX."""
    return [*enumerate(classes), (IGNORE_INDEX, IGNORE_NAME)]


def generated_palette(num_classes: int) -> list[tuple[int, int, int]]:
    """Distinct RGB colours for a label set without a published palette (the PASCAL VOC bit-interleaving scheme)."""
    palette = []
    for index in range(num_classes):
        red = green = blue = 0
        value = index
        for bit in range(8):
            red |= ((value >> 0) & 1) << (7 - bit)
            green |= ((value >> 1) & 1) << (7 - bit)
            blue |= ((value >> 2) & 1) << (7 - bit)
            value >>= 3
        palette.append((red, green, blue))
    return palette

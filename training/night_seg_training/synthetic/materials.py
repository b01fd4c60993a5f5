"""Materials of the synthetic world: Cityscapes label ids, day albedo palettes and night light colours (linear RGB).

Every colour is linear RGB float32 converted from sRGB 0..255 (`linear`, gamma 2.2), never the Cityscapes palette.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from night_seg_ros.classes import CITYSCAPES_CLASSES

_ID = {name: index for index, name in enumerate(CITYSCAPES_CLASSES)}
ROAD, SIDEWALK, BUILDING, WALL, FENCE = (_ID[name] for name in ('road', 'sidewalk', 'building', 'wall', 'fence'))
POLE, TRAFFIC_LIGHT, TRAFFIC_SIGN = _ID['pole'], _ID['traffic light'], _ID['traffic sign']
VEGETATION, TERRAIN, SKY, PERSON, RIDER = (_ID[name] for name in ('vegetation', 'terrain', 'sky', 'person', 'rider'))
CAR, TRUCK, BUS, MOTORCYCLE, BICYCLE = (_ID[name] for name in ('car', 'truck', 'bus', 'motorcycle', 'bicycle'))


def linear(rgb: Sequence[float]) -> np.ndarray:
    """sRGB 0..255 -> linear RGB float32 (3,) (gamma 2.2)."""
    return (np.asarray(rgb, np.float32) / 255.0) ** 2.2


# Day albedo palettes and colours, linear RGB from sRGB 0..255 (never the Cityscapes palette).
FACADE_COLOURS = linear(((196, 178, 150), (172, 98, 74), (150, 150, 146), (222, 214, 196), (214, 190, 140),
                        (120, 86, 70), (182, 172, 160), (200, 160, 118), (140, 150, 160), (230, 226, 214),
                        (160, 120, 96)))
PAVING_COLOURS = linear(((150, 146, 138), (160, 140, 126), (128, 128, 126), (170, 164, 150)))
GRASS_COLOURS = linear(((74, 104, 42), (92, 112, 46), (62, 92, 46), (110, 116, 62)))
BARK_COLOURS = linear(((70, 54, 38), (58, 50, 42), (84, 62, 44)))
LEAF_COLOURS = linear(((46, 82, 32), (62, 96, 36), (38, 68, 32), (78, 102, 42), (56, 76, 30)))
POLE_COLOURS = linear(((112, 114, 112), (52, 58, 52), (44, 44, 46), (92, 96, 104)))
WALL_COLOURS = linear(((160, 156, 146), (150, 92, 72), (128, 124, 118), (190, 180, 160)))
FENCE_COLOURS = linear(((60, 70, 60), (120, 92, 62), (140, 142, 144), (40, 40, 40)))
CAR_COLOURS = linear(((232, 232, 232), (172, 174, 178), (110, 112, 116), (26, 26, 30), (32, 46, 92), (150, 26, 26),
                     (44, 84, 150), (190, 176, 140), (34, 62, 42), (90, 60, 40)))
BUS_COLOURS = linear(((226, 190, 40), (230, 230, 226), (180, 40, 36), (40, 90, 160), (60, 140, 80)))
CARGO_COLOURS = linear(((230, 230, 226), (190, 192, 196), (70, 90, 130)))
CLOTH_COLOURS = linear(((30, 30, 34), (50, 52, 70), (120, 30, 30), (200, 200, 196), (60, 80, 110), (140, 110, 80),
                       (80, 90, 60), (170, 150, 120), (40, 40, 40), (190, 80, 40)))
SKIN_COLOURS = linear(((235, 200, 170), (200, 150, 110), (150, 100, 70), (100, 70, 50)))
TYRE, GLASS, PAINT, KERB = linear((20, 20, 22)), linear((22, 26, 32)), linear((226, 226, 220)), linear((172, 170, 162))
LAMP_HEAD, LIGHT_OFF, SIGN_BACK = linear((200, 200, 190)), linear((60, 60, 56)), linear((130, 132, 134))
RED, WHITE, BLUE, YELLOW = linear((190, 30, 30)), linear((235, 235, 230)), linear((30, 70, 160)), linear((240, 190, 30))
HOUSINGS = linear(((36, 38, 36), (190, 160, 40)))
HEADLAMP, TAIL_LAMP, DISPLAY = linear((205, 205, 200)), linear((150, 24, 22)), linear((40, 30, 20))
CURTAIN = linear((170, 160, 140))


# Night light colours (linear RGB, unit peak): street-lamp options with their probabilities, windows, head lights.
LAMP_COLOURS = (((1.0, 0.52, 0.16), 0.45), ((0.74, 0.87, 1.0), 0.35), ((1.0, 0.80, 0.55), 0.20))
WINDOW_WARM = np.array((1.0, 0.6, 0.25), np.float32)
WINDOW_COLD = np.array((0.62, 0.75, 1.0), np.float32)
HEADLIGHT = np.array((1.0, 0.96, 0.88), np.float32)
TAIL_GLOW = (5.0, 0.22, 0.08)


def read_only(array: np.ndarray) -> np.ndarray:
    """`array`, made read-only (cached tables are shared between images)."""
    array.setflags(write=False)
    return array


def pick(rng: np.random.Generator, palette: np.ndarray, jitter: float = 0.1) -> np.ndarray:
    """A random row of a linear RGB palette float32 (K, 3), scaled by a random 1 +- jitter."""
    return palette[int(rng.random() * len(palette))] * np.float32(1 + jitter * (2 * rng.random() - 1))

"""render.resize_nearest against OpenCV's INTER_NEAREST_EXACT, which every output's upsampling must equal."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from night_seg_ros.render import resize_nearest


@pytest.mark.parametrize('small', [(64, 128), (384, 768), (37, 53), (1, 1)])
@pytest.mark.parametrize('size', [(1080, 1920), (480, 640), (20, 30), (64, 128), (7, 1000)])
@pytest.mark.parametrize('channels', [(), (3,)])
def test_equals_opencv_nearest_exact(small: tuple[int, int], size: tuple[int, int], channels: tuple[int, ...]) -> None:
    source = np.random.default_rng(sum(small) + sum(size)).integers(0, 256, (*small, *channels), dtype=np.uint8)
    dst = np.empty((*size, *channels), np.uint8)
    returned = resize_nearest(source, dst)
    assert returned is dst
    np.testing.assert_array_equal(dst, cv2.resize(source, size[::-1], interpolation=cv2.INTER_NEAREST_EXACT))

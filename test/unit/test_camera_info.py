"""CameraInfo scaled to the outputs' size, and the topic it is read from."""
from __future__ import annotations

import pytest
from sensor_msgs.msg import CameraInfo, RegionOfInterest

from night_seg_ros.camera_info import camera_info_topic, scale_camera_info


@pytest.mark.parametrize(('image', 'transport', 'expected'), [
    ('/camera/image_raw', 'raw', '/camera/camera_info'),
    ('/camera/image_raw/compressed', 'compressed', '/camera/camera_info'),
    ('/image', 'raw', '/camera_info'),
    ('/robot1/front/image_rect', 'raw', '/robot1/front/camera_info'),
])
def test_camera_info_sits_beside_the_image_topic(image: str, transport: str, expected: str) -> None:
    assert camera_info_topic(image, transport) == expected


def test_scaling_moves_focal_lengths_principal_point_and_roi_and_keeps_the_rest() -> None:
    info = CameraInfo(height=1080, width=1920, distortion_model='plumb_bob', d=[-0.3, 0.1, 0.0, 0.0, 0.0],
                      k=[1000.0, 0.0, 960.0, 0.0, 1010.0, 540.0, 0.0, 0.0, 1.0],
                      r=[1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0],
                      p=[1000.0, 0.0, 960.0, -50.0, 0.0, 1010.0, 540.0, 0.0, 0.0, 0.0, 1.0, 0.0],
                      roi=RegionOfInterest(x_offset=100, y_offset=50, width=1600, height=900))
    scaled = scale_camera_info(info, (384, 768))
    sx, sy = 768 / 1920, 384 / 1080
    assert (scaled.height, scaled.width) == (384, 768)
    assert list(scaled.k) == pytest.approx([1000 * sx, 0, 960 * sx, 0, 1010 * sy, 540 * sy, 0, 0, 1])
    assert list(scaled.p) == pytest.approx([1000 * sx, 0, 960 * sx, -50 * sx, 0, 1010 * sy, 540 * sy, 0, 0, 0, 1, 0])
    assert (scaled.roi.x_offset, scaled.roi.y_offset, scaled.roi.width, scaled.roi.height) == (40, 18, 640, 320)
    assert list(scaled.d) == list(info.d) and list(scaled.r) == list(info.r)
    assert scaled.distortion_model == 'plumb_bob'
    assert (info.width, info.k[0]) == (1920, 1000.0)  # the camera's own message is not changed


def test_an_uncalibrated_camera_info_gets_the_size_only() -> None:
    scaled = scale_camera_info(CameraInfo(), (64, 128))
    assert (scaled.height, scaled.width) == (64, 128) and list(scaled.k) == [0.0] * 9

"""The camera's CameraInfo for images of another size, as image_proc's resize scales it; and where it is published.

Importable without rclpy (it needs the sensor_msgs message class only through the message it is given).
"""
from __future__ import annotations

import copy
from typing import Any


def camera_info_topic(image_topic: str, transport: str) -> str:
    """The CameraInfo topic beside a resolved image topic: `/cam/image_raw` (raw) or `/cam/image_raw/compressed`
    (compressed) -> `/cam/camera_info`, as image_transport's CameraSubscriber pairs them."""
    base = image_topic.rsplit('/', 1)[0] if transport == 'compressed' else image_topic
    namespace = base.rsplit('/', 1)[0]
    return f'{namespace}/camera_info'


def scale_camera_info(info: Any, size: tuple[int, int]) -> Any:
    """A copy of sensor_msgs/CameraInfo `info` for images of size = (height, width) made by resizing its images.

    The scale is size over the info's own width and height (x and y apart: the network's input may squash the
    aspect): the focal lengths and principal point in K and P, and the region of interest, scale with it;
    distortion D, rectification R and P's translation column (fx * baseline, scaled with fx) follow image_proc's
    resize. Binning is kept. A CameraInfo with zero width or height (uncalibrated) is copied with the new size only.
    """
    height, width = size
    scaled = copy.deepcopy(info)
    scaled.height, scaled.width = height, width
    if not info.width or not info.height:
        return scaled
    scale_x, scale_y = width / info.width, height / info.height
    k = list(info.k)
    k[0], k[2] = k[0] * scale_x, k[2] * scale_x
    k[4], k[5] = k[4] * scale_y, k[5] * scale_y
    scaled.k = k
    p = list(info.p)
    p[0], p[2], p[3] = p[0] * scale_x, p[2] * scale_x, p[3] * scale_x
    p[5], p[6], p[7] = p[5] * scale_y, p[6] * scale_y, p[7] * scale_y
    scaled.p = p
    roi = scaled.roi
    roi.x_offset, roi.width = round(roi.x_offset * scale_x), round(roi.width * scale_x)
    roi.y_offset, roi.height = round(roi.y_offset * scale_y), round(roi.height * scale_y)
    return scaled

"""Frames for INT8 calibration and engine verification: from a folder of images or a rosbag2 recording.

Frames come out as uint8 (height, width, 3) RGB at the model's input size, resized the way the node resizes camera
frames (bilinear), evenly spaced over the source so a long drive is sampled from start to end (`evenly_spaced`, which
also picks the bag tool's contact-sheet rows). Bags are read through `bag_io` (sqlite3 or mcap; sensor_msgs/Image and
sensor_msgs/CompressedImage), without a ROS 2 installation.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from night_seg_ros.codec import ImageDecodeError
from night_seg_ros.drives import bag_io
from night_seg_ros.errors import NightSegError

IMAGE_SUFFIXES = ('.png', '.jpg', '.jpeg', '.bmp', '.ppm', '.tif', '.tiff')
BAG_SUFFIXES = ('.mcap', '.db3')


class FrameSourceError(NightSegError, ValueError):
    """A folder or bag gives no frames (missing, empty, not images); the message names it and what is allowed."""


def evenly_spaced(count: int, limit: int) -> list[int]:
    """Indices of at most `limit` items spread evenly over `count` items (first and last included), ascending."""
    if count <= limit:
        return list(range(count))
    return sorted({int(round(i)) for i in np.linspace(0, count - 1, limit)})


def _fit(rgb: np.ndarray, height: int, width: int) -> np.ndarray:
    """`rgb` resized to height x width as the node does it (bilinear), uint8 (height, width, 3)."""
    if rgb.shape[:2] == (height, width):
        return np.ascontiguousarray(rgb)
    return cv2.resize(rgb, (width, height), interpolation=cv2.INTER_LINEAR)


def is_bag(path: Path) -> bool:
    """Whether `path` is a rosbag2 recording: a folder with metadata.yaml, or an .mcap / .db3 file."""
    return (path.is_dir() and (path / 'metadata.yaml').is_file()) or path.suffix in BAG_SUFFIXES


def folder_frames(folder: Path, height: int, width: int, limit: int) -> list[np.ndarray]:
    """Up to `limit` images of `folder` (sorted by name, evenly spaced), as uint8 (height, width, 3) RGB.

    Raises FrameSourceError when the folder has no readable image.
    """
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    frames = []
    for index in evenly_spaced(len(paths), limit):
        bgr = cv2.imread(str(paths[index]), cv2.IMREAD_COLOR)
        if bgr is not None:
            frames.append(_fit(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), height, width))
    if not frames:
        raise FrameSourceError(f'{folder} has no readable image ({", ".join(IMAGE_SUFFIXES)})')
    return frames


def bag_frames(bag: Path, height: int, width: int, limit: int, topic: str | None = None,
               option: str = '--topic') -> list[np.ndarray]:
    """Up to `limit` image messages of rosbag2 `bag` (evenly spaced in time), as uint8 (height, width, 3) RGB.

    bag: the recording's folder or its .mcap / .db3 file. topic: the image topic to read; None takes the only
    Image/CompressedImage topic there is; option: the command-line option that names it, for the message. Messages the
    codec cannot decode are skipped. Raises bag_io.BagError naming the bag's topics when `topic` is ambiguous, absent
    or not an image, and FrameSourceError when no message of it decodes.
    """
    with bag_io.open_reader(bag.parent if bag.is_file() else bag) as reader:
        connection = bag_io.find_connection(reader, topic, bag_io.IMAGE_TYPES, option=option)
        wanted = set(evenly_spaced(connection.msgcount, limit))
        frames = []
        for index, (_conn, _stamp, raw) in enumerate(reader.messages(connections=[connection])):
            if index in wanted:
                try:
                    msg = bag_io.deserialize(raw, connection.msgtype)
                    frames.append(_fit(bag_io.decode_rgb(msg, connection.msgtype), height, width))
                except (bag_io.BagError, ImageDecodeError):
                    continue
    if not frames:
        raise FrameSourceError(f'{bag}: topic {connection.topic} has no decodable image')
    return frames


def load_frames(source: str | Path, height: int, width: int, limit: int, topic: str | None = None,
                option: str = '--topic') -> list[np.ndarray]:
    """Frames from `source`, a folder of images or a rosbag2 bag; see `folder_frames` and `bag_frames`.

    Raises FrameSourceError (or bag_io.BagError), both NightSegError and ValueError, naming what is wrong.
    """
    path = Path(source).expanduser()
    if not path.exists():
        raise FrameSourceError(f'calibration source {path} does not exist; give a folder of images or a rosbag2 bag')
    if limit < 1:
        raise FrameSourceError(f'frame limit must be >= 1; got {limit}')
    if is_bag(path):
        return bag_frames(path, height, width, limit, topic, option)
    if path.is_dir():
        return folder_frames(path, height, width, limit)
    raise FrameSourceError(f'calibration source {path} is neither a folder of images nor a rosbag2 bag '
                     '(a folder with metadata.yaml, or an .mcap / .db3 file)')

"""Calibration and verification frames from an image folder and from a real rosbag2 bag written with rosbags."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from night_seg_ros.drives.frames import evenly_spaced, load_frames

HEIGHT, WIDTH = 64, 128


def solid(value: int, height: int = 48, width: int = 96) -> np.ndarray:
    """uint8 (height, width, 3) RGB image whose red channel is `value` (identifies the frame after resizing)."""
    image = np.zeros((height, width, 3), np.uint8)
    image[..., 0] = value
    return image


def test_evenly_spaced_keeps_first_and_last() -> None:
    assert evenly_spaced(10, 3) == [0, 4, 9]  # 4.5 rounds to even
    assert evenly_spaced(2, 5) == [0, 1]


def test_folder_frames_are_rgb_at_the_input_size_and_spread_over_the_folder(tmp_path: Path) -> None:
    for index in range(5):
        cv2.imwrite(str(tmp_path / f'frame_{index}.png'), cv2.cvtColor(solid(10 * index), cv2.COLOR_RGB2BGR))
    (tmp_path / 'notes.txt').write_text('not an image')
    frames = load_frames(tmp_path, HEIGHT, WIDTH, limit=3)
    assert [frame.shape for frame in frames] == [(HEIGHT, WIDTH, 3)] * 3
    assert [int(frame[0, 0, 0]) for frame in frames] == [0, 20, 40]


def write_bag(path: Path) -> None:
    """A rosbag2 (sqlite3) with 4 rgb8 Images on /cam/image and 2 JPEG CompressedImages on /cam/image/compressed."""
    from rosbags.rosbag2 import Writer
    from rosbags.typesys import Stores, get_typestore

    store = get_typestore(Stores.ROS2_HUMBLE)
    types = store.types
    header = types['std_msgs/msg/Header'](stamp=types['builtin_interfaces/msg/Time'](sec=1, nanosec=0),
                                          frame_id='camera')
    image_type, compressed_type = 'sensor_msgs/msg/Image', 'sensor_msgs/msg/CompressedImage'
    with Writer(path, version=9) as writer:
        raw = writer.add_connection('/cam/image', image_type, typestore=store)
        compressed = writer.add_connection('/cam/image/compressed', compressed_type, typestore=store)
        for index in range(4):
            image = solid(50 * index)
            message = types[image_type](header=header, height=48, width=96, encoding='rgb8', is_bigendian=0,
                                        step=96 * 3, data=image.reshape(-1))
            writer.write(raw, 1_000_000_000 + index, store.serialize_cdr(message, image_type))
        for index in range(2):
            jpeg = cv2.imencode('.jpg', cv2.cvtColor(solid(200), cv2.COLOR_RGB2BGR))[1].reshape(-1)
            message = types[compressed_type](header=header, format='jpeg', data=jpeg)
            writer.write(compressed, 2_000_000_000 + index, store.serialize_cdr(message, compressed_type))


@pytest.fixture(scope='module')
def bag(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp('bag') / 'drive'
    write_bag(path)
    return path


def test_bag_frames_come_from_the_chosen_topic(bag: Path) -> None:
    frames = load_frames(bag, HEIGHT, WIDTH, limit=2, topic='/cam/image')
    assert [frame.shape for frame in frames] == [(HEIGHT, WIDTH, 3)] * 2
    assert [int(frame[0, 0, 0]) for frame in frames] == [0, 150]
    jpeg = load_frames(bag, HEIGHT, WIDTH, limit=8, topic='/cam/image/compressed')
    assert len(jpeg) == 2 and abs(int(jpeg[0][10, 10, 0]) - 200) <= 3


@pytest.mark.parametrize(('topic', 'match'), [
    (None, r'the bag has 2 topics of type .*; choose one with --topic\. Topics: /cam/image \(.*\), /cam/image/comp'),
    ('/front/image', r'topic /front/image is not in the bag; topics: /cam/image \(.*\), /cam/image/compressed'),
])
def test_bag_topic_must_be_unambiguous(bag: Path, topic: str | None, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        load_frames(bag, HEIGHT, WIDTH, limit=2, topic=topic)


def test_the_bags_storage_file_works_like_its_folder(bag: Path) -> None:
    storage = next(bag.glob('*.db3'))
    assert len(load_frames(storage, HEIGHT, WIDTH, limit=4, topic='/cam/image')) == 4


@pytest.mark.parametrize(('make', 'match'), [
    (lambda root: root / 'missing', 'does not exist'),
    (lambda root: root, 'has no readable image'),
    (lambda root: (root / 'a.txt').write_text('x') and root / 'a.txt', 'neither a folder of images nor a rosbag2'),
])
def test_bad_sources_are_named(tmp_path: Path, make, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        load_frames(make(tmp_path), HEIGHT, WIDTH, limit=4)


def test_the_topic_message_names_the_commands_option(bag: Path) -> None:
    with pytest.raises(ValueError, match='choose one with --calibration-topic'):
        load_frames(bag, HEIGHT, WIDTH, limit=2, option='--calibration-topic')

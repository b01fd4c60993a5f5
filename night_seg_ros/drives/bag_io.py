"""rosbag2 files without ROS 2: open, write and convert image messages with the `rosbags` library.

Reads what `ros2 bag record` writes on every supported distribution: sqlite3 bags (Humble's metadata version 5 and
later) and mcap bags (Jazzy, Kilted). Writes rosbag2 version 9 (Kilted) bags, mcap by default, which Humble's
`ros2 bag play` cannot open but Jazzy's and Kilted's can (use sqlite3 for older tools).

The sensor_msgs and std_msgs definitions used here are the same on Humble, Jazzy and Kilted, so one typestore
(Kilted's) serialises and deserialises the CDR of all of them. Deserialised messages are plain dataclasses whose
fields match the ROS ones (Image.data is a uint8 numpy array), so `codec` decodes them directly.
"""
from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from night_seg_ros import codec
from night_seg_ros.errors import NightSegError
from night_seg_ros.files import FileFormatError, read_yaml_mapping

IMAGE = 'sensor_msgs/msg/Image'
COMPRESSED_IMAGE = 'sensor_msgs/msg/CompressedImage'
CAMERA_INFO = 'sensor_msgs/msg/CameraInfo'
IMAGE_TYPES = (IMAGE, COMPRESSED_IMAGE)
STORAGES = ('mcap', 'sqlite3')
BAG_VERSION = 9
"""rosbag2 format version of the bags this module writes (Kilted's)."""


class BagError(NightSegError, ValueError):
    """A bag cannot be read or written as asked; the message says what is wrong and what is allowed."""


def _rosbags() -> Any:
    """The rosbags.rosbag2 module, or BagError saying how to install it."""
    if importlib.util.find_spec('rosbags') is None:
        raise BagError('reading and writing bags needs the rosbags package: pip install rosbags '
                       '(or pip install night_seg_ros[bag])')
    import rosbags.rosbag2

    return rosbags.rosbag2


_TYPESTORE = None


def typestore() -> Any:
    """The rosbags typestore of ROS 2 Kilted (sensor_msgs, std_msgs, ... as on Humble and Jazzy), created once."""
    global _TYPESTORE
    if _TYPESTORE is None:
        _rosbags()
        from rosbags.typesys import Stores, get_typestore

        _TYPESTORE = get_typestore(Stores.ROS2_KILTED)
    return _TYPESTORE


@contextmanager
def open_reader(path: str | Path) -> Iterator[Any]:
    """`with open_reader(path) as reader`: an open rosbags Reader of the bag folder `path` (sqlite3 or mcap)."""
    rosbag2 = _rosbags()
    path = Path(path)
    if not (path / 'metadata.yaml').is_file():
        raise BagError(f'{path} is not a rosbag2 folder (no metadata.yaml); give the folder `ros2 bag record` wrote')
    try:
        metadata = read_yaml_mapping(path / 'metadata.yaml', 'bag metadata')
    except FileFormatError as error:
        raise BagError(f'cannot read bag {path}: {error}') from None
    if not isinstance(metadata.get('rosbag2_bagfile_information'), dict):
        raise BagError(f'cannot read bag {path}: its metadata.yaml has no rosbag2_bagfile_information; give the '
                       'folder `ros2 bag record` wrote')
    reader = rosbag2.Reader(path)
    try:
        reader.open()
    except rosbag2.ReaderError as error:
        raise BagError(f'cannot read bag {path}: {error}') from error
    try:
        yield reader
    finally:
        reader.close()


def open_writer(path: str | Path, storage: str = 'mcap') -> Any:
    """An open rosbags Writer of a new bag folder `path` (must not exist) with `storage` 'mcap' or 'sqlite3'."""
    rosbag2 = _rosbags()
    if storage not in STORAGES:
        raise BagError(f'storage {storage!r}; allowed: {", ".join(STORAGES)}')
    path = Path(path)
    if path.exists():
        raise BagError(f'output bag {path} already exists; choose a new folder or remove it')
    path.parent.mkdir(parents=True, exist_ok=True)
    plugin = rosbag2.StoragePlugin.MCAP if storage == 'mcap' else rosbag2.StoragePlugin.SQLITE3
    writer = rosbag2.Writer(path, version=BAG_VERSION, storage_plugin=plugin)
    writer.open()
    return writer


def add_topic(writer: Any, topic: str, msgtype: str) -> Any:
    """Add `topic` of `msgtype` (e.g. IMAGE) to an open writer; returns the connection to write with."""
    return writer.add_connection(topic, msgtype, typestore=typestore())


def find_connection(reader: Any, topic: str | None, msgtypes: tuple[str, ...], exclude: tuple[str, ...] = (),
                    option: str = '--topic') -> Any:
    """The reader's connection on `topic`, or when topic is None the only one of `msgtypes` not on an `exclude`d
    topic; BagError naming the bag's topics (and the command-line `option` that picks one) otherwise."""
    candidates = [conn for conn in reader.connections if conn.msgtype in msgtypes and conn.topic not in exclude]
    listing = ', '.join(f'{conn.topic} ({conn.msgtype})' for conn in reader.connections) or 'none'
    if topic is None:
        if len(candidates) != 1:
            raise BagError(f'the bag has {len(candidates)} topics of type {" or ".join(msgtypes)}; choose one '
                           f'with {option}. Topics: {listing}')
        return candidates[0]
    for conn in reader.connections:
        if conn.topic == topic:
            if conn.msgtype not in msgtypes:
                raise BagError(f'topic {topic} is {conn.msgtype}; allowed: {", ".join(msgtypes)}')
            return conn
    raise BagError(f'topic {topic} is not in the bag; topics: {listing}')


def deserialize(data: bytes | memoryview, msgtype: str) -> Any:
    """A message of `msgtype` from its CDR bytes; BagError when the bytes do not hold one."""
    try:
        return typestore().deserialize_cdr(data, msgtype)
    except Exception as error:  # noqa: BLE001 - rosbags raises assorted errors on truncated or garbled CDR
        raise BagError(f'cannot deserialize {msgtype}: {type(error).__name__}: {error}') from error


def serialize(msg: Any, msgtype: str) -> bytes:
    """CDR bytes of a message of `msgtype` (a typestore message class instance)."""
    return bytes(typestore().serialize_cdr(msg, msgtype))


def decode_rgb(msg: Any, msgtype: str) -> np.ndarray:
    """uint8 (H, W, 3) RGB pixels of a deserialised Image or CompressedImage; codec.ImageDecodeError if malformed."""
    return codec.compressed_to_rgb(msg) if msgtype == COMPRESSED_IMAGE else codec.image_to_rgb(msg)


def header(stamp: int, frame_id: str) -> Any:
    """A std_msgs/Header of `stamp` (nanoseconds) and `frame_id`."""
    types = typestore().types
    time = types['builtin_interfaces/msg/Time'](sec=stamp // 1_000_000_000, nanosec=stamp % 1_000_000_000)
    return types['std_msgs/msg/Header'](stamp=time, frame_id=frame_id)


def image_message(array: np.ndarray, encoding: str, msg_header: Any) -> Any:
    """A sensor_msgs/Image of a uint8 (H, W) / (H, W, 3) or float32 (H, W) array, laid out by codec.image_fields."""
    return typestore().types[IMAGE](header=msg_header, **codec.image_fields(array, encoding))


def compressed_message(bgr: np.ndarray, msg_header: Any, quality: int = 90) -> Any:
    """A sensor_msgs/CompressedImage (format 'jpeg') of a uint8 (H, W, 3) BGR array."""
    import cv2

    ok, encoded = cv2.imencode('.jpg', bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError(f'cv2 could not encode a {bgr.dtype} {bgr.shape} image as JPEG')
    return typestore().types[COMPRESSED_IMAGE](header=msg_header, format='jpeg', data=encoded.reshape(-1))


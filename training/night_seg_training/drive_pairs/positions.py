"""What `night-seg-train pairs` reads from one bag: camera stamps, positions, and (synthetic bags) the true pose.

Positions come from sensor_msgs/NavSatFix (latitude and longitude, degrees; no heading: the track gives it) or
nav_msgs/Odometry (pose x, y in metres and yaw; its frame must be shared by all bags of a dataset, e.g. `map` or a
UTM frame of a localisation stack, not a per-drive `odom`). A fix with status NO_FIX or a NaN coordinate is skipped
and counted. Times are header stamps (the bag's receive time where a header stamp is zero), so camera frames and fixes
are put on one clock by their drivers, not by when the recorder saw them.

A /ground_truth/pose topic (geometry_msgs/PoseStamped, written by the synthetic drive generator) is read only to
measure match precision; it is never a position source.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from night_seg_ros.codec import stamp_ns
from night_seg_ros.drives import bag_io
from night_seg_ros.errors import NightSegError

NAV_SAT_FIX = 'sensor_msgs/msg/NavSatFix'
ODOMETRY = 'nav_msgs/msg/Odometry'
POSE_STAMPED = 'geometry_msgs/msg/PoseStamped'
POSITION_TYPES = (NAV_SAT_FIX, ODOMETRY)
TRUTH_POSE_TOPIC = '/ground_truth/pose'
"""PoseStamped of the true camera pose in a synthetic bag; read for measuring only."""
LABELS_TOPIC = '/ground_truth/labels'
"""mono8 Cityscapes train-id labels of camera frames (matched by header stamp), where a bag has them."""
_NO_FIX = -1  # sensor_msgs/NavSatStatus.STATUS_NO_FIX


class PairsError(NightSegError, ValueError):
    """Pairs cannot be made as asked (bags, topics, options); the message says what is wrong and what is allowed."""


@dataclass(frozen=True, eq=False)
class Positions:
    """Position samples of one bag in time order.

    stamps int64 (P,) ns. coordinates float64 (P, 2): latitude, longitude degrees when `geodetic` (NavSatFix), else
    x, y metres (Odometry). heading float64 (P,) radians counter-clockwise from x / east, or None (NavSatFix).
    """

    topic: str
    msgtype: str
    stamps: np.ndarray
    coordinates: np.ndarray
    heading: np.ndarray | None

    @property
    def geodetic(self) -> bool:
        """Whether the coordinates are latitude and longitude (NavSatFix)."""
        return self.msgtype == NAV_SAT_FIX


@dataclass(eq=False)
class Drive:
    """One bag as pairing sees it.

    camera_topic / camera_type: the image topic and its type (Image or CompressedImage). frame_stamps int64 (F,):
    header stamp of each camera message in bag order (frame n is the n-th message). positions: None when the bag
    has no position topic (image-content matching only). skipped: fixes left out, by reason ('no_fix', 'nan').
    truth_stamps int64 (T,), truth_east_north float64 (T, 2): the true pose (synthetic bags), else empty.
    label_stamps: header stamps of camera frames with a ground-truth label message.
    """

    path: Path
    camera_topic: str
    camera_type: str
    frame_stamps: np.ndarray
    positions: Positions | None
    skipped: dict[str, int] = field(default_factory=lambda: {'no_fix': 0, 'nan': 0})
    truth_stamps: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    truth_east_north: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))
    label_stamps: frozenset[int] = frozenset()


def _stamp(msg: Any, timestamp: int) -> int:
    """Header stamp of `msg` in ns, or the bag `timestamp` where the driver left the stamp zero."""
    stamp = stamp_ns(msg.header)
    return stamp if stamp else timestamp


def _yaw(quaternion: Any) -> float:
    """Rotation about the up axis (radians) of a geometry_msgs/Quaternion."""
    q = quaternion
    return math.atan2(2.0 * (q.w * q.z + q.x * q.y), 1.0 - 2.0 * (q.y * q.y + q.z * q.z))


def _position_sample(msg: Any, msgtype: str) -> tuple[float, float, float] | str:
    """(coordinate 0, coordinate 1, heading or NaN) of a position message, or the reason to skip it."""
    if msgtype == NAV_SAT_FIX:
        if msg.status.status == _NO_FIX:
            return 'no_fix'
        sample = (msg.latitude, msg.longitude, math.nan)
    else:
        pose = msg.pose.pose
        sample = (pose.position.x, pose.position.y, _yaw(pose.orientation))
    return 'nan' if not all(math.isfinite(value) for value in sample[:2]) else sample


def read_drive(path: str | Path, image_topic: str | None = None, position_topic: str | None = None,
               need_positions: bool = True) -> Drive:
    """Read the camera stamps, positions, true poses and label stamps of the bag at `path` (sqlite3 or mcap).

    image_topic / position_topic: the topic to use where the bag has several (None: the only one of its type).
    need_positions False: a bag without any NavSatFix or Odometry topic gives positions None. bag_io.BagError names
    the bag's topics when a topic is missing or ambiguous; PairsError when no fix is usable.
    """
    path = Path(path)
    with bag_io.open_reader(path) as reader:
        try:
            camera = bag_io.find_connection(reader, image_topic, bag_io.IMAGE_TYPES, exclude=(LABELS_TOPIC,),
                                            option='--image-topic')
            has_positions = any(conn.msgtype in POSITION_TYPES for conn in reader.connections)
            position = (bag_io.find_connection(reader, position_topic, POSITION_TYPES, option='--position-topic')
                        if need_positions or position_topic or has_positions else None)
        except bag_io.BagError as error:
            raise bag_io.BagError(f'{path}: {error}') from error
        extra = [conn for conn in reader.connections
                 if (conn.topic, conn.msgtype) in ((TRUTH_POSE_TOPIC, POSE_STAMPED), (LABELS_TOPIC, bag_io.IMAGE))]
        frame_stamps: list[int] = []
        samples: list[tuple[int, float, float, float]] = []
        truth: list[tuple[int, float, float]] = []
        labels: set[int] = set()
        skipped = {'no_fix': 0, 'nan': 0}
        connections = [camera] + ([position] if position is not None else []) + extra
        for connection, timestamp, data in reader.messages(connections=connections):
            msg = bag_io.deserialize(data, connection.msgtype)
            stamp = _stamp(msg, timestamp)
            if connection is camera:
                frame_stamps.append(stamp)
            elif connection is position:
                sample = _position_sample(msg, connection.msgtype)
                if isinstance(sample, str):
                    skipped[sample] += 1
                else:
                    samples.append((stamp, *sample))
            elif connection.msgtype == POSE_STAMPED:
                truth.append((stamp, msg.pose.position.x, msg.pose.position.y))
            else:
                labels.add(stamp)
    positions = None
    if position is not None:
        if not samples:
            raise PairsError(f'{path}: topic {position.topic} has no usable position ({skipped["no_fix"]} fixes with '
                             f'status NO_FIX, {skipped["nan"]} with NaN coordinates); pairing needs positions')
        table = np.array(sorted(samples), np.float64)
        positions = Positions(position.topic, position.msgtype, np.array([s[0] for s in sorted(samples)], np.int64),
                              table[:, 1:3], None if position.msgtype == NAV_SAT_FIX else table[:, 3])
    truth_table = np.array(sorted(truth), np.float64).reshape(-1, 3)
    return Drive(path, camera.topic, camera.msgtype, np.array(frame_stamps, np.int64), positions, skipped,
                 np.array([t[0] for t in sorted(truth)], np.int64), truth_table[:, 1:3], frozenset(labels))

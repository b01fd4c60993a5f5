"""`night-seg-train pairs` on real bag files (mcap and sqlite3, Image and CompressedImage, NavSatFix and Odometry)
written with rosbags, read back through the training data layer; its errors as one line each."""
from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest

pytest.importorskip('rosbags', reason='the bags are written and read with rosbags')

from night_seg_ros.drives import bag_io  # noqa: E402
from night_seg_training.cli import main  # noqa: E402
from night_seg_training.datasets import DarkZurich, OwnDrives  # noqa: E402
from night_seg_training.drive_pairs.positions import NAV_SAT_FIX, ODOMETRY  # noqa: E402
from night_seg_training.geodesy import LocalFrame  # noqa: E402

ORIGIN = LocalFrame(48.1374, 11.5755)
START = 1_800_000_000_000_000_000
HEADING = math.radians(20.0)   # driving 20 degrees north of east


def _shade(frame: int) -> int:
    """The grey level of a frame: tells which frame a written PNG came from."""
    return 20 + (frame * 9) % 220


def write_bag(path: Path, storage: str, camera: str, positions: str | None, along: np.ndarray,
              bad_fixes: dict[int, str] | None = None, camera_every: int = 5) -> None:
    """A drive whose position at 10 Hz is `along` metres along a straight road (heading HEADING); a camera frame
    every `camera_every` samples (grey 16x32, PNG in CompressedImage), fixes with status NO_FIX / NaN at bad_fixes."""
    types = bag_io.typestore().types
    writer = bag_io.open_writer(path, storage)
    image_type = bag_io.IMAGE if camera == 'image' else bag_io.COMPRESSED_IMAGE
    image_conn = bag_io.add_topic(writer, '/cam/image', image_type)
    position_conn = None if positions is None else bag_io.add_topic(
        writer, '/gps/fix' if positions == 'fix' else '/odom', NAV_SAT_FIX if positions == 'fix' else ODOMETRY)
    status_type = types['sensor_msgs/msg/NavSatStatus']
    points = np.stack([along * math.cos(HEADING), along * math.sin(HEADING)], axis=-1)
    latitude, longitude = ORIGIN.to_geodetic(points)
    for sample, stamp in enumerate(START + np.arange(len(along)) * 100_000_000):
        stamp = int(stamp)
        header = bag_io.header(stamp, 'base_link')
        if position_conn is not None and positions == 'fix':
            bad = (bad_fixes or {}).get(sample)
            msg = types[NAV_SAT_FIX](
                header=header, status=status_type(status=-1 if bad == 'no_fix' else 0, service=1),
                latitude=math.nan if bad == 'nan' else float(latitude[sample]), longitude=float(longitude[sample]),
                altitude=500.0, position_covariance=np.zeros(9), position_covariance_type=0)
            writer.write(position_conn, stamp, bag_io.serialize(msg, NAV_SAT_FIX))
        elif position_conn is not None:
            pose = types['geometry_msgs/msg/Pose'](
                position=types['geometry_msgs/msg/Point'](x=float(points[sample, 0]), y=float(points[sample, 1]),
                                                          z=0.0),
                orientation=types['geometry_msgs/msg/Quaternion'](x=0.0, y=0.0, z=math.sin(HEADING / 2),
                                                                  w=math.cos(HEADING / 2)))
            covariance = types['geometry_msgs/msg/PoseWithCovariance'](pose=pose, covariance=np.zeros(36))
            zero = types['geometry_msgs/msg/Vector3'](x=0.0, y=0.0, z=0.0)
            twist = types['geometry_msgs/msg/TwistWithCovariance'](
                twist=types['geometry_msgs/msg/Twist'](linear=zero, angular=zero), covariance=np.zeros(36))
            msg = types[ODOMETRY](header=types['std_msgs/msg/Header'](stamp=header.stamp, frame_id='map'),
                                  child_frame_id='base_link', pose=covariance, twist=twist)
            writer.write(position_conn, stamp, bag_io.serialize(msg, ODOMETRY))
        if sample % camera_every == 0:
            frame = sample // camera_every
            bgr = np.full((16, 32, 3), _shade(frame), np.uint8)
            if camera == 'image':
                msg = bag_io.image_message(bgr, 'bgr8', header)
            else:
                msg = types[bag_io.COMPRESSED_IMAGE](header=header, format='png',
                                                     data=cv2.imencode('.png', bgr)[1].reshape(-1))
            writer.write(image_conn, stamp, bag_io.serialize(msg, image_type))
    writer.close()


def _steady(seconds: float, speed: float) -> np.ndarray:
    return np.arange(int(seconds * 10)) * speed / 10


def test_pairs_from_an_sqlite3_image_day_and_an_mcap_compressed_night(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    write_bag(tmp_path / 'day', 'sqlite3', 'image', 'fix', _steady(25, 5.0))                     # 0-125 m
    # night: 8 s at 6 m/s, 6 s standing, on at 6 m/s to 137 m (past the day drive's end); bad fixes on the way
    night = np.concatenate([_steady(8, 6.0), np.full(60, 48.0), 48.0 + _steady(15, 6.0)])
    bad = {12: 'no_fix', 13: 'no_fix', 14: 'no_fix', 40: 'nan', 41: 'nan'}
    write_bag(tmp_path / 'night', 'mcap', 'compressed', 'fix', night, bad)
    out = tmp_path / 'pairs'
    assert main(['pairs', '--day', str(tmp_path / 'day'), '--night', str(tmp_path / 'night'), '--out', str(out),
                 '--every', '10', '--val-block', '60', '--val-fraction', '0.25', '--no-progress']) == 0
    printed = capsys.readouterr().out
    manifest = json.loads((out / 'manifest.json').read_text())
    night_counts = manifest['bags'][1]
    assert night_counts['skipped_fixes'] == {'no_fix': 3, 'nan': 2}
    assert 8 <= night_counts['standing'] <= 12   # of the 12 frames of the 6 s stop (smoothing eases in and out)
    assert night_counts['sampled'] == 14 and night_counts['unmatched'] == 1  # 0, 10, ..., 130 m; 130 m is past it
    assert 'skipped fixes: 3 NO_FIX, 2 NaN' in printed and f'wrote {out}' in printed
    pairs = manifest['pairs']
    assert len(pairs) == 13 and max(pair['gps_distance_m'] for pair in pairs) < 2.0
    assert {pair['split'] for pair in pairs if 45 <= pair['along_m'] < 60} == {'val'}
    assert {pair['split'] for pair in pairs if pair['along_m'] < 45} == {'train'}
    for pair in pairs:   # the day frame is at the night frame's place: 5 m/s at 2 frames/s -> frame = metres / 2.5
        night_m, day_frame = math.hypot(*pair['night_east_north_m']), int(pair['day'].rsplit('_', 1)[1])
        assert abs(day_frame * 2.5 - night_m) <= 1.25
    train = OwnDrives(out, 'train')
    assert len(train) == sum(pair['split'] == 'train' for pair in pairs) and len(DarkZurich(out, 'train')) == len(train)
    sample = train[1]
    frame = int(sample['name'].rsplit('_', 1)[1])
    assert sample['image'].shape == (16, 32, 3) and abs(int(sample['image'][0, 0, 0]) - _shade(frame)) <= 2
    assert 'label' not in sample and 'reference' in sample
    assert len(OwnDrives(out, 'val')) == sum(pair['split'] == 'val' for pair in pairs)


def test_odometry_gives_position_and_heading(tmp_path: Path) -> None:
    write_bag(tmp_path / 'day', 'mcap', 'image', 'odom', _steady(10, 5.0))
    write_bag(tmp_path / 'night', 'mcap', 'image', 'odom', _steady(8, 6.0))
    out = tmp_path / 'pairs'
    assert main(['pairs', '--day', str(tmp_path / 'day'), '--night', str(tmp_path / 'night'), '--out', str(out),
                 '--every', '6', '--no-progress']) == 0
    manifest = json.loads((out / 'manifest.json').read_text())
    assert manifest['position_kind'] == 'metric' and manifest['origin'] is None
    assert all(abs(pair['night_heading_deg'] - 20.0) < 1e-6 for pair in manifest['pairs'])
    assert len(manifest['pairs']) == 8                                       # frames every 3 m: 0, 6, ..., 42 m


def test_a_bag_without_the_position_topic_is_one_line_naming_its_topics(tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    write_bag(tmp_path / 'day', 'mcap', 'image', 'fix', _steady(2, 5.0))
    write_bag(tmp_path / 'night', 'sqlite3', 'compressed', None, _steady(2, 5.0))
    arguments = ['pairs', '--day', str(tmp_path / 'day'), '--night', str(tmp_path / 'night'), '--no-progress']
    assert main([*arguments, '--out', str(tmp_path / 'pairs')]) == 1
    error = capsys.readouterr().err
    assert error == (f'night-seg-train pairs: error: {tmp_path / "night"}: the bag has 0 topics of type '
                     'sensor_msgs/msg/NavSatFix or nav_msgs/msg/Odometry; choose one with --position-topic. '
                     'Topics: /cam/image (sensor_msgs/msg/CompressedImage)\n')
    assert main([*arguments, '--out', str(tmp_path / 'pairs'), '--image-topic', '/camera']) == 1
    assert 'topic /camera is not in the bag; topics: /cam/image (sensor_msgs/msg/Image)' in capsys.readouterr().err
    assert main([*arguments, '--out', str(tmp_path / 'day')]) == 1
    assert capsys.readouterr().err.endswith(f'would overwrite the input {tmp_path / "day"}; choose another path\n')
    assert not (tmp_path / 'pairs').exists()

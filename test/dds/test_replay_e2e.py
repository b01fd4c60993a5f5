"""Recorded drive -> `night-seg replay` (its own process) -> seg_node (its own process) -> recorder, over real DDS."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

pytest.importorskip('rosbags', reason='replay and the recorder read and write bags with rosbags')

import rclpy  # noqa: E402 - after the skip

from night_seg_ros.codec import image_to_array, stamp_ns  # noqa: E402
from night_seg_ros.drives import bag_io  # noqa: E402
from night_seg_ros.drives.recorder import BagRecorder  # noqa: E402
from night_seg_ros.drives.replay import BagPlayer  # noqa: E402
from night_seg_ros.node_process import NodeProcess  # noqa: E402

NAMESPACE = '/replay_e2e'
HEIGHT, WIDTH = 96, 160
FRAMES = 10
T0 = 1_700_000_000_000_000_000
PERIOD_NS = 100_000_000


pytestmark = pytest.mark.usefixtures('ros_context')


@pytest.fixture(scope='module')
def drive_bag(tmp_path_factory) -> Path:
    """An mcap bag of FRAMES bgr8 frames at 10 Hz on NAMESPACE/image (bag time = header stamp)."""
    path = tmp_path_factory.mktemp('drive') / 'bag'
    writer = bag_io.open_writer(path)
    try:
        connection = bag_io.add_topic(writer, f'{NAMESPACE}/image', bag_io.IMAGE)
        for index in range(FRAMES):
            rng = np.random.default_rng(index)
            bgr = cv2.resize(rng.integers(0, 255, (3, 5, 3), dtype=np.uint8), (WIDTH, HEIGHT))
            stamp = T0 + index * PERIOD_NS
            msg = bag_io.image_message(bgr, 'bgr8', bag_io.header(stamp, 'camera_optical'))
            writer.write(connection, stamp, bag_io.serialize(msg, bag_io.IMAGE))
    finally:
        writer.close()
    return path


def test_replay_keeps_the_recorded_timing_scaled_by_rate(drive_bag):
    node = rclpy.create_node('timing_probe')
    try:
        player = BagPlayer(node, drive_bag)
        start = time.monotonic()
        assert player.play(rate=3.0) == FRAMES
        assert time.monotonic() - start >= 0.95 * (FRAMES - 1) * PERIOD_NS * 1e-9 / 3.0
    finally:
        node.destroy_node()


def test_replay_of_a_missing_topic_names_the_bag_topics(drive_bag):
    node = rclpy.create_node('missing_probe')
    try:
        with pytest.raises(bag_io.BagError, match=f'/nope are not in .* it has: {NAMESPACE}/image'):
            BagPlayer(node, drive_bag, ['/nope'])
    finally:
        node.destroy_node()


def test_replayed_drive_is_segmented_by_the_node_and_recorded(drive_bag, tiny_bundle, tmp_path):
    node = NodeProcess(tmp_path, f'model:={tiny_bundle}', 'backend:=onnxruntime', namespace=NAMESPACE)
    replay = recorder = writer = None
    try:
        node.wait_ready()
        writer = bag_io.open_writer(tmp_path / 'recorded')
        recorder = BagRecorder(writer, {f'{NAMESPACE}/labels': bag_io.IMAGE, f'{NAMESPACE}/overlay': bag_io.IMAGE},
                               name='e2e_recorder')
        deadline = time.monotonic() + 20.0
        while recorder.count_publishers(f'{NAMESPACE}/labels') == 0 and time.monotonic() < deadline:
            rclpy.spin_once(recorder, timeout_sec=0.1)
        replay = subprocess.Popen([sys.executable, '-m', 'night_seg_ros.cli', 'replay', str(drive_bag), '--wait', '20'],
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        tail_end = None
        while tail_end is None or time.monotonic() < tail_end:
            rclpy.spin_once(recorder, timeout_sec=0.05)
            if tail_end is None and replay.poll() is not None:
                tail_end = time.monotonic() + 2.0
        replay_log = replay.stdout.read()
        assert replay.returncode == 0, replay_log
        assert f'published {FRAMES} messages' in replay_log
    finally:
        if replay is not None and replay.poll() is None:
            replay.kill()
            replay.wait(10)
        if recorder is not None:
            recorder.destroy_node()
        if writer is not None:
            writer.close()
        node.kill()

    with bag_io.open_reader(tmp_path / 'recorded') as reader:
        recorded = [(c.topic, bag_io.deserialize(d, c.msgtype)) for c, _, d in reader.messages()]
    labels = [msg for topic, msg in recorded if topic.endswith('/labels')]
    assert labels, f'no labels recorded; seg_node log:\n{node.log()}'
    inputs = {T0 + index * PERIOD_NS for index in range(FRAMES)}
    for msg in labels:
        assert stamp_ns(msg.header) in inputs and msg.header.frame_id == 'camera_optical'
        assert (msg.height, msg.width, msg.encoding) == (HEIGHT, WIDTH, 'mono8')
        assert image_to_array(msg).max() < 19
    assert any(topic.endswith('/overlay') for topic, _ in recorded)

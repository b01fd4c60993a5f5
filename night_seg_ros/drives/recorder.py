"""Record ROS 2 topics into a rosbag2 with rclpy and rosbags, for machines without `ros2 bag record`.

Messages are received as CDR bytes (no deserialisation) and written with their arrival time (the node's clock, ns)
as the bag timestamp, as `ros2 bag record` does. Each subscription matches its publishers' reliability: reliable
when every publisher is reliable, best effort otherwise.
"""
from __future__ import annotations

import functools
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

from night_seg_ros.drives import bag_io
from night_seg_ros.drives.replay import message_class
from night_seg_ros.files import atomic_output

RECORD_QOS_DEPTH = 10


class BagRecorder(Node):
    """A node that writes every message of its topics to an open rosbags writer."""

    def __init__(self, writer: Any, topics: Mapping[str, str], name: str = 'bag_recorder') -> None:
        """Subscribe to each topic -> type name (e.g. 'sensor_msgs/msg/Image') and record into `writer`."""
        super().__init__(name)
        self.writer = writer
        self.counts: Counter[str] = Counter()
        self._connections: dict[str, Any] = {}
        for topic, msgtype in topics.items():
            self.record(topic, msgtype)

    def record(self, topic: str, msgtype: str) -> None:
        """Start recording `topic` of type `msgtype`."""
        best_effort = any(info.qos_profile.reliability == ReliabilityPolicy.BEST_EFFORT
                          for info in self.get_publishers_info_by_topic(topic))
        qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=RECORD_QOS_DEPTH, durability=DurabilityPolicy.VOLATILE,
                         reliability=ReliabilityPolicy.BEST_EFFORT if best_effort else ReliabilityPolicy.RELIABLE)
        self._connections[topic] = bag_io.add_topic(self.writer, topic, msgtype)
        self.create_subscription(message_class(msgtype), topic, lambda data, topic=topic: self._write(topic, data),
                                 qos, raw=True)

    def _write(self, topic: str, data: bytes) -> None:
        self.writer.write(self._connections[topic], self.get_clock().now().nanoseconds, data)
        self.counts[topic] += 1


def discover_types(node: Node, topics: Sequence[str], timeout: float,
                   should_stop: Callable[[], bool] = lambda: False) -> dict[str, str]:
    """topic -> type name of each of `topics` as seen on the graph; waits up to `timeout` s for all to appear.

    When `should_stop()` turns true first, returns the topics found so far."""
    deadline = time.monotonic() + timeout
    while True:
        found = {name: types[0] for name, types in node.get_topic_names_and_types() if name in topics}
        missing = [topic for topic in topics if topic not in found]
        if not missing or should_stop():
            return found
        if time.monotonic() > deadline:
            raise bag_io.BagError(f'no publisher of {", ".join(missing)} appeared within {timeout:g} s; '
                                  'start it first, or check the topic names and ROS_DOMAIN_ID')
        time.sleep(0.1)


def run_recorder(output: str | Path, topics: Sequence[str], duration: float | None = None, storage: str = 'mcap',
                 discovery_timeout: float = 10.0, args: list[str] | None = None, force: bool = False) -> int:
    """`night-seg record`: record `topics` into the new bag `output` until Ctrl-C or `duration` seconds.

    The bag is written aside and moved to `output` when recording ends (`files.atomic_output`; with `force` it then
    replaces an existing `output`); an error while recording leaves nothing there."""
    import rclpy

    from night_seg_ros.ros_process import ended, ros_session

    with ros_session(args) as stop:
        done = functools.partial(ended, stop)
        probe = rclpy.create_node('bag_recorder_discovery')
        try:
            types = discover_types(probe, topics, discovery_timeout, should_stop=done)
        finally:
            probe.destroy_node()
        if done():
            return 0
        with atomic_output(output, force, 'output bag') as staged:
            writer = bag_io.open_writer(staged, storage)
            node = None
            try:
                node = BagRecorder(writer, types)
                print(f'recording {", ".join(topics)} into {output} (Ctrl-C stops)', flush=True)
                deadline = None if duration is None else time.monotonic() + duration
                try:
                    while not done() and (deadline is None or time.monotonic() < deadline):
                        rclpy.spin_once(node, timeout_sec=0.1)
                except Exception:
                    if not done():
                        raise  # else Ctrl-C shut the context down under spin_once: the recording ends as asked
            finally:
                if node is not None:
                    node.destroy_node()
                writer.close()
        counts = node.counts
        print(f'wrote {output}: ' + ', '.join(f'{topic} {counts.get(topic, 0)}' for topic in topics), flush=True)
    return 0

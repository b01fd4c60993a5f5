"""Replay a rosbag2 into a live ROS 2 graph with its original timing, for machines without `ros2 bag play`.

Messages are published as their recorded CDR bytes (no deserialisation, exactly what was recorded: headers and
stamps unchanged), each at its recorded bag time scaled by 1 / rate. Publishers are reliable (they also serve
best-effort subscribers), depth 10, volatile. The Fast DDS large-image profile is used for this process's
participant, so large best-effort images reach other processes.
"""
from __future__ import annotations

import functools
import importlib
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from night_seg_ros.drives import bag_io

REPLAY_QOS_DEPTH = 10


def message_class(msgtype: str) -> type:
    """The rclpy message class of a type name such as 'sensor_msgs/msg/Image'; BagError when it is not installed."""
    package, _, name = msgtype.partition('/msg/')
    try:
        return getattr(importlib.import_module(f'{package}.msg'), name)
    except (ImportError, AttributeError) as error:
        raise bag_io.BagError(f'message type {msgtype} is not installed ({error}); install its ROS 2 package or '
                              'replay only other topics with --topics') from error


class BagPlayer:
    """Publishes a bag's messages on `node`, one publisher per replayed topic."""

    def __init__(self, node: Any, bag: str | Path, topics: Sequence[str] | None = None) -> None:
        """Open `bag` and create the publishers; BagError when a requested topic is not in the bag."""
        from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

        self.bag = Path(bag)
        self.node = node
        with bag_io.open_reader(self.bag) as reader:
            available = {conn.topic: conn.msgtype for conn in reader.connections}
        missing = sorted(set(topics or ()) - set(available))
        if missing:
            raise bag_io.BagError(f'topics {", ".join(missing)} are not in {self.bag}; it has: '
                                  f'{", ".join(sorted(available))}')
        self.topics = sorted(topics or available)
        qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=REPLAY_QOS_DEPTH,
                         reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.VOLATILE)
        self.publishers = {topic: node.create_publisher(message_class(available[topic]), topic, qos)
                           for topic in self.topics}
        self.published = 0

    def wait_for_subscribers(self, timeout: float, should_stop: Callable[[], bool] = lambda: False) -> bool:
        """Wait up to `timeout` seconds (or until `should_stop()`) until some replayed topic has a subscriber; return
        whether one has."""
        deadline = time.monotonic() + timeout
        while not any(pub.get_subscription_count() for pub in self.publishers.values()):
            if time.monotonic() > deadline or should_stop():
                return False
            time.sleep(0.05)
        return True

    def play(self, rate: float = 1.0, should_stop: Callable[[], bool] = lambda: False) -> int:
        """Publish every message once at its recorded time divided by `rate`; return how many were published."""
        if rate <= 0:
            raise ValueError(f'rate {rate}; must be > 0')
        count = 0
        with bag_io.open_reader(self.bag) as reader:
            connections = [conn for conn in reader.connections if conn.topic in self.publishers]
            start_wall, first = time.monotonic(), None
            for connection, timestamp, data in reader.messages(connections=connections):
                if should_stop():
                    break
                first = timestamp if first is None else first
                delay = start_wall + (timestamp - first) * 1e-9 / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                self.publishers[connection.topic].publish(bytes(data))
                count += 1
        self.published += count
        return count


def run_replay(bag: str | Path, rate: float = 1.0, loop: bool = False, topics: Sequence[str] | None = None,
               wait: float = 0.0, args: list[str] | None = None) -> int:
    """`night-seg replay`: play `bag` (repeatedly with `loop`) until done or Ctrl-C; returns the exit code."""
    import rclpy

    from night_seg_ros.ros_process import ended, ros_session

    with ros_session(args) as stop:
        done = functools.partial(ended, stop)
        node = rclpy.create_node('bag_replay')
        try:
            player = BagPlayer(node, bag, topics)
            print(f'replaying {bag} at {rate:g}x: {", ".join(player.topics)}', flush=True)
            if wait > 0 and not player.wait_for_subscribers(wait, should_stop=done):
                print(f'no subscriber after {wait:g} s; replaying anyway', flush=True)
            start = time.monotonic()
            while not done():
                player.play(rate, should_stop=done)
                if not loop:
                    break
            print(f'published {player.published} messages in {time.monotonic() - start:.1f} s', flush=True)
        finally:
            node.destroy_node()
    return 0

"""Helpers for end-to-end tests over real DDS: start seg_node as its own process, talk to it from a test node."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

from night_seg_ros.codec import numpy_to_image

OUTPUTS = ('labels', 'color', 'overlay', 'confidence')


def stamp_ns(header: Header) -> int:
    """A header's stamp in integer nanoseconds."""
    return header.stamp.sec * 1_000_000_000 + header.stamp.nanosec


def seg_node_executable() -> str:
    """The installed `seg_node` console script (next to this Python, else on PATH)."""
    candidate = Path(sys.executable).parent / 'seg_node'
    found = str(candidate) if candidate.exists() else shutil.which('seg_node')
    if found is None:
        raise FileNotFoundError('seg_node is not installed: pip install -e . first')
    return found


class NodeProcess:
    """seg_node in its own process, with its output captured to a file for the test's messages."""

    def __init__(self, log_dir: Path, *params: str, namespace: str = '/') -> None:
        """Start `seg_node --ros-args -r __ns:=namespace -p name:=value ...` for each 'name:=value' in `params`."""
        self.log_path = log_dir / f'seg_node{namespace.replace("/", "_")}.log'
        args = [seg_node_executable(), '--ros-args', '-r', f'__ns:={namespace}']
        for param in params:
            args += ['-p', param]
        self._log = self.log_path.open('w')
        self.process = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT, env=dict(os.environ))

    def log(self) -> str:
        """Everything the node printed so far."""
        return self.log_path.read_text()

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Wait until the node logs that it is ready; fail with its log if it exits or takes too long."""
        deadline = time.monotonic() + timeout
        while 'ready:' not in self.log():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f'seg_node did not start (exit {self.process.poll()}):\n{self.log()}')
            time.sleep(0.1)

    def interrupt(self, timeout: float = 30.0) -> int:
        """Send SIGINT (Ctrl-C) and return the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout)
        finally:
            self._log.close()

    def kill(self) -> None:
        """Make sure the process is gone (test clean-up)."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self._log.close()


class Probe:
    """A test node that publishes camera frames and collects the node's outputs and diagnostics."""

    def __init__(self, name: str, input_reliability: ReliabilityPolicy = ReliabilityPolicy.RELIABLE,
                 outputs: tuple[str, ...] = OUTPUTS, namespace: str = '/') -> None:
        """Create the node, an Image and a CompressedImage publisher, and subscriptions to `outputs`."""
        self.node = Node(name, namespace=namespace)
        qos = QoSProfile(depth=1, reliability=input_reliability)
        self.image_pub = self.node.create_publisher(Image, 'image', qos)
        self.compressed_pub = self.node.create_publisher(CompressedImage, 'image/compressed', qos)
        self.received: dict[str, list] = defaultdict(list)
        self.arrival: dict[tuple[str, int], float] = {}
        """(topic, header stamp in ns) -> wall-clock time.time() when the message reached this process."""
        reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        for topic in outputs:
            self.node.create_subscription(Image, topic, lambda msg, topic=topic: self._on_output(topic, msg),
                                          reliable)
        self.node.create_subscription(DiagnosticArray, 'diagnostics',
                                      lambda msg: self.received['diagnostics'].append(msg), 10)

    def _on_output(self, topic: str, msg: Image) -> None:
        self.arrival.setdefault((topic, stamp_ns(msg.header)), time.time())
        self.received[topic].append(msg)

    def header(self, frame_id: str = 'camera_optical') -> Header:
        """A header stamped now."""
        return Header(frame_id=frame_id, stamp=self.node.get_clock().now().to_msg())

    def publish_bgr(self, bgr: np.ndarray, header: Header) -> None:
        """Publish a bgr8 Image."""
        self.image_pub.publish(numpy_to_image(bgr, 'bgr8', header))

    def spin_until(self, condition: Callable[[], bool], timeout: float) -> bool:
        """Spin until `condition()` holds or `timeout` seconds pass; return whether it held."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                return False
            rclpy.spin_once(self.node, timeout_sec=0.05)
        return True

    def wait_for_node(self, timeout: float = 20.0) -> None:
        """Wait until seg_node has subscribed to our image or compressed input publisher."""
        publishers = (self.image_pub, self.compressed_pub)
        assert self.spin_until(lambda: any(pub.get_subscription_count() for pub in publishers), timeout), \
            'seg_node never subscribed to the input'

    def outputs_for(self, header: Header) -> dict[str, Image]:
        """The outputs received so far whose header stamp equals `header`'s."""
        return {topic: msg for topic in OUTPUTS for msg in self.received[topic] if msg.header.stamp == header.stamp}

    def last_diagnostics(self) -> dict[str, str]:
        """The key/values of the latest diagnostics status received ({} if none)."""
        if not self.received['diagnostics']:
            return {}
        return {kv.key: kv.value for kv in self.received['diagnostics'][-1].status[0].values}

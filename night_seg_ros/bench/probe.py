"""Talk to seg_node over real DDS from another process: feed it frames, collect its outputs (the node itself runs as
its own process under night_seg_ros.node_process).

Used by the end-to-end tests, `night-seg bench` and the soak run, so all three measure the same way. Needs rclpy.
"""
from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

from night_seg_ros.codec import numpy_to_image, stamp_ns
from night_seg_ros.export import sample_images
from night_seg_ros.vocabulary import OUTPUTS


def camera_messages(width: int, height: int, count: int = 8, frame_id: str = 'camera_optical',
                    seed: int = 0) -> list[Image]:
    """`count` distinct bgr8 Images of `width` x `height` pixels (smooth random scenes), ready for `Probe.stream`."""
    frames = sample_images(count, height, width, seed=seed)[..., ::-1]  # RGB -> BGR, (count, H, W, 3)
    return [numpy_to_image(np.ascontiguousarray(frame), 'bgr8', Header(frame_id=frame_id)) for frame in frames]


def answer_rate(latencies: dict[int, float]) -> float | None:
    """Answers per second between the first and the last answer ({stamp ns: latency s}); None below two answers."""
    answered = sorted(stamp / 1e9 + latency for stamp, latency in latencies.items())
    if len(answered) < 2 or answered[-1] <= answered[0]:
        return None
    return (len(answered) - 1) / (answered[-1] - answered[0])


class Probe:
    """A test node that publishes camera frames and collects the node's outputs and diagnostics."""

    def __init__(self, name: str, input_reliability: ReliabilityPolicy = ReliabilityPolicy.RELIABLE,
                 outputs: tuple[str, ...] = OUTPUTS, namespace: str = '/', keep_messages: bool = True) -> None:
        """Create the node, an Image and a CompressedImage publisher, and subscriptions to `outputs`.

        keep_messages False records only arrival times of outputs (long runs would otherwise keep every image).
        """
        self.node = Node(name, namespace=namespace)
        qos = QoSProfile(depth=1, reliability=input_reliability)
        self.image_pub = self.node.create_publisher(Image, 'image', qos)
        self.compressed_pub = self.node.create_publisher(CompressedImage, 'image/compressed', qos)
        self.keep_messages = keep_messages
        self.received: dict[str, list] = defaultdict(list)
        self.arrival: dict[tuple[str, int], float] = {}
        """(topic, header stamp in ns) -> wall-clock time.time() when the message reached this process."""
        reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        for topic in outputs:
            self.node.create_subscription(Image, topic, lambda msg, topic=topic: self._on_output(topic, msg),
                                          reliable)
        # seg_node reports on the absolute /diagnostics, its status named after it: keep the one in our namespace.
        self._status_name = f'{self.node.get_namespace().rstrip("/")}/seg_node: '
        self.node.create_subscription(DiagnosticArray, '/diagnostics', self._on_diagnostics, 10)

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        if any(status.name.startswith(self._status_name) for status in msg.status):
            self.received['diagnostics'].append(msg)

    def _on_output(self, topic: str, msg: Image) -> None:
        self.arrival.setdefault((topic, stamp_ns(msg.header)), time.time())
        if self.keep_messages:
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

    def spin_for(self, seconds: float) -> None:
        """Handle incoming messages for `seconds`, waking at least every 5 ms."""
        deadline = time.monotonic() + seconds
        while (remaining := deadline - time.monotonic()) > 0:
            rclpy.spin_once(self.node, timeout_sec=min(remaining, 0.005))

    def stream(self, messages: Sequence[Image], rate_hz: float, count: int,
               on_frame: Callable[[int], None] | None = None) -> list[int]:
        """Publish `count` Images at `rate_hz`, cycling through `messages`, each stamped when sent; spin in between.

        Frame i goes out at start + i / rate_hz (an absolute schedule: one slow publish does not lower the rate).
        `on_frame(i)` runs after each publish. Returns the stamps in integer nanoseconds, in send order.
        """
        start = time.monotonic()
        stamps = []
        for index in range(count):
            self.spin_for(start + index / rate_hz - time.monotonic())
            msg = messages[index % len(messages)]
            msg.header.stamp = self.node.get_clock().now().to_msg()
            self.image_pub.publish(msg)
            stamps.append(stamp_ns(msg.header))
            if on_frame is not None:
                on_frame(index)
        return stamps

    def latencies(self, stamps: Iterable[int], outputs: Sequence[str] = OUTPUTS) -> dict[int, float]:
        """Seconds from each stamp (ns) to the arrival of the last of its `outputs`; only stamps answered on all."""
        result = {}
        for stamp in stamps:
            arrivals = [self.arrival.get((topic, stamp)) for topic in outputs]
            if None not in arrivals:
                result[stamp] = max(arrivals) - stamp / 1e9
        return result

    def wait_for_node(self, timeout: float = 20.0) -> None:
        """Wait until seg_node has subscribed to our image or compressed input publisher."""
        publishers = (self.image_pub, self.compressed_pub)
        assert self.spin_until(lambda: any(pub.get_subscription_count() for pub in publishers), timeout), \
            'seg_node never subscribed to the input'

    def outputs_for(self, header: Header) -> dict[str, Image]:
        """The outputs received so far whose header stamp equals `header`'s."""
        return {topic: msg for topic in OUTPUTS for msg in self.received[topic] if msg.header.stamp == header.stamp}

    def last_diagnostics(self) -> dict[str, str]:
        """The key/values of the latest diagnostics status of the seg_node in our namespace ({} if none)."""
        if not self.received['diagnostics']:
            return {}
        status = next(status for status in self.received['diagnostics'][-1].status
                      if status.name.startswith(self._status_name))
        return {kv.key: kv.value for kv in status.values}

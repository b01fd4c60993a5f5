"""A node with seg_node's topics that does no work: the floor that DDS and rclpy alone cost a frame.

It subscribes to `image` (latest frame wins, as seg_node), and for each frame its one worker thread publishes the
subscribed ones of `labels`, `color`, `overlay` and `confidence`, prepared once in seg_node's encodings at the
input's size (or a fixed size: `--size WxH`, for network-resolution outputs), with the input's header. The node
bench (`night-seg bench --parts node_cpu`) runs it beside seg_node, so the node's CPU a frame over this one's is the
node's own work. Run: `python -m night_seg_ros.bench.zero_work_node [--size WxH] [--ros-args ...]`.
"""
from __future__ import annotations

import argparse
import sys
from typing import Any

import rclpy
from rclpy.node import Node
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image

from night_seg_ros import codec
from night_seg_ros.bench.models import parse_size
from night_seg_ros.node.latest_frame import FrameWorker, LatestFrameSlot
from night_seg_ros.ros_process import ros_session
from night_seg_ros.vocabulary import IMAGE_ENCODINGS, OUTPUTS

ENCODINGS = {**IMAGE_ENCODINGS, 'confidence': 'mono8'}
"""seg_node's output encodings with its default confidence encoding."""


class ZeroWorkNode(Node):
    """Publishes prepared outputs for each input frame; see the module docstring."""

    def __init__(self, size: tuple[int, int] | None) -> None:
        """size: (width, height) of the outputs, or None for the input's."""
        super().__init__('seg_node')
        self.size = size
        qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1, reliability=ReliabilityPolicy.RELIABLE)
        self.output_publishers = {topic: self.create_publisher(Image, topic, qos) for topic in OUTPUTS}
        self.prepared: dict[tuple[str, int, int], Image] = {}
        self.slot: LatestFrameSlot[Any] = LatestFrameSlot()
        self.worker = FrameWorker(self.slot, self._publish, lambda error: self.get_logger().error(str(error)),
                                  name='zero-work')
        self.worker.start()
        self.create_subscription(Image, 'image', self.slot.put, qos)
        self.get_logger().info('ready: zero-work node')

    def _publish(self, msg: Image) -> None:
        width, height = self.size or (msg.width, msg.height)
        for topic in OUTPUTS:
            publisher = self.output_publishers[topic]
            if publisher.get_subscription_count() == 0:
                continue
            key = (topic, height, width)
            if key not in self.prepared:
                self.prepared[key] = codec.image_buffer(height, width, ENCODINGS[topic])[0]
            out = self.prepared[key]
            out.header = msg.header
            publisher.publish(out)

    def stop(self) -> None:
        """Stop the worker before the node is destroyed."""
        self.worker.stop()


def main(args: list[str] | None = None) -> int:
    """Run until Ctrl-C."""
    argv = sys.argv[1:] if args is None else args
    ros_args = argv[argv.index('--ros-args'):] if '--ros-args' in argv else []
    parser = argparse.ArgumentParser(prog='zero_work_node', description=__doc__.splitlines()[0])
    parser.add_argument('--size', type=parse_size, help='outputs at WxH instead of the input size')
    options = parser.parse_args(argv[:len(argv) - len(ros_args)])
    with ros_session(['zero_work_node', *ros_args]) as stop:
        node = ZeroWorkNode(options.size)
        try:
            # Spun in short slices that look at Ctrl-C's event too: the bench interrupts it right after seg_node,
            # and a wait that only rclpy's shutdown ends missed that SIGINT now and then.
            while not stop.is_set() and rclpy.ok(context=node.context):
                rclpy.spin_once(node, timeout_sec=0.2)
        finally:
            node.stop()
            node.destroy_node()
    return 0


if __name__ == '__main__':
    sys.exit(main())

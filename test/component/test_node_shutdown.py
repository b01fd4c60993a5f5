"""Ctrl-C while a frame is in flight: rclpy's signal handler shuts the context down before the worker stops, so the
frame's next publish fails. That failure belongs to the shutdown, not to the frame: no error is counted or logged."""
from __future__ import annotations

import rclpy
from rclpy.parameter import Parameter

from night_seg_ros.node.seg_node import SegmentationNode


def test_a_frame_cut_short_by_shutdown_is_no_error(tiny_bundle, capfd):
    context = rclpy.Context()
    rclpy.init(context=context)
    node = SegmentationNode(context=context, parameter_overrides=[
        Parameter('model', value=str(tiny_bundle)), Parameter('backend', value='onnxruntime')])
    try:
        rclpy.try_shutdown(context=context)  # what rclpy's SIGINT handler does
        node._on_worker_error(RuntimeError("Failed to publish: publisher's context is invalid"))
        assert node.stats.totals['errors'] == 0
        assert 'frame failed' not in capfd.readouterr().err
    finally:
        node.stop()
        node.destroy_node()

"""Ctrl-C for the ROS entry points (seg_node, replay, record): the first SIGINT ends the spin, later are dropped."""
from __future__ import annotations

import signal
from types import FrameType


def interrupt_once() -> None:
    """Make SIGINT raise KeyboardInterrupt the first time only; later ones are dropped.

    Ctrl-C under `ros2 launch` reaches a node twice: the terminal signals the whole process group, and launch forwards
    its own SIGINT. The second must not interrupt the clean-up (stopping the worker, destroying the node, closing a
    bag). Call it before `rclpy.init`: rclpy's handler wakes the executor, then chains to this one.
    """
    interrupted = False

    def handler(signum: int, frame: FrameType | None) -> None:
        nonlocal interrupted
        if not interrupted:
            interrupted = True
            raise KeyboardInterrupt

    signal.signal(signal.SIGINT, handler)

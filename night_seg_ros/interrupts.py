"""Ctrl-C for the ROS entry points (seg_node, replay, record): it ends them through rclpy's shutdown and an event,
never by an exception raised into running code."""
from __future__ import annotations

import signal
import threading
from types import FrameType


def stop_on_sigint() -> threading.Event:
    """Install a SIGINT handler that only sets the returned event; call it before `rclpy.init`.

    rclpy's own handler (installed by `rclpy.init`, it chains to this one) shuts the context down, which ends a spin
    with ExternalShutdownException; loops that do not spin (replay's publishing, record's discovery) poll the event.
    Python's default handler raises KeyboardInterrupt between any two bytecodes instead. Inside rclpy that can leave an
    object half built: rclpy 9.1's executor, interrupted in `Task.__init__`, prints an AttributeError traceback from
    `Task.__del__` at exit. And under `ros2 launch` Ctrl-C arrives twice (the terminal signals the process group, then
    launch forwards its own), the second during the clean-up. Setting an event is safe at any point, any number of
    times.
    """
    stop = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, handler)
    return stop

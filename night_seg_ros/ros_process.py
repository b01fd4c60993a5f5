"""How the package's ROS entry points (seg_node, `night-seg replay`, `night-seg record`) start and end their rclpy
context."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from night_seg_ros.dds import use_large_image_profile
from night_seg_ros.interrupts import stop_on_sigint


def ended(stop: threading.Event) -> bool:
    """Whether the user asked the entry point to end: Ctrl-C (`stop`, from `ros_session`), or another signal that shut
    rclpy's context down."""
    import rclpy

    return stop.is_set() or not rclpy.ok()


@contextmanager
def ros_session(args: list[str] | None = None) -> Iterator[threading.Event]:
    """Run the block in an rclpy context; yields the event that Ctrl-C sets.

    Before `rclpy.init(args=args)`: the shipped large-image Fast DDS profile (unless the user chose one; it is read
    when the first participant is made) and the SIGINT handler that rclpy's own chains to. An exception out of the
    block after Ctrl-C or an external shutdown is the end the user asked for, not a crash: rclpy's handler shuts the
    context down under whatever the block was doing (rclpy 7.1, Jazzy, raises RuntimeError "Unable to convert call
    argument" from an executor taking a message). Any other exception propagates. The context is shut down at the end.
    """
    import rclpy
    from rclpy.executors import ExternalShutdownException

    use_large_image_profile()
    stop = stop_on_sigint()
    rclpy.init(args=args)
    try:
        yield stop
    except ExternalShutdownException:
        pass
    except Exception:
        if not ended(stop):
            raise
    finally:
        rclpy.try_shutdown()

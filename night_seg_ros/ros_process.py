"""How the package's ROS entry points (seg_node, `night-seg replay`, `night-seg record`) start their rclpy context."""
from __future__ import annotations

from night_seg_ros.dds import use_large_image_profile
from night_seg_ros.interrupts import interrupt_once


def init_ros(args: list[str] | None = None) -> None:
    """The shipped large-image Fast DDS profile (unless the user chose one), Ctrl-C that interrupts once, then
    `rclpy.init(args=args)`; in that order: the profile is read when the first participant is made, and rclpy's
    SIGINT handler chains to the one installed before it."""
    import rclpy

    use_large_image_profile()
    interrupt_once()
    rclpy.init(args=args)

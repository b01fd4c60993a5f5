"""Ctrl-C for the ROS entry points: SIGINT only sets an event (nothing is raised into running code), rclpy's own
handler ends a real spin inside `ros_session`, and the second SIGINT that `ros2 launch` forwards lands in the clean-up
harmlessly."""
from __future__ import annotations

import signal
import subprocess
import sys
import textwrap

import pytest
import rclpy

from night_seg_ros.interrupts import stop_on_sigint
from night_seg_ros.ros_process import ros_session

NODE = textwrap.dedent('''
    import os
    import signal
    import time

    import rclpy

    from night_seg_ros.ros_process import ros_session

    with ros_session() as stop:
        node = rclpy.create_node('interrupt_probe')
        node.create_timer(0.2, lambda: os.kill(os.getpid(), signal.SIGINT))  # the first Ctrl-C, mid-spin
        try:
            rclpy.spin(node)  # ends with ExternalShutdownException, or another error from the context shut under it
        finally:
            print('spin ended', stop.is_set(), rclpy.ok(), flush=True)
            os.kill(os.getpid(), signal.SIGINT)  # the second, as launch forwards it during the clean-up
            time.sleep(0.2)
            node.destroy_node()
            print('cleaned up', flush=True)
    print('session ended', flush=True)
''')


def test_sigint_sets_the_event_and_raises_nothing() -> None:
    previous = signal.getsignal(signal.SIGINT)
    try:
        stop = stop_on_sigint()
        assert not stop.is_set()
        signal.raise_signal(signal.SIGINT)  # Python's default handler would raise KeyboardInterrupt here
        assert stop.is_set()
        signal.raise_signal(signal.SIGINT)
        assert stop.is_set()
    finally:
        signal.signal(signal.SIGINT, previous)


def test_ctrl_c_ends_a_real_rclpy_spin_and_a_second_one_during_the_clean_up_is_harmless() -> None:
    result = subprocess.run([sys.executable, '-c', NODE], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ['spin', 'ended', 'True', 'False', 'cleaned', 'up', 'session', 'ended']
    assert 'Traceback' not in result.stderr


def test_an_error_without_ctrl_c_propagates_and_the_context_is_shut_down() -> None:
    previous = signal.getsignal(signal.SIGINT)
    try:
        with pytest.raises(ValueError, match='a bug'):
            with ros_session():
                assert rclpy.ok()
                raise ValueError('a bug in the node')
        assert not rclpy.ok()
    finally:
        signal.signal(signal.SIGINT, previous)

"""Ctrl-C under `ros2 launch` reaches a node twice (the terminal's SIGINT to the process group, then launch's own):
with `interrupt_once` the first ends a real rclpy spin and the second lands in the clean-up without interrupting it."""
from __future__ import annotations

import signal
import subprocess
import sys
import textwrap

import pytest

from night_seg_ros.interrupts import interrupt_once

NODE = textwrap.dedent('''
    import os
    import signal
    import time

    import rclpy

    from night_seg_ros.interrupts import interrupt_once

    interrupt_once()
    rclpy.init()
    node = rclpy.create_node('interrupt_probe')
    node.create_timer(0.2, lambda: os.kill(os.getpid(), signal.SIGINT))  # the first Ctrl-C, mid-spin
    try:
        rclpy.spin(node)
    except KeyboardInterrupt:
        print('spin interrupted', flush=True)
    finally:
        os.kill(os.getpid(), signal.SIGINT)  # the second, as launch forwards it during the clean-up
        time.sleep(0.2)
        node.destroy_node()
        rclpy.try_shutdown()
        print('cleaned up', flush=True)
''')


def test_only_the_first_sigint_raises() -> None:
    previous = signal.getsignal(signal.SIGINT)
    try:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for _ in range(2):  # Python's own handler raises at every one
            with pytest.raises(KeyboardInterrupt):
                signal.raise_signal(signal.SIGINT)
        interrupt_once()
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
        signal.raise_signal(signal.SIGINT)  # dropped: nothing raised
        signal.raise_signal(signal.SIGINT)
    finally:
        signal.signal(signal.SIGINT, previous)


def test_a_second_ctrl_c_during_the_clean_up_of_a_real_rclpy_spin_is_dropped() -> None:
    result = subprocess.run([sys.executable, '-c', NODE], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ['spin', 'interrupted', 'cleaned', 'up']
    assert 'Traceback' not in result.stderr

"""Ctrl-C under `ros2 launch` reaches a node twice (the terminal's SIGINT to the process group, then launch's own):
with `interrupt_once` the first ends a real rclpy spin and the second lands in the clean-up without interrupting it."""
from __future__ import annotations

import subprocess
import sys
import textwrap

NODE = textwrap.dedent('''
    import os
    import signal
    import time

    import rclpy

    from night_seg_ros.interrupts import interrupt_once

    if {install}:
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


def run_probe(install: bool) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-c', NODE.format(install=install)], capture_output=True, text=True,
                          timeout=60, check=False)


def test_the_second_ctrl_c_does_not_interrupt_the_clean_up():
    result = run_probe(install=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ['spin', 'interrupted', 'cleaned', 'up']
    assert 'Traceback' not in result.stderr


def test_without_it_the_second_ctrl_c_breaks_the_clean_up():
    result = run_probe(install=False)
    assert result.returncode != 0
    assert 'KeyboardInterrupt' in result.stderr and 'cleaned up' not in result.stdout

"""The profile variable chosen is the one the Fast DDS that rclpy actually loads reads (Kilted and Jazzy wheels)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from night_seg_ros import dds

MAPPED_FAST_DDS = '''
import json, rclpy
rclpy.init()
node = rclpy.create_node('profile_probe')  # the participant exists: the rmw and its Fast DDS are loaded
maps = open('/proc/self/maps').read()
print(json.dumps(sorted({line.split('/')[-1] for line in maps.splitlines()
                         if '/libfastrtps.so' in line or '/libfastdds.so' in line})))
node.destroy_node()
rclpy.shutdown()
'''


def test_the_variable_matches_the_fast_dds_library_rclpy_loads():
    environ = {key: value for key, value in os.environ.items()
               if key not in ('ROS_DISTRO', 'RMW_IMPLEMENTATION', *dds.PROFILE_ENV_VARS)}  # as the PyPI wheels run
    result = subprocess.run([sys.executable, '-c', MAPPED_FAST_DDS], env=environ, capture_output=True, text=True,
                            timeout=60, check=True)
    [loaded] = json.loads(result.stdout.splitlines()[-1])
    expected = dds.FASTRTPS_VARIABLE if loaded.startswith('libfastrtps.so') else dds.FASTDDS_VARIABLE
    assert dds.fast_dds_library(environ).split('.so')[0] == loaded.split('.so')[0]
    assert dds.profile_env_var(environ) == expected, f'rclpy loads {loaded}'

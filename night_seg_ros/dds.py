"""DDS set-up for large images: point Fast DDS at the shipped 64 MB shared-memory profile before rclpy starts."""
from __future__ import annotations

import os
from collections.abc import MutableMapping

from night_seg_ros.paths import share_file

PROFILE = 'config/fastdds_large_images.xml'
PROFILE_ENV_VARS = ('FASTDDS_DEFAULT_PROFILES_FILE', 'FASTRTPS_DEFAULT_PROFILES_FILE')
FASTDDS_RMWS = ('', 'rmw_fastrtps_cpp', 'rmw_fastrtps_dynamic_cpp')
FAST_DDS_2_DISTROS = ('humble', 'iron', 'jazzy')


def profile_env_var(environ: MutableMapping[str, str] = os.environ) -> str:
    """The profile variable this distribution's Fast DDS reads: FASTRTPS_... for Fast DDS 2.x (Humble to Jazzy),
    FASTDDS_... for 3.x (Kilted and later, and the PyPI wheels, which set no ROS_DISTRO)."""
    if environ.get('ROS_DISTRO', '') in FAST_DDS_2_DISTROS:
        return 'FASTRTPS_DEFAULT_PROFILES_FILE'
    return 'FASTDDS_DEFAULT_PROFILES_FILE'


def use_large_image_profile(environ: MutableMapping[str, str] = os.environ) -> str | None:
    """Make this process's Fast DDS participant use the shipped large-image profile; call before `rclpy.init`.

    Does nothing (returns None) when the user already set a profile file or chose another RMW (CycloneDDS etc.);
    otherwise sets the distribution's profile variable (`profile_env_var`) and returns the profile's path.
    """
    if any(environ.get(name) for name in PROFILE_ENV_VARS):
        return None
    if environ.get('RMW_IMPLEMENTATION', '') not in FASTDDS_RMWS:
        return None
    path = str(share_file(PROFILE))
    environ[profile_env_var(environ)] = path
    return path

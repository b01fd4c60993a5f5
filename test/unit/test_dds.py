"""How the Fast DDS profile variable is chosen: from the rmw library's links, the distribution only as a fallback."""
from __future__ import annotations

from pathlib import Path

import pytest

from night_seg_ros import dds


def test_a_file_that_is_not_elf_links_nothing(tmp_path: Path):
    path = tmp_path / 'librmw_fastrtps_cpp.so'
    path.write_bytes(b'not an ELF file')
    assert dds.needed_libraries(path) == []


def test_another_rmw_has_no_fast_dds_library():
    assert dds.fast_dds_library({'RMW_IMPLEMENTATION': 'rmw_cyclonedds_cpp'}) is None


@pytest.mark.parametrize(('distro', 'variable'), [
    ('humble', 'FASTRTPS_DEFAULT_PROFILES_FILE'), ('jazzy', 'FASTRTPS_DEFAULT_PROFILES_FILE'),
    ('kilted', 'FASTDDS_DEFAULT_PROFILES_FILE'), ('', 'FASTDDS_DEFAULT_PROFILES_FILE'),
])
def test_without_a_readable_rmw_library_the_distribution_decides(monkeypatch, tmp_path, distro, variable):
    monkeypatch.setattr(dds, 'library_dirs', lambda environ: [tmp_path])
    assert dds.profile_env_var({'ROS_DISTRO': distro}) == variable


def test_a_set_profile_or_another_rmw_is_left_alone():
    environ = {'FASTRTPS_DEFAULT_PROFILES_FILE': '/mine.xml'}
    assert dds.use_large_image_profile(environ) is None and environ == {'FASTRTPS_DEFAULT_PROFILES_FILE': '/mine.xml'}
    environ = {'RMW_IMPLEMENTATION': 'rmw_cyclonedds_cpp'}
    assert dds.use_large_image_profile(environ) is None and environ == {'RMW_IMPLEMENTATION': 'rmw_cyclonedds_cpp'}

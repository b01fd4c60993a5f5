"""DDS set-up for large images: point Fast DDS at the shipped 64 MB shared-memory profile before rclpy starts.

Fast DDS 2.x (Humble to Jazzy) reads its profile file from FASTRTPS_DEFAULT_PROFILES_FILE only, Fast DDS 3.x (Kilted
and later) from FASTDDS_DEFAULT_PROFILES_FILE only. Which one this process will load is read from the rmw library
rclpy will open (`RMW_IMPLEMENTATION`, default rmw_fastrtps_cpp): the Fast DDS library it links, libfastrtps.so.2.*
or libfastdds.so.3.*. That is right for apt installs and for the PyPI wheels alike (the wheels set no ROS_DISTRO).
"""
from __future__ import annotations

import os
import struct
import sys
from collections.abc import Iterator, Mapping, MutableMapping
from pathlib import Path

from night_seg_ros.paths import share_file

PROFILE = 'config/fastdds_large_images.xml'
FASTDDS_VARIABLE = 'FASTDDS_DEFAULT_PROFILES_FILE'
FASTRTPS_VARIABLE = 'FASTRTPS_DEFAULT_PROFILES_FILE'
PROFILE_ENV_VARS = (FASTDDS_VARIABLE, FASTRTPS_VARIABLE)
DEFAULT_RMW = 'rmw_fastrtps_cpp'
FASTDDS_RMWS = ('', 'rmw_fastrtps_cpp', 'rmw_fastrtps_dynamic_cpp')
FAST_DDS_LIBRARIES = {'libfastrtps.so': FASTRTPS_VARIABLE, 'libfastdds.so': FASTDDS_VARIABLE}
"""File name prefix of each Fast DDS major line's library -> the profile variable it reads (2.x, 3.x)."""
FAST_DDS_2_DISTROS = ('humble', 'iron', 'jazzy')
"""Distributions whose Fast DDS is 2.x: the answer when no Fast DDS rmw library can be found to read."""

_ELF_LAYOUTS = {
    # EI_CLASS: (section header table offset, entry size, count), section header, dynamic entry formats.
    1: ('I', 0x20, 0x2E, 'IIIIIIIIII', 'iI'),
    2: ('Q', 0x28, 0x3A, 'IIQQQQIIQQ', 'qQ'),
}
_SHT_DYNAMIC = 6
_DT_NEEDED = 1


def needed_libraries(path: Path) -> list[str]:
    """The DT_NEEDED entries (shared libraries it links, e.g. 'libfastdds.so.3.2') of ELF file `path`.

    Returns [] for a file that is not an ELF shared object with a dynamic section.
    """
    data = path.read_bytes()
    if data[:4] != b'\x7fELF' or data[4] not in _ELF_LAYOUTS:
        return []
    offset_type, table_at, entsize_at, section_format, dynamic_format = _ELF_LAYOUTS[data[4]]
    order = '<' if data[5] == 1 else '>'
    (table,) = struct.unpack_from(order + offset_type, data, table_at)
    entry_size, count = struct.unpack_from(order + 'HH', data, entsize_at)
    sections = [struct.unpack_from(order + section_format, data, table + index * entry_size) for index in range(count)]
    needed = []
    for _name, kind, _flags, _addr, start, size, link, _info, _align, _entsize in sections:
        if kind != _SHT_DYNAMIC:
            continue
        strings = sections[link][4]
        for tag, value in struct.iter_unpack(order + dynamic_format, data[start:start + size]):
            if tag == _DT_NEEDED:
                name = data[strings + value:data.index(b'\0', strings + value)]
                needed.append(name.decode())
    return needed


def library_dirs(environ: Mapping[str, str] = os.environ) -> list[Path]:
    """Where the rmw libraries may be: each ament prefix's lib/, LD_LIBRARY_PATH, lib/ of this Python's prefix
    (the PyPI wheels)."""
    dirs = [Path(prefix) / 'lib' for prefix in environ.get('AMENT_PREFIX_PATH', '').split(os.pathsep) if prefix]
    dirs += [Path(entry) for entry in environ.get('LD_LIBRARY_PATH', '').split(os.pathsep) if entry]
    dirs.append(Path(sys.prefix) / 'lib')
    return dirs


def _linked_libraries(library: str, dirs: list[Path]) -> Iterator[str]:
    """`library` and, breadth first, every library it links that one of `dirs` holds (each once)."""
    queue, seen = [library], {library}
    while queue:
        name = queue.pop(0)
        yield name
        path = next((folder / name for folder in dirs if (folder / name).is_file()), None)
        for needed in needed_libraries(path) if path is not None else ():
            if needed not in seen:
                seen.add(needed)
                queue.append(needed)


def fast_dds_library(environ: Mapping[str, str] = os.environ) -> str | None:
    """File name of the Fast DDS library the rmw of `environ` links (e.g. 'libfastrtps.so.2.14'); None when the rmw
    is not Fast DDS or its library is not found."""
    rmw = environ.get('RMW_IMPLEMENTATION', '') or DEFAULT_RMW
    if rmw not in FASTDDS_RMWS:
        return None
    for name in _linked_libraries(f'lib{rmw}.so', library_dirs(environ)):
        if name.startswith(tuple(FAST_DDS_LIBRARIES)):
            return name
    return None


def profile_env_var(environ: Mapping[str, str] = os.environ) -> str:
    """The profile variable the Fast DDS that rclpy will load reads: FASTRTPS_... for 2.x, FASTDDS_... for 3.x.

    Read from the rmw library's links (`fast_dds_library`); when no Fast DDS rmw library is found, the variable of
    the distribution named by ROS_DISTRO (FASTDDS_... when unset).
    """
    library = fast_dds_library(environ)
    if library is not None:
        return next(variable for prefix, variable in FAST_DDS_LIBRARIES.items() if library.startswith(prefix))
    if environ.get('ROS_DISTRO', '') in FAST_DDS_2_DISTROS:
        return FASTRTPS_VARIABLE
    return FASTDDS_VARIABLE


def use_large_image_profile(environ: MutableMapping[str, str] = os.environ) -> str | None:
    """Make this process's Fast DDS participant use the shipped large-image profile; call before `rclpy.init`.

    Does nothing (returns None) when the user already set a profile file or chose another RMW (CycloneDDS etc.);
    otherwise sets the variable this process's Fast DDS reads (`profile_env_var`) and returns the profile's path.
    """
    if any(environ.get(name) for name in PROFILE_ENV_VARS):
        return None
    if environ.get('RMW_IMPLEMENTATION', '') not in FASTDDS_RMWS:
        return None
    path = str(share_file(PROFILE))
    environ[profile_env_var(environ)] = path
    return path

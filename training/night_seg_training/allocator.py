"""glibc malloc settings for training processes: keep freed memory instead of handing it back to the kernel.

A training step allocates and frees the same activations (tens of MB each at 384x768) every iteration. With glibc's
defaults, blocks that large come from a fresh mmap() and go back with munmap() when freed, so every step faults in
and zeroes its pages again; on this project's 2-core CPU that was a third of a whole-frame iteration's time, spent in
the kernel (experiments/NOTEBOOK.md, "Cost of an iteration"). Raising the mmap and trim thresholds makes glibc serve
them from its heap and reuse them. The memory a process holds then stays at its peak, which is what a training
process reaches every step anyway.

Only `night-seg-train` calls this; the ROS node and the runtime never do.
"""
from __future__ import annotations

import ctypes
import ctypes.util

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
"""mallopt() parameter numbers (glibc malloc.h)."""
KEEP_BYTES = 2**31 - 1
"""Thresholds in bytes (mallopt takes an int): blocks below 2 GiB come from the heap, and the heap is not trimmed."""


def keep_freed_memory() -> bool:
    """Tell glibc malloc to serve blocks below 2 GiB from its heap and never trim it (mallopt).

    Returns True where both settings took effect; False where the C library is not glibc (musl, macOS, Windows: then
    nothing changes) or refuses either setting. Call it once, early, in the process that trains.
    """
    name = ctypes.util.find_library('c')
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, KEEP_BYTES)) and bool(mallopt(M_TRIM_THRESHOLD, KEEP_BYTES))

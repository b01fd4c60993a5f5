"""night_seg_training.allocator: after keep_freed_memory(), glibc serves a 64 MB block from its heap, not from mmap().

Each case runs in a fresh Python process (mallopt settings last for the life of a process) and reads glibc's own
accounting (mallinfo2: `hblkhd` is the bytes in mmap()ed blocks, `arena` the bytes of the main heap).
"""
from __future__ import annotations

import json
import platform
import subprocess
import sys

import pytest

LIBC, LIBC_VERSION = platform.libc_ver()
pytestmark = pytest.mark.skipif(
    LIBC != 'glibc' or tuple(int(part) for part in LIBC_VERSION.split('.')[:2]) < (2, 33),
    reason='mallopt settings are glibc-only; the test reads them with mallinfo2 (glibc 2.33 and later)')

SCRIPT = """
import ctypes, json, sys
from night_seg_training.allocator import keep_freed_memory

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ('arena', 'ordblks', 'smblks', 'hblks', 'hblkhd', 'usmblks', 'fsmblks', 'uordblks', 'fordblks',
                 'keepcost')]

libc = ctypes.CDLL('libc.so.6')
libc.mallinfo2.restype = MallInfo2
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = (ctypes.c_size_t,)
libc.free.argtypes = (ctypes.c_void_p,)
kept = keep_freed_memory() if sys.argv[1] == 'keep' else None
before = libc.mallinfo2()
block = libc.malloc(64 << 20)
during = libc.mallinfo2()
libc.free(block)
after = libc.mallinfo2()
print(json.dumps({'kept': kept, 'mmapped': during.hblkhd - before.hblkhd, 'heap_after_free': after.arena}))
"""


def _allocate(mode: str) -> dict:
    done = subprocess.run([sys.executable, '-c', SCRIPT, mode], capture_output=True, text=True, timeout=60,
                          check=True)
    return json.loads(done.stdout)


def test_a_large_block_comes_from_the_heap_and_stays_there_after_keep_freed_memory() -> None:
    default, kept = _allocate('default'), _allocate('keep')
    assert default['mmapped'] >= 64 << 20, default
    assert kept['kept'] is True
    assert kept['mmapped'] == 0, kept
    assert kept['heap_after_free'] >= 64 << 20, kept

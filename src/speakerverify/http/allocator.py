"""The serving process keeps the memory it frees for its next request (glibc's allocator only).

An answer's numerics allocate many short-lived arrays of 0.1-2 MB (the replay check's cost matrices are
(N, Lq, M) float32 per prompted digit). glibc serves blocks that size with fresh ``mmap`` calls, or trims
them off the heap when freed, so every request pays the kernel to map and zero the same pages again:
measured ~1,400 page faults and 2-4 ms of kernel time per 5-digit replay check (of ~20 ms), on every
answer. Raising the two thresholds keeps freed blocks in the process for reuse; the cost is that a
process's resident size stays at its peak (one request's working set per thread), which it reaches on
its first answers anyway.
"""

from __future__ import annotations

import ctypes
import sys

# Blocks up to this size come from the heap, not a private mmap: every array of one request.
# (glibc refuses values above half its heap size, 32 MB on 64-bit.)
MMAP_THRESHOLD_BYTES = 16 * 1024 * 1024
# Free memory at the top of the heap is returned to the kernel only beyond this.
TRIM_THRESHOLD_BYTES = 64 * 1024 * 1024
_M_TRIM_THRESHOLD = -1  # glibc's mallopt parameter numbers (malloc.h)
_M_MMAP_THRESHOLD = -3


def keep_freed_memory() -> bool:
    """Set glibc's mmap and trim thresholds (above) for this process; True if it took effect, False on
    another C library (musl, macOS), where nothing changes."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None)
        mallopt, _ = libc.mallopt, libc.gnu_get_libc_version  # both only in glibc
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES))

"""Allocator tuning for workers that decode and encode large images.

glibc hands every freed block above its mmap threshold back to the kernel, so each new
1080p frame buffer is mapped again and page-faults on first touch (thousands of faults per
frame). Raising the mmap and trim thresholds keeps those buffers in the heap for reuse: a
Pillow decode-resize-encode pipeline runs about a third faster (../shared/docs/codec-limits.md,
"allocator"). Memory stays bounded by the largest frames a worker holds at once.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 256 << 20
TRIM_THRESHOLD = 1 << 30

_tuned: bool | None = None


def tune_malloc() -> bool:
    """Raise glibc's mmap/trim thresholds in this process, once; False where that is not possible."""
    global _tuned
    if _tuned is not None:
        return _tuned
    _tuned = False
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            mallopt = libc.mallopt
        except (OSError, AttributeError):  # musl and others have no mallopt
            return False
        mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        mallopt.restype = ctypes.c_int
        _tuned = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    return _tuned

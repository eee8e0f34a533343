"""Keep a kernel's memory near what it holds (Linux only; imports nothing of ours).

glibc's ``malloc`` serves a block of at least ``M_MMAP_THRESHOLD`` bytes with ``mmap`` and gives
it back to the system when it is freed. By default that threshold starts at 128 kB and rises each
time the program frees such a block, up to 32 MB, so that after a few frees every MNIST-sized
temporary (a 10 000-image batch is 31 MB, a 60 000-image set 188 MB only above it) lands on the
heap, which fragments and keeps its peak. In a notebook kernel that runs cell after cell this
raised the resident memory by about 200 MB per notebook (notebook 06 at full size, cached models:
peak 1.57 GB by default, 1.39 GB with the threshold fixed at 8 MB). Fixing it costs nothing
measurable in training: the batches of a step are well under 8 MB.

Fixing the threshold also freezes glibc's trim threshold (the free memory at the top of the heap
it keeps instead of returning) at its 128 kB start, and a training step frees and reallocates a
few MB of gradients and activations: each step then paid ~250 page faults for memory it had just
given back. So the trim threshold is set to twice the mmap threshold, glibc's own rule when it
moves the two itself (≤ 16 MB kept; about 0 faults per step).

It is applied once per process by :func:`tune_heap`, which the two places that allocate
MNIST-sized arrays call (``data.load_mnist`` and ``training.fit``) — importing ``course_utils``
changes nothing. Turn it off with ``COURSE_MALLOC_TUNING=0``; an explicit
``MALLOC_MMAP_THRESHOLD_`` in the environment is left to glibc.
"""
from __future__ import annotations

import ctypes
import functools
import ctypes.util
import os
import sys

__all__ = ["MMAP_THRESHOLD", "limit_heap_growth", "tune_heap"]

#: Blocks of this many bytes or more are mapped and unmapped, never kept on the heap.
MMAP_THRESHOLD: int = 8 * 1024 * 1024
_M_MMAP_THRESHOLD = -3  # from glibc's malloc.h
_M_TRIM_THRESHOLD = -1


def limit_heap_growth(threshold: int = MMAP_THRESHOLD) -> bool:
    """Fix glibc's mmap threshold at ``threshold`` bytes and its trim threshold at twice that;
    return whether it was applied (False: not Linux/glibc, turned off by ``COURSE_MALLOC_TUNING=0``,
    or set by the environment)."""
    if isinstance(threshold, bool) or not isinstance(threshold, int) or not 0 < threshold <= 1 << 30:
        raise ValueError(f"threshold must be a number of bytes in 1..2**30, got {threshold!r}")
    if (not sys.platform.startswith("linux") or os.environ.get("COURSE_MALLOC_TUNING", "1").strip() == "0"
            or "MALLOC_MMAP_THRESHOLD_" in os.environ):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        if not libc.mallopt(_M_MMAP_THRESHOLD, threshold):
            return False
        if "MALLOC_TRIM_THRESHOLD_" not in os.environ:
            libc.mallopt(_M_TRIM_THRESHOLD, 2 * threshold)
        return True
    except (OSError, AttributeError):  # another C library (musl) has no mallopt
        return False


@functools.cache
def tune_heap() -> bool:
    """Apply :func:`limit_heap_growth` once per process (later calls return the first answer)."""
    return limit_heap_growth()

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

The other side of a fixed threshold: every layer output of at least ``MMAP_THRESHOLD`` bytes is a
fresh mapping, and the kernel zeroes it page by page on first touch. A convolutional decoder holds
16×28×28 values (50 kB) per image, so decoding 1 000 digits at once made ~1 000 page faults per
image: notebook 10's 10 000 test digits took 3.7 s through one decoder in batches of 1 000 and
0.7 s in batches of 100 (this 2-core VM). :func:`heap_batch_size` picks batches whose layer
outputs stay on the heap; ``training.reconstruct``, ``training.mse`` and the quantized models'
``symbols`` / ``decode_symbols`` use it on the CPU.
"""
from __future__ import annotations

import ctypes
import functools
import ctypes.util
import os
import sys

__all__ = ["MMAP_THRESHOLD", "heap_batch_size", "limit_heap_growth", "release_free_heap", "tune_heap"]

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


def release_free_heap() -> bool:
    """Give the heap's free pages back to the system (glibc's ``malloc_trim(0)``, ~1 ms); return
    whether it ran (False: not Linux/glibc, or ``COURSE_MALLOC_TUNING=0``). Free blocks in the middle
    of the heap stay resident otherwise: notebook 06's noise slider, which runs its denoisers at 21
    noise levels of 1 000 test digits on its first call, left 190 MB of them resident (kernel 1 292 →
    1 504 MB; 1 313 MB with a trim after each level)."""
    if not sys.platform.startswith("linux") or os.environ.get("COURSE_MALLOC_TUNING", "1").strip() == "0":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim(0)
        return True
    except (OSError, AttributeError):  # musl and others have no malloc_trim
        return False


@functools.cache
def tune_heap() -> bool:
    """Apply :func:`limit_heap_growth` once per process (later calls return the first answer)."""
    return limit_heap_growth()


def heap_batch_size(fn, example, batch_size: int) -> int:
    """The batch size to run ``fn`` with on the CPU: ``batch_size``, or fewer so that the largest
    output of any ``nn.Module`` inside ``fn`` stays below half of :data:`MMAP_THRESHOLD`.

    ``fn``: a model or a method such as ``model.decode``; ``example``: one input row, shape (1, …),
    on the device ``fn`` runs on. The sizes are measured by one forward pass of ``example`` (no
    gradients) with a global forward hook, so outputs of plain functions (``F.interpolate``) are not
    seen. On another device than the CPU ``batch_size`` is returned unchanged (their allocators
    cache), and so it is when ``fn`` cannot run on ``example`` (the caller's own call then reports
    the problem). Notebook 10's convolutional models: ~80 images; the fully connected ones: ≥ 1 000.
    """
    import torch  # lazily: the heap settings above must not need torch

    if not callable(fn):
        raise ValueError(f"fn must be a model or a function of a batch, got {type(fn).__name__}")
    if not isinstance(example, torch.Tensor) or example.dim() < 1 or len(example) < 1:
        raise ValueError(f"example must be a tensor of one input row, shape (1, ...), got "
                         f"{tuple(example.shape) if isinstance(example, torch.Tensor) else type(example).__name__}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if example.device.type != "cpu":
        return batch_size
    largest = [0]

    def record(module, inputs, output):
        for t in output if isinstance(output, (tuple, list)) else (output,):
            if isinstance(t, torch.Tensor):
                largest[0] = max(largest[0], t.numel() * t.element_size() // len(example))

    handle = torch.nn.modules.module.register_module_forward_hook(record)
    try:
        with torch.no_grad():
            fn(example)
    except Exception:  # fn cannot run on example: the caller's own call will say why
        return batch_size
    finally:
        handle.remove()
    if largest[0] == 0:
        return batch_size
    return max(1, min(batch_size, (MMAP_THRESHOLD // 2) // largest[0]))

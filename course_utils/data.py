"""MNIST loading (verified, cached, offline-friendly) and the noise models of the course.

Images come back as float32 tensors in [0, 1] of shape (N, 784); labels as int64 of shape (N,).
"""
from __future__ import annotations

import functools
import hashlib
import math
import os
import shutil
import tempfile
import weakref
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from . import config
from .atomic import write_atomic
from .device import tune_threads
from .memory import tune_heap

__all__ = ["MNIST_FILES", "MNISTError", "load_mnist", "shared_images", "image_chunks", "labels", "add_noise", "NOISE_KINDS",
           "ensure_mnist", "float_file", "check_images", "check_seed", "check_ints", "noise_function",
           "mnist_test", "mnist_split", "split_images", "noise_spec", "noisy_test", "EVAL_NOISE_SEED",
           "shift_images", "nearest_distance"]

#: The four uncompressed MNIST files: name -> (bytes, md5). Published checksums.
MNIST_FILES: dict[str, tuple[int, str]] = {
    "train-images-idx3-ubyte": (47_040_016, "6bbc9ace898e44ae57da46a324031adb"),
    "train-labels-idx1-ubyte": (60_008, "a25bea736e30d166cdddb491f175f624"),
    "t10k-images-idx3-ubyte": (7_840_016, "2646ac647ad5339dbf082846283269ea"),
    "t10k-labels-idx1-ubyte": (10_008, "27ae3e4e09519cfbb04c329615203637"),
}
_SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
NOISE_KINDS = ("gaussian", "masking", "salt_pepper")


class MNISTError(RuntimeError):
    """MNIST is missing, corrupt, or could not be downloaded. The message says how to fix it."""


def _md5(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


#: Files verified in this process, keyed by (path, size, mtime): the md5 is computed once per file
#: version, so repeated loads (widgets, notebooks) skip re-hashing 55 MB.
_VERIFIED: set[tuple[str, int, int]] = set()


def _problem(path: Path) -> str | None:
    """None when ``path`` is the right MNIST file, else what is wrong with it."""
    size, md5 = MNIST_FILES[path.name]
    if path.is_dir():
        return "is a folder, not a file (remove that folder; the file is downloaded or copied in its place)"
    if not path.is_file():
        gz = path.with_name(path.name + ".gz")
        if gz.is_file():
            return f"is missing, but {gz.name} is there: uncompress it (gunzip -k {gz})"
        return "is missing"
    try:
        st = path.stat()
        with open(path, "rb"):
            pass
    except OSError as err:  # e.g. PermissionError: a file another user copied in with mode 0600
        return (f"cannot be read ({type(err).__name__}: {err.strerror or err}): make it readable "
                f"(chmod a+r {path}) or point COURSE_DATA_DIR at a copy you can read")
    if st.st_size != size:
        return f"has {st.st_size} bytes, expected {size} (truncated or not uncompressed?)"
    stamp = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if stamp in _VERIFIED:
        return None
    digest = _md5(path)
    if digest != md5:
        return f"has md5 {digest}, expected {md5} (corrupt)"
    _VERIFIED.add(stamp)
    return None


def _fix_hint(raw: Path) -> str:
    return (
        f"To fix it: run again with internet access (missing files are downloaded automatically; "
        f"delete a corrupt file first), or copy the four uncompressed MNIST files into {raw}, or "
        f"point the environment variable COURSE_DATA_DIR at a folder that holds MNIST/raw/."
    )


def _download(root: Path) -> None:
    """Download MNIST through torchvision into a temporary folder, then move verified files in."""
    from torchvision.datasets import MNIST  # imported lazily: only needed on a first run

    raw = root / "MNIST" / "raw"
    try:
        raw.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".mnist-download-", dir=root))
    except OSError as err:
        raise MNISTError(
            f"MNIST is not in {raw} and that folder is not writable ({err}). " + _fix_hint(raw)
        ) from None
    try:
        try:
            MNIST(str(tmp), train=True, download=True)
            MNIST(str(tmp), train=False, download=True)
        except Exception as err:  # network errors come in many types
            missing = [n for n in MNIST_FILES if not (raw / n).is_file()]
            raise MNISTError(
                f"MNIST could not be downloaded into {raw} (offline?); missing: "
                f"{', '.join(missing)}. Download error: {type(err).__name__}: {err}. "
                + _fix_hint(raw)
            ) from None
        for name in MNIST_FILES:
            src = tmp / "MNIST" / "raw" / name
            problem = _problem(src)
            if problem:
                raise MNISTError(f"the downloaded {name} {problem}. " + _fix_hint(raw))
            partial = raw / (name + ".part")
            shutil.copyfile(src, partial)
            partial.replace(raw / name)  # atomic: never a half-written file under the real name
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def ensure_mnist(root: str | Path | None = None, download: bool = True) -> Path:
    """Make sure the four verified MNIST files are in ``root/MNIST/raw``; return that folder.

    ``root`` defaults to :func:`course_utils.config.data_dir` (``COURSE_DATA_DIR``). Missing files
    are downloaded (unless ``download=False``); a wrong size or md5 raises :class:`MNISTError`.
    """
    if root is not None and not isinstance(root, (str, Path)):
        raise ValueError(f"root must be a folder (a str or Path) holding MNIST/raw/, or None, got {root!r}")
    root = Path(root).expanduser().resolve() if root is not None else config.data_dir()
    raw = root / "MNIST" / "raw"
    problems = {n: _problem(raw / n) for n in MNIST_FILES}
    bad = {n: p for n, p in problems.items() if p and p != "is missing"}
    if bad:
        name, problem = next(iter(bad.items()))
        raise MNISTError(f"MNIST file {raw / name} {problem}. " + _fix_hint(raw))
    missing = [n for n, p in problems.items() if p == "is missing"]
    if missing:
        if not download:
            raise MNISTError(f"MNIST file {raw / missing[0]} is missing. " + _fix_hint(raw))
        _download(root)
    return raw


def _read_idx(path: Path, expected_magic: int) -> np.ndarray:
    """The IDX file's array, memory-mapped read-only: its pages are the system's file cache, shared
    by every kernel that reads MNIST, and leave this process's resident memory with the last view."""
    with open(path, "rb") as f:
        head = f.read(4)
        magic = int.from_bytes(head, "big") if len(head) == 4 else None
        if magic != expected_magic:
            raise MNISTError(f"{path} is not an IDX file of the expected type (magic {magic}).")
        ndim = head[3]
        dims = f.read(4 * ndim)
    shape = tuple(int.from_bytes(dims[4 * i: 4 + 4 * i], "big") for i in range(ndim))
    return np.memmap(path, dtype=np.uint8, mode="r", offset=4 + 4 * ndim, shape=shape)


def _load_split(raw: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    """The raw uint8 images (N, 784) and labels (N,), memory-mapped, not kept: each load reads them
    from the file cache (70 ms for the 60 000 training images, 58 of them the float conversion), and
    a kernel holds no second, uint8 copy of MNIST after its loads (55 MB; session 11)."""
    img_name, lab_name = _SPLIT_FILES[split]
    images = _read_idx(Path(raw) / img_name, 2051)
    labels = _read_idx(Path(raw) / lab_name, 2049)
    return images.reshape(len(images), -1), labels


def _to_float(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, 784) → float32 in [0, 1] with a single float copy (no float64 temporaries)."""
    return torch.from_numpy(images.astype(np.float32)).div_(255.0)  # one float copy, then in place


def _mapping_on() -> bool:
    """Whether whole splits come back as mappings of a float file (:func:`_mapped_float`)."""
    return os.environ.get("COURSE_MAP_IMAGES", "1").strip() != "0"


def float_file(split: str) -> Path:
    """Where the float32 images of a whole split are kept for mapping: ``images/`` in the model
    cache (:func:`config.cache_dir`), one ``.npy`` file per split (188 MB train, 31 MB test)."""
    if not isinstance(split, str) or split not in _SPLIT_FILES:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    return config.cache_dir() / "images" / f"mnist-{split}-float32.npy"


def _mapped_float(split: str, images: np.ndarray, chunk: int = 10_000) -> torch.Tensor:
    """The float images of a whole split (N, 784), as a copy-on-write mapping of :func:`float_file`.

    The pages are the system's file cache, not this kernel's own memory: two kernels that load
    the training set (a learner's notebooks side by side on Binder) share one copy of its 188 MB,
    and under memory pressure the system can drop the pages and read them again instead of
    running out. A learner's in-place change copies only the pages it touches, privately, so the
    tensor is still theirs to modify and the file never changes. Each load checks the file
    against the verified IDX images, bit for bit (80 ms for the training set); a missing or
    damaged file is rebuilt (atomically, ``chunk`` rows at a time). Where no file can be written
    or mapped (a read-only cache, a full disk, ``COURSE_MAP_IMAGES=0``), a plain copy is made."""
    if not _mapping_on():
        return _to_float(images)
    path = float_file(split)
    for attempt in range(2):
        wrote = attempt or not path.is_file()
        try:
            if wrote:
                path.parent.mkdir(parents=True, exist_ok=True)
                write_atomic(path, lambda tmp: _write_float(tmp, images, chunk))
            x = torch.from_numpy(np.load(path, mmap_mode="c", allow_pickle=False))
        except (OSError, ValueError):  # unreadable: damaged -> rebuilt once; a failed write is not retried
            if wrote:
                break
            continue
        if _unchanged(x, images, None, chunk):
            return x
        del x
    return _to_float(images)


def _write_float(tmp: str, images: np.ndarray, chunk: int) -> None:
    """Write ``images`` / 255 as a float32 ``.npy`` file, ``chunk`` rows at a time (no full copy)."""
    out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=images.shape)
    for i in range(0, len(images), chunk):
        out[i:i + chunk] = _to_float(images[i:i + chunk]).numpy()
    out.flush()
    del out


def _balanced_indices(labels: np.ndarray, n: int, seed: int) -> np.ndarray:
    """``n`` indices with the classes as equal as possible, deterministic for ``seed``."""
    rng = np.random.default_rng(seed)
    classes = np.unique(labels)
    per_class = np.full(len(classes), n // len(classes))
    per_class[rng.permutation(len(classes))[: n % len(classes)]] += 1
    chosen = []
    for c, k in zip(classes, per_class):
        pool = np.flatnonzero(labels == c)
        k = min(int(k), len(pool))
        chosen.append(rng.choice(pool, size=k, replace=False))
    idx = np.concatenate(chosen)
    if len(idx) < n:  # a class ran short: top up from the rest
        rest = np.setdiff1d(np.arange(len(labels)), idx)
        idx = np.concatenate([idx, rng.choice(rest, size=n - len(idx), replace=False)])
    return np.sort(idx)


#: The images each (folder, split, n, seed) was last loaded as, held weakly: while the caller keeps
#: them, :func:`shared_images` can hand them to code that only reads them.
_ISSUED: dict[tuple, weakref.ref] = {}


def load_mnist(
    split: str = "train", n: int | None = None, root: str | Path | None = None, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Load MNIST as flat images and labels.

    Args:
        split: ``"train"`` (60 000 images) or ``"test"`` (10 000 images).
        n: if given, a class-balanced subset of ``n`` images, deterministic for ``seed``.
        root: folder holding ``MNIST/raw/``; default ``COURSE_DATA_DIR`` or a per-user cache.
        seed: seed of the subset choice.

    Returns:
        ``(images, labels)``: float32 (N, 784) in [0, 1] and int64 (N,), yours to modify. A whole
        split (``n`` None or the split's size) is a copy-on-write mapping of a verified float
        file in the model cache, shared with other kernels until changed (see ``_mapped_float``);
        a subset is a fresh copy.

    Raises:
        ValueError: unknown split, or ``n`` not in 1..size of the split.
        MNISTError: files missing and not downloadable, or corrupt; the message says how to fix it.
    """
    return _issue(*_locate(split, n, root, seed))


def _issue(key: tuple, images: np.ndarray, labels: np.ndarray, idx: np.ndarray | None):
    """Fresh float images and int64 labels of ``images[idx]``; remember the images under ``key``."""
    tune_heap()  # MNIST-sized arrays from here on: keep freed ones off the heap (see memory)
    tune_threads()  # and as many torch threads as the CPUs this process may use (see device)
    if idx is not None:
        images, labels = images[idx], labels[idx]
        x = _to_float(images)
    else:
        x = _mapped_float(key[1], images)
    for k in [k for k, ref in _ISSUED.items() if ref() is None]:
        del _ISSUED[k]
    _ISSUED[key] = weakref.ref(x)
    return x, torch.from_numpy(labels.astype(np.int64))


def _locate(split: str, n, root, seed: int):
    """Check the arguments of :func:`load_mnist`; return ``(key, raw images, raw labels, indices)``
    (indices ``None`` for the whole split)."""
    if not isinstance(split, str) or split not in _SPLIT_FILES:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    seed = check_seed(seed)
    raw = ensure_mnist(root)
    images, labels = _load_split(str(raw), split)
    if isinstance(n, bool) or n is not None and (not isinstance(n, (int, np.integer)) or not 1 <= n <= len(labels)):
        raise ValueError(f"n must be an integer from 1 to {len(labels)} for split {split!r}, got {n!r}")
    if n is None or n == len(labels):  # a balanced subset of every image is the whole split, in order
        return (str(raw), split, None, None), images, labels, None
    return (str(raw), split, int(n), int(seed)), images, labels, _balanced_indices(labels, int(n), seed)


def shared_images(split: str = "train", n: int | None = None, root: str | Path | None = None,
                  seed: int = 0, chunk: int = 10_000) -> torch.Tensor:
    """The images of ``load_mnist(split, n, root, seed)`` (N, 784), for code that only reads them.

    If the images of an earlier call with the same arguments are still held (a notebook's
    ``x_train``) and still exactly what the files give (compared ``chunk`` rows at a time, so a
    learner's in-place change is noticed), those very images are returned instead of a second
    copy: 188 MB saved for the 60 000 training images. Otherwise they are loaded afresh (and
    shared from then on). Never modify the result; use :func:`load_mnist` for a copy of your own.
    """
    if isinstance(chunk, bool) or not isinstance(chunk, int) or not 1 <= chunk <= 10**9:
        raise ValueError(f"chunk must be a positive integer, got {chunk!r}")
    key, images, labels, idx = _locate(split, n, root, seed)
    ref = _ISSUED.get(key)
    x = ref() if ref is not None else None
    if x is not None and _unchanged(x, images, idx, chunk):
        return x
    return _issue(key, images, labels, idx)[0]  # located once: no second file check or subset draw


def image_chunks(split: str = "train", n: int | None = None, root: str | Path | None = None,
                 seed: int = 0, chunk: int = 10_000):
    """The images of ``load_mnist(split, n, root, seed)``, ``chunk`` rows at a time: an iterator of
    float32 tensors (≤ chunk, 784), the same rows in the same order, for code that reads each image
    once (notebook 07's arithmetic-coder tables). Only one chunk is in memory at a time (31 MB for
    10 000 rows) instead of 188 MB for the 60 000 training images. Always converted from the
    verified files (never a notebook's shared copy, which a learner may have changed). Arguments
    are checked here, before the first chunk."""
    if isinstance(chunk, bool) or not isinstance(chunk, int) or not 1 <= chunk <= 10**9:
        raise ValueError(f"chunk must be a positive integer, got {chunk!r}")
    _, images, _, idx = _locate(split, n, root, seed)
    rows = len(images) if idx is None else len(idx)
    tune_heap()
    return (_to_float(images[i:i + chunk] if idx is None else images[idx[i:i + chunk]])
            for i in range(0, rows, chunk))


def _unchanged(x: torch.Tensor, images: np.ndarray, idx: np.ndarray | None, chunk: int) -> bool:
    """Whether ``x`` still equals the float images of ``images[idx]``, bit for bit."""
    rows = len(images) if idx is None else len(idx)
    if (x.dtype != torch.float32 or x.device.type != "cpu" or x.requires_grad
            or tuple(x.shape) != (rows, images.shape[1])):
        return False
    for i in range(0, rows, chunk):
        part = images[i:i + chunk] if idx is None else images[idx[i:i + chunk]]
        if not torch.equal(x[i:i + chunk], _to_float(part)):
            return False
    return True


def add_noise(
    x: torch.Tensor,
    kind: str = "gaussian",
    level: float = 0.3,
    clip: bool = False,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Corrupt images ``x`` (any shape, values in [0, 1]); returns a new tensor of the same shape.

    Kinds:
        ``"gaussian"``: ``x + level * N(0, 1)``, the seminar's corruption (not clipped by default,
        exactly as the seminar did; ``clip=True`` clips to [0, 1]).
        ``"masking"``: each pixel set to 0 with probability ``level``.
        ``"salt_pepper"``: each pixel set to 0 or 1 (equally likely) with probability ``level``.

    ``x`` must be a floating-point tensor (float16 / bfloat16 / float64 are kept as they are) without
    NaN or infinity; integer tensors and images in 0..255 (non-negative with values above 1: the
    forgotten ``/ 255``) are refused with a ValueError. ``generator`` makes the noise reproducible
    (it must be a ``torch.Generator`` on ``x``'s device).
    """
    corrupt = noise_function(kind, level, clip)
    check_images(x, "x", ndim=None, pixels=True)
    if generator is not None and not isinstance(generator, torch.Generator):
        raise ValueError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
    return corrupt(x, generator)


def noise_function(kind: str = "gaussian", level: float = 0.3,
                   clip: bool = False) -> Callable[[torch.Tensor, torch.Generator | None], torch.Tensor]:
    """The corruption ``f(x, generator) -> noisy x`` of :func:`add_noise`, its settings checked once
    here: the returned function does not scan ``x`` (training calls it on every batch)."""
    if not isinstance(kind, str) or kind not in NOISE_KINDS:
        raise ValueError(f"unknown noise kind {kind!r}; expected one of {NOISE_KINDS}")
    if not isinstance(level, (int, float)) or isinstance(level, bool) or not math.isfinite(level):
        raise ValueError(f"noise level must be a finite number, got {level!r}")
    if level < 0:
        raise ValueError(f"noise level must be >= 0, got {level}")
    if kind != "gaussian" and level > 1:
        raise ValueError(f"{kind} noise level is a probability in [0, 1], got {level}")
    if not isinstance(clip, bool):
        raise ValueError(f"clip must be True or False, got {clip!r}")
    return functools.partial(_corrupt, kind=kind, level=float(level), clip=clip)


def _corrupt(x: torch.Tensor, generator: torch.Generator | None, *, kind: str, level: float,
             clip: bool) -> torch.Tensor:
    """``x`` corrupted with checked settings (see :func:`add_noise`)."""
    if kind == "gaussian":
        noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        out = x + level * noise
    else:
        hit = torch.rand(x.shape, generator=generator, device=x.device) < level
        if kind == "masking":
            out = x.masked_fill(hit, 0.0)
        else:
            salt = torch.rand(x.shape, generator=generator, device=x.device) < 0.5
            out = torch.where(hit, salt.to(x.dtype), x)
    return out.clamp(0.0, 1.0) if clip else out


def check_images(x: torch.Tensor, name: str = "x", dim: int | None = None, *, ndim: int | None = 2,
                 pixels: bool = False) -> None:
    """Raise ValueError unless ``x`` is a finite floating-point tensor of shape (N, dim) with N >= 1.

    ``ndim=None`` accepts any shape with at least one value. With ``pixels``, the values are pixel
    intensities: non-negative values above 1 are images in 0..255 (the forgotten ``/ 255``) and are
    refused (negative values are not: a noisy or standardised input has them). One ``aminmax``
    pass over ``x``, no (N, D) temporary.
    """
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor of shape (N, D), got {type(x).__name__}")
    if ndim is not None and (x.dim() != ndim or x.shape[0] < 1):
        want = f"(N, {dim})" if dim else "(N, D)"
        raise ValueError(f"{name} must have shape {want} with N >= 1, got {tuple(x.shape)}")
    if x.numel() == 0:
        raise ValueError(f"{name} must hold at least one value, got shape {tuple(x.shape)}")
    if dim is not None and x.shape[-1] != dim:
        raise ValueError(f"{name} must have shape (N, {dim}), got {tuple(x.shape)}")
    if not x.is_floating_point():
        hint = " — convert with x.float() / 255" if pixels or x.dtype == torch.uint8 else ""
        raise ValueError(f"{name} must be a floating-point tensor, got dtype {x.dtype}{hint}")
    lo, hi = (float(v) for v in torch.aminmax(x.detach()))  # NaN propagates to both
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"{name} contains NaN or infinite values (expected finite numbers)")
    if pixels and lo >= 0 and hi > 1:
        raise ValueError(f"{name}: expected pixel values in [0, 1], got max {hi:g} — divide by 255")


def check_seed(seed, name: str = "seed") -> int:
    """``seed`` as an int, or a ValueError unless it is an integer in 0..2**32 - 1."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**32:
        raise ValueError(f"{name} must be an integer in 0..2**32 - 1, got {seed!r}")
    return int(seed)


def check_ints(values, name: str, lo: int, hi: int) -> list[int]:
    """``values`` as a list of ints, or a ValueError unless it is a non-empty sequence of integers
    from ``lo`` to ``hi``."""
    if not all(isinstance(b, int) and not isinstance(b, bool) for b in (lo, hi)):
        raise ValueError(f"lo and hi must be integers, got {lo!r} and {hi!r}")
    want = f"{name} must be a non-empty sequence of integers from {lo} to {hi}"
    if isinstance(values, (str, bytes, dict)) or not hasattr(values, "__iter__"):
        raise ValueError(f"{want}, got {values!r}")
    out = list(values)
    if not out or any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not lo <= v <= hi
                      for v in out):
        raise ValueError(f"{want}, got {out!r}")
    return [int(v) for v in out]


# --- the lessons' splits and their noisy test copy -------------------------------------------------

def mnist_test(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x_test (N, 784), y_test (N,))``: the ``config.size("mnist_test")`` class-balanced test images
    every lesson reports errors on."""
    return load_mnist("test", n=config.size("mnist_test"), seed=seed)


def mnist_split(seed: int = 0):
    """The lessons' MNIST subsets: ``(x_train, y_train, x_test, y_test)`` with
    ``config.size("mnist_train")`` / ``config.size("mnist_test")`` class-balanced images (notebooks 04–07)."""
    x, y = load_mnist("train", n=config.size("mnist_train"), seed=seed)
    return (x, y, *mnist_test(seed))


def split_images(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x_train, x_test)`` of :func:`mnist_split` for code that only reads them (training a cached
    model): the notebook's own unchanged copies when it holds them (:func:`shared_images`)."""
    return (shared_images("train", n=config.size("mnist_train"), seed=seed),
            shared_images("test", n=config.size("mnist_test"), seed=seed))


def noise_spec(kind: str = "gaussian", level: float = 0.3) -> dict:
    """``{"kind", "level"}`` for :func:`add_noise`, checked: ``kind`` one of NOISE_KINDS, ``level`` in [0, 1]."""
    if isinstance(kind, bool) or kind not in NOISE_KINDS:
        raise ValueError(f"noise kind must be one of {NOISE_KINDS}, got {kind!r}")
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 <= level <= 1:
        raise ValueError(f"noise level must be a number in [0, 1], got {level!r}")
    return {"kind": kind, "level": float(level)}


#: Seed of the one fixed noisy copy of the test images that every error of notebook 06 is measured on.
EVAL_NOISE_SEED: int = 1


def noisy_test(kind: str = "gaussian", level: float = 0.3, n: int | None = None) -> tuple:
    """``(clean, noisy)`` (N, 784) each: the first ``n`` (default all) lesson test images and one
    fixed corrupted copy (seed EVAL_NOISE_SEED), so every method of notebook 06 sees the same noise.

    ``clean`` is :func:`shared_images`' copy of the test images: the notebook's own ``x_test`` (or
    the first ``n`` rows of it) when it holds them unchanged, not a copy of its own (31 MB per
    call kept: notebook 06 keeps three). Read it, never modify it; ``noisy`` is a new tensor."""
    spec = noise_spec(kind, level)
    xt = shared_images("test", n=config.size("mnist_test"))
    if n is not None:
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= len(xt):
            raise ValueError(f"n must be an integer in 1..{len(xt)}, got {n!r}")
        xt = xt[:n]
    return xt, add_noise(xt, generator=torch.Generator().manual_seed(EVAL_NOISE_SEED), **spec)


def labels(split: str = "train", n: int | None = None, root: str | Path | None = None, seed: int = 0) -> torch.Tensor:
    """The int64 labels (N,) of ``load_mnist(split, n, root, seed)``, without making a float copy of the
    images (notebook 09's digit classifier trains on one-hot labels of the shared training images)."""
    _, _, raw_labels, idx = _locate(split, n, root, seed)
    return torch.from_numpy((raw_labels if idx is None else raw_labels[idx]).astype(np.int64))


def shift_images(x: torch.Tensor, dx: int, dy: int) -> torch.Tensor:
    """Images (N, 784) moved by whole pixels, ``dx`` to the right and ``dy`` down (negative: left / up),
    the pixels moved in set to 0 (the background); (N, 784), a new tensor. Notebook 10's shifted digits."""
    check_images(x, "x", 784, pixels=True)
    for name, v in (("dx", dx), ("dy", dy)):
        if isinstance(v, bool) or not isinstance(v, int) or not -27 <= v <= 27:
            raise ValueError(f"{name} must be a whole number of pixels from -27 to 27, got {v!r}")
    img = x.reshape(-1, 28, 28)
    out = torch.zeros_like(img)
    h, w = slice(max(dy, 0), 28 + min(dy, 0)), slice(max(dx, 0), 28 + min(dx, 0))
    out[:, h, w] = img[:, max(-dy, 0):28 - max(dy, 0), max(-dx, 0):28 - max(dx, 0)]
    return out.reshape(-1, 784)


def nearest_distance(x: torch.Tensor, reference: torch.Tensor, chunk: int = 256) -> torch.Tensor:
    """Euclidean distance from each row of ``x`` (N, D) to its nearest row of ``reference`` (M, D):
    (N,) float32. How far an image lies from the data (notebooks 04, 08, 09: is a decoded or
    blended image near any training digit?); square it and divide by D for a per-pixel MSE.

    ``chunk`` rows of ``x`` at a time, as ‖a‖² + ‖b‖² − 2 a·b with one matrix product per chunk
    (chunk × M floats: 61 MB for 256 rows against the 60 000 training images). Not ``torch.cdist``:
    it pads a copy of ``reference`` for every call (188 MB more for the training set) and was
    measured 2× slower here. Rounding errs by about 1e-4 in the square: a row of ``reference``
    itself may come out at ~0.01 rather than 0 (a negative square is clamped to 0).
    """
    for name, t in (("x", x), ("reference", reference)):
        if not isinstance(t, torch.Tensor) or t.dim() != 2 or not t.is_floating_point() or len(t) == 0:
            raise ValueError(f"{name} must be a non-empty 2-D float tensor (rows of pixels), got "
                             f"{tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__}"
                             f"{'' if not isinstance(t, torch.Tensor) or t.is_floating_point() else ' ' + str(t.dtype)}")
    if x.shape[1] != reference.shape[1]:
        raise ValueError(f"x and reference must have the same row length, got {x.shape[1]} and {reference.shape[1]}")
    if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
        raise ValueError(f"chunk must be a positive integer, got {chunk!r}")
    reference = reference.detach().float()
    out = []
    with torch.no_grad():
        ref_sq = torch.linalg.vector_norm(reference, dim=1).square_()   # (M,), without an (M, D) temporary
        for name, sq in (("reference", ref_sq), ("x", torch.linalg.vector_norm(x.detach().float(), dim=1))):
            if not bool(torch.isfinite(sq).all()):
                raise ValueError(f"{name} must hold finite numbers (no NaN or infinity)")
        for a in x.detach().float().split(chunk):
            d2 = torch.addmm(ref_sq, a, reference.T, alpha=-2.0)       # ‖b‖² − 2 a·b, (chunk, M)
            out.append(d2.min(1).values.add_(torch.linalg.vector_norm(a, dim=1).square_()).clamp_min_(0).sqrt_())
    return torch.cat(out)

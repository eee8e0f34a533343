"""Choosing where tensors live (CUDA, Apple MPS or CPU) and describing the runtime.

Imports nothing of ours.
"""
from __future__ import annotations

import ctypes
import functools
import math
import threading
import os
import platform
import sys
from collections.abc import Mapping
from pathlib import Path

import torch

__all__ = ["pick_device", "describe_runtime", "runtime_info", "on_colab", "on_binder",
           "cgroup_cpu_quota", "available_cpus", "choose_threads", "tune_threads", "flushes_denormals",
           "flush_denormals"]

_KINDS = ("cuda", "mps", "cpu")


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def pick_device(prefer: str | torch.device | None = None) -> torch.device:
    """The device to train on: ``prefer``, else ``COURSE_DEVICE``, else cuda, then mps, then cpu.

    ``prefer`` may be ``"cuda"``, ``"cuda:1"``, ``"mps"``, ``"cpu"`` or a ``torch.device``.
    Asking for a device that is not there raises ValueError naming what is available.
    """
    if prefer is not None and (isinstance(prefer, bool) or not isinstance(prefer, (str, torch.device))):
        raise ValueError(f"prefer must be a device name such as 'cpu', a torch.device or None, got {prefer!r}")
    choice = prefer if prefer is not None else (os.environ.get("COURSE_DEVICE") or None)
    if choice is None:
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(choice)
    except (RuntimeError, TypeError):
        raise ValueError(f"unknown device {choice!r}; expected one of {_KINDS}") from None
    if dev.type not in _KINDS:
        raise ValueError(f"unknown device {choice!r}; expected one of {_KINDS}")
    available = [k for k, ok in (("cuda", torch.cuda.is_available()), ("mps", _mps_available()),
                                 ("cpu", True)) if ok]
    if dev.type not in available:
        raise ValueError(f"device {choice!r} is not available here; available: {available}")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise ValueError(f"device {choice!r} does not exist: {torch.cuda.device_count()} GPU(s)")
    return dev


def on_colab() -> bool:
    """True inside Google Colab."""
    return "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ


def on_binder() -> bool:
    """True on mybinder.org (repo2docker images started by BinderHub)."""
    return any(k in os.environ for k in ("BINDER_LAUNCH_HOST", "BINDER_REQUEST", "BINDER_REPO_URL"))


# --- threads: as many as the CPUs this process may really use ------------------------------------

def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None


def _cgroup_paths(proc_cgroup: Path) -> tuple[str | None, str | None]:
    """(v2 path, v1 path of the ``cpu`` controller) of this process, from ``/proc/self/cgroup``
    (lines ``id:controllers:path``; v2 is the line ``0::path``)."""
    v2 = v1 = None
    for line in (_read(proc_cgroup) or "").splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        if controllers == "":
            v2 = path
        elif "cpu" in controllers.split(","):
            v1 = path
    return v2, v1


def _ancestors(mount: Path, path: str | None) -> list[Path]:
    """The folders of ``path`` under ``mount`` and every parent up to ``mount`` itself (a quota on
    any of them limits the process). A path that does not exist under ``mount`` (a container's
    cgroup namespace shows its own cgroup as the mount's root) leaves just ``mount``."""
    rel = [p for p in (path or "/").split("/") if p]
    folders = [mount.joinpath(*rel[:k]) for k in range(len(rel), 0, -1)]
    return [f for f in folders if f.is_dir()] + [mount]


def _quota_v2(folder: Path) -> float | None:
    text = _read(folder / "cpu.max")  # "max 100000" or "150000 100000"
    if not text:
        return None
    fields = text.split()
    try:
        quota, period = int(fields[0]), int(fields[1]) if len(fields) > 1 else 100_000
    except ValueError:  # "max": no limit
        return None
    return quota / period if quota > 0 and period > 0 else None


def _quota_v1(folder: Path) -> float | None:
    quota, period = _read(folder / "cpu.cfs_quota_us"), _read(folder / "cpu.cfs_period_us")
    try:
        q, p = int(quota or ""), int(period or "")
    except ValueError:
        return None
    return q / p if q > 0 and p > 0 else None  # -1: no limit


def _check_path(value, name: str) -> Path:
    if isinstance(value, bool) or not isinstance(value, (str, os.PathLike)):
        raise ValueError(f"{name} must be a path (str or os.PathLike), got {type(value).__name__}")
    return Path(value)


def cgroup_cpu_quota(cgroup_root: str | os.PathLike = "/sys/fs/cgroup",
                     proc_cgroup: str | os.PathLike = "/proc/self/cgroup") -> tuple[float | None, str]:
    """(CPUs' worth of time the cgroup CPU quota allows this process, or None for no quota; the file
    that said so). Reads the process's own cgroup from ``proc_cgroup`` and its quota, or the lowest
    of its ancestors', under ``cgroup_root``: v2 ``cpu.max`` (at the root or in ``unified/``), else
    v1 ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us`` (in ``cpu/`` or ``cpu,cpuacct/``)."""
    root = _check_path(cgroup_root, "cgroup_root")
    v2, v1 = _cgroup_paths(_check_path(proc_cgroup, "proc_cgroup"))
    found: list[tuple[float, Path]] = []
    for mount in (root, root / "unified"):
        if (mount / "cgroup.controllers").exists() or (mount / "cpu.max").exists():
            found += [(q, f / "cpu.max") for f in _ancestors(mount, v2) if (q := _quota_v2(f)) is not None]
    for name in ("cpu", "cpu,cpuacct", "cpuacct,cpu"):
        mount = root / name
        if mount.is_dir():
            found += [(q, f / "cpu.cfs_quota_us") for f in _ancestors(mount, v1)
                      if (q := _quota_v1(f)) is not None]
            break
    if not found:
        return None, ""
    quota, where = min(found, key=lambda t: t[0])
    return quota, str(where)


def available_cpus(affinity: set[int] | None = None, cgroup_root: str | os.PathLike = "/sys/fs/cgroup",
                   proc_cgroup: str | os.PathLike = "/proc/self/cgroup") -> tuple[int, str]:
    """(how many CPUs this process may really use, why): the CPUs of its affinity mask
    (``os.sched_getaffinity``; ``affinity`` to pass one), lowered to the cgroup CPU quota (rounded
    down, at least 1) when there is one. ``os.cpu_count()`` counts the machine's cores, which a
    container (Binder, Colab, Docker with ``--cpus``) may use only a fraction of."""
    if affinity is not None and (not isinstance(affinity, (set, frozenset)) or not affinity
                                 or not all(isinstance(c, int) and not isinstance(c, bool) and c >= 0
                                            for c in affinity)):
        raise ValueError(f"affinity must be a non-empty set of CPU numbers (as os.sched_getaffinity gives) "
                         f"or None, got {affinity!r}")
    if affinity is None:
        try:
            affinity = os.sched_getaffinity(0)
        except (AttributeError, OSError):  # macOS, Windows: no affinity mask
            affinity = set(range(os.cpu_count() or 1))
    n = max(len(affinity), 1)
    why = f"{n} CPU(s) in the affinity mask"
    quota, where = cgroup_cpu_quota(cgroup_root, proc_cgroup)
    if quota is not None:
        q = max(1, math.floor(quota + 1e-9))
        why += f", cgroup CPU quota {quota:g} CPU(s) ({where})"
        if q < n:
            n = q
    return n, why


def _threads_override(value: str) -> int:
    """``COURSE_THREADS`` as a positive integer, or one ValueError saying what was expected."""
    try:
        n = int(value.strip())
    except ValueError:
        n = 0
    if n < 1 or str(n) != value.strip():
        raise ValueError(f"COURSE_THREADS must be a positive whole number of threads such as 1 or 2, "
                         f"got {value!r}")
    return n


def choose_threads(current: int | None = None, *, environ: dict | None = None,
                   affinity: set[int] | None = None, cgroup_root: str | os.PathLike = "/sys/fs/cgroup",
                   proc_cgroup: str | os.PathLike = "/proc/self/cgroup") -> tuple[int, str]:
    """(PyTorch's intra-op thread count for this process, why), without setting it.

    ``COURSE_THREADS`` in ``environ`` (default ``os.environ``) wins (a positive integer, else a
    ValueError). Otherwise: ``current`` (default ``torch.get_num_threads()``, which already follows
    ``OMP_NUM_THREADS`` or an earlier ``torch.set_num_threads``) lowered to :func:`available_cpus`,
    and on Binder without any quota to 2, the share a Binder container gets (as ``binder/start``).
    More threads than CPUs of quota make every thread wait for the others: on a loaded 2-core
    machine two threads trained 30x slower than one (issue 17)."""
    if environ is not None and not isinstance(environ, Mapping):
        raise ValueError(f"environ must be a mapping of environment variables or None, got {type(environ).__name__}")
    if current is not None and (isinstance(current, bool) or not isinstance(current, int) or current < 1):
        raise ValueError(f"current must be a positive number of threads or None, got {current!r}")
    env = os.environ if environ is None else environ
    if str(env.get("COURSE_THREADS", "")).strip():
        n = _threads_override(str(env["COURSE_THREADS"]))
        return n, f"COURSE_THREADS={n}"
    if current is None:
        current = torch.get_num_threads()
    cpus, why = available_cpus(affinity, cgroup_root, proc_cgroup)
    if "quota" not in why and any(k in env for k in ("BINDER_LAUNCH_HOST", "BINDER_REQUEST", "BINDER_REPO_URL")):
        cpus, why = min(cpus, 2), why + "; on Binder without a quota: at most 2"
    n = max(1, min(current, cpus))
    return n, f"{why}; torch would use {current}" + ("" if n == current else f", lowered to {n}")


@functools.cache
def tune_threads() -> tuple[int, str]:
    """Set PyTorch's threads to :func:`choose_threads` once per process and return (count, why);
    later calls return the first answer. Applied by ``data.load_mnist`` and ``training.fit`` (as
    ``memory.tune_heap``), not on import. A ValueError for a bad ``COURSE_THREADS`` is raised on
    every call (not cached)."""
    n, why = choose_threads()
    if n != torch.get_num_threads():
        torch.set_num_threads(n)
    return n, why


# --- denormal floats: flushed to zero while training (notebook 06's seminar model) ----------------

_TINY = 1e-39  # below float32's smallest normal number (1.18e-38): a denormal


def flushes_denormals() -> bool:
    """Whether this thread flushes denormal floats to zero now (torch has a setter,
    ``torch.set_flush_denormal``, but no getter: this computes one denormal product and looks)."""
    t = torch.tensor([_TINY, 1.0], dtype=torch.float32)
    return bool(t[0] * t[1] == 0)


_CALLBACK = ctypes.CFUNCTYPE(None, ctypes.c_void_p)


@functools.cache
def _openmp_library():
    """The OpenMP runtime torch runs its threads on (``libgomp``, or ``libiomp5`` which offers the
    same entry point), already loaded in this process (torch loads it on import); None elsewhere
    (macOS, Windows). Looked up once per process."""
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return None
    paths = sorted({line.split(None, 5)[-1] for line in maps.splitlines()
                    if ("libgomp" in line or "libiomp5" in line) and line.rstrip().endswith(".so.1")
                    or line.rstrip().endswith("libiomp5.so")})
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
            lib.GOMP_parallel.argtypes = [_CALLBACK, ctypes.c_void_p, ctypes.c_uint, ctypes.c_uint]
            lib.GOMP_parallel.restype = None
            return lib
        except (OSError, AttributeError):
            continue
    return None


def _on_every_thread(fn) -> bool:
    """Run ``fn()`` on the calling thread and on each of torch's OpenMP worker threads (one
    parallel region of ``torch.get_num_threads()`` threads); False when that is not possible, in
    which case only the calling thread ran it."""
    lib = _openmp_library() if torch.get_num_threads() > 1 else None
    if lib is None:
        fn()
        return torch.get_num_threads() == 1
    errors: list[BaseException] = []

    def body(_):
        try:
            fn()
        except BaseException as err:  # noqa: BLE001 - reported on the calling thread
            errors.append(err)

    cb = _CALLBACK(body)
    lib.GOMP_parallel(cb, None, torch.get_num_threads(), 0)
    if errors:
        raise errors[0]
    return True


class flush_denormals:
    """``with flush_denormals():`` flushes denormal floats to zero on this thread and on every
    PyTorch worker thread, then gives each thread back the setting it had (also after an error).

    Why: the seminar's sigmoid network (notebook 06) saturates, and its gradients fill with
    denormal floats, which Intel CPUs handle about ten times slower than normal ones (its training
    ran at 1.0–1.1k images/s, and at 8.7–11k flushed). ``torch.set_flush_denormal(True)`` alone
    reaches only the calling thread: worker threads keep the setting they were created with.
    Training results change only in values below 1.2e-38. ``fit`` uses it on the CPU.
    """

    def __init__(self, enabled: bool = True):
        if not isinstance(enabled, bool):
            raise ValueError(f"enabled must be True or False, got {enabled!r}")
        self.enabled = enabled
        self._before: dict[int, bool] = {}
        self.every_thread = False

    def _set(self) -> None:
        self._before[threading.get_ident()] = flushes_denormals()
        torch.set_flush_denormal(self.enabled)

    def _restore(self) -> None:
        before = self._before.get(threading.get_ident(), self._main)
        if flushes_denormals() != before:
            torch.set_flush_denormal(before)

    def __enter__(self) -> "flush_denormals":
        self._main = flushes_denormals()
        self._before = {}
        if torch.set_flush_denormal(self.enabled) or not self.enabled:  # False: not supported here
            torch.set_flush_denormal(self._main)
            self.every_thread = _on_every_thread(self._set)
        return self

    def __exit__(self, *exc) -> bool:
        if self._before:
            _on_every_thread(self._restore)
            main = self._before.get(threading.get_ident(), self._main)
            if flushes_denormals() != main:
                torch.set_flush_denormal(main)
        return False


def runtime_info(device: torch.device | None = None) -> dict[str, str]:
    """Facts about this runtime as strings: device, versions, platform. ``device``: as for
    :func:`pick_device` (a name or a ``torch.device``; ValueError for one that is unknown or absent)."""
    import matplotlib
    import numpy as np

    if device is not None and not isinstance(device, (str, torch.device)):
        raise ValueError(f"device must be a device name such as 'cpu', a torch.device or None, got {device!r}")
    dev = pick_device(device)
    info = {
        "device": str(dev),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "matplotlib": matplotlib.__version__,
        "cpu threads": "{} ({})".format(*tune_threads()),
        "platform": "Colab" if on_colab() else ("Binder" if on_binder() else "local"),
    }
    try:  # the installed version, read without importing torchvision (that alone costs ~150 MB of memory)
        from importlib import metadata
        info["torchvision"] = metadata.version("torchvision")
    except metadata.PackageNotFoundError:  # pragma: no cover - torchvision is a requirement
        info["torchvision"] = "missing"
    try:
        import ipywidgets
        info["ipywidgets"] = ipywidgets.__version__
    except ImportError:  # pragma: no cover
        info["ipywidgets"] = "missing"
    if dev.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(dev)
    return info


def describe_runtime(device: torch.device | None = None) -> dict[str, str]:
    """Print where the course runs (device, versions, Colab/Binder) and return the facts.

    On a Colab CPU runtime it says how to switch to a GPU.
    """
    info = runtime_info(device)
    width = max(len(k) for k in info)
    for k, v in info.items():
        print(f"{k:>{width}}: {v}")
    if info["device"] == "cpu":
        if on_colab():
            print("Tip: this Colab runtime has no GPU. Runtime → Change runtime type → "
                  "Hardware accelerator: GPU, then run the notebook again (training gets ~10x faster).")
        else:
            print("Running on the CPU: every lesson is sized to finish in minutes on 2 cores.")
    return info


class one_thread:
    """``with one_thread():`` runs small scikit-learn / PyTorch jobs on one thread, then restores the
    thread counts. t-SNE, Isomap, LLE and a tiny network are dominated by thread synchronisation: on a
    busy 2-core machine one thread was 10x faster (notebooks 02–03)."""

    def __enter__(self) -> "one_thread":
        from threadpoolctl import threadpool_limits

        self._limits = threadpool_limits(limits=1)
        self._torch = torch.get_num_threads()
        torch.set_num_threads(1)
        return self

    def __exit__(self, *exc) -> bool:
        torch.set_num_threads(self._torch)
        self._limits.restore_original_limits()
        return False

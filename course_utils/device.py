"""Choosing where tensors live (CUDA, Apple MPS or CPU) and describing the runtime.

Imports nothing of ours.
"""
from __future__ import annotations

import os
import platform
import sys

import torch

__all__ = ["pick_device", "describe_runtime", "runtime_info", "on_colab", "on_binder"]

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
        "cpu threads": str(torch.get_num_threads()),
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

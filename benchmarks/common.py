"""Shared helpers: the machine description, timers, and result rows for the table."""
from __future__ import annotations

import os
import platform
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def setup_environment() -> None:
    """Point COURSE_DATA_DIR at the offline MNIST copy beside the repository, when there is one.

    Same rule as tests/conftest.py: an explicit COURSE_DATA_DIR wins; no benchmark downloads.
    """
    offline = REPO.parent / "shared" / "data"
    if not os.environ.get("COURSE_DATA_DIR") and (offline / "MNIST" / "raw").is_dir():
        os.environ["COURSE_DATA_DIR"] = str(offline)
    os.environ.setdefault("MPLBACKEND", "Agg")


def load_average() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (OSError, AttributeError):
        return None


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict:
    """What the figures were measured on, including how busy the machine was at the start."""
    import torch

    info = {
        "host": platform.node(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "load_average_start": load_average(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }
    return info


def busy(load: list[float] | None, cores: int | None) -> bool | None:
    """True when the 1-minute load average exceeded half the cores: figures are preliminary."""
    if not load or not cores:
        return None
    return load[0] > 0.5 * cores


def sync(device) -> None:
    import torch

    dev = torch.device(device)
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    elif dev.type == "mps":
        torch.mps.synchronize()


def timed(fn, device="cpu") -> float:
    """Seconds taken by ``fn()``, synchronising the device before and after."""
    sync(device)
    t = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - t


def row(metric: str, value, unit: str = "", target: str = "", ok: bool | None = None) -> dict:
    """One line of the printed table."""
    return {"metric": metric, "value": value, "unit": unit, "target": target, "ok": ok}

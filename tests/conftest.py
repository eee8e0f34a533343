"""Test configuration: real MNIST from the offline folder, a throwaway model cache.

If COURSE_DATA_DIR is not set and the repository sits beside ``shared/data`` (as on the course's
test machines), point the data folder there so no test ever downloads. Notebooks run by nbval
inherit these variables, because the kernel starts from this process's environment.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_offline = ROOT.parent / "shared" / "data"
if not os.environ.get("COURSE_DATA_DIR") and (_offline / "MNIST" / "raw").is_dir():
    os.environ["COURSE_DATA_DIR"] = str(_offline)
elif os.environ.get("COURSE_DATA_DIR"):
    os.environ["COURSE_DATA_DIR"] = str(Path(os.environ["COURSE_DATA_DIR"]).expanduser().resolve())
if os.environ.get("COURSE_CACHE_DIR"):
    os.environ["COURSE_CACHE_DIR"] = str(Path(os.environ["COURSE_CACHE_DIR"]).expanduser().resolve())
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture
def tmp_cache(tmp_path, monkeypatch):
    """An empty COURSE_CACHE_DIR for one test."""
    d = tmp_path / "cache"
    monkeypatch.setenv("COURSE_CACHE_DIR", str(d))
    return d


@pytest.fixture(scope="session")
def mnist_small():
    """A small class-balanced MNIST subset: (x_train (2000, 784), y_train, x_test (500, 784), y_test)."""
    from course_utils.data import load_mnist

    x, y = load_mnist("train", n=2000, seed=0)
    xt, yt = load_mnist("test", n=500, seed=0)
    return x, y, xt, yt

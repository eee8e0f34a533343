"""Fixtures of the unit tests. The environment (data folder, cache) is set in ../conftest.py."""
from __future__ import annotations

import os
from pathlib import Path

import pytest



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


def pytest_report_header(config):
    """Say which ipywidgets the widget tests run under (tests/test_ipywidgets7.py checks this line)."""
    try:
        import ipywidgets
        return f"ipywidgets {ipywidgets.__version__} ({Path(ipywidgets.__file__).parent})"
    except Exception as err:  # pragma: no cover - reported, never fatal
        return f"ipywidgets not importable: {err}"

"""Fixtures and the two test layers. The environment (data folder, cache) is set in ../conftest.py.

Two layers: unit tests of ``course_utils`` (seconds to a few minutes), and *system* tests — the
browser, ipywidgets 7.7.1, Colab's install, the prepare command, the static site and slides, the
benchmarks' smoke run, and every notebook run by nbval — marked ``system`` here or in their file,
so ``python -m pytest -m "not system"`` is a quick local loop. The README's command runs both.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

#: Test files that are system tests as a whole (besides the notebooks, which always are).
SYSTEM_FILES = {"test_browser.py", "test_ipywidgets7.py", "test_benchmarks.py", "test_colab.py"}


def pytest_collection_modifyitems(config, items):
    """Mark every notebook cell (nbval) and every test of SYSTEM_FILES as ``system``."""
    for item in items:
        path = Path(str(item.fspath))
        if path.suffix == ".ipynb" or path.name in SYSTEM_FILES:
            item.add_marker(pytest.mark.system)


@pytest.fixture(scope="session")
def prepared_cache() -> str:
    """Run ``python -m course_utils.prepare`` once per test session into this session's cache folder
    (``COURSE_CACHE_DIR``; CI gives each run a fresh one) and return its report. Tests that need the
    widgets' trained models ask for this fixture, so the cache is seeded explicitly, never by the
    order the tests happen to run in; the notebooks run afterwards find the models there too."""
    run = subprocess.run([sys.executable, "-m", "course_utils.prepare"], env={**os.environ, "MPLBACKEND": "Agg"},
                         capture_output=True, text=True, timeout=3600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return run.stdout



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


@pytest.fixture
def shown_png():
    """``check(fig) -> bytes``: ``widgets.render_png(fig)``, checked to be what a full draw of the live
    figure shows (antialiased edges may round differently) with no text outside it (nothing clipped)."""
    import io

    import numpy as np
    from PIL import Image

    from course_utils import widgets

    def check(fig) -> bytes:
        png = widgets.render_png(fig)
        shown = np.asarray(Image.open(io.BytesIO(png)).convert("RGBA")).astype(int)
        fig.canvas.draw()
        full = np.asarray(fig.canvas.buffer_rgba()).astype(int)
        assert shown.shape == full.shape
        assert (np.abs(shown - full).max(-1) > 8).mean() < 1e-3
        drawn, page = fig.get_tightbbox(fig.canvas.get_renderer()), fig.bbox_inches   # inches
        assert page.x0 <= drawn.x0 and drawn.x1 <= page.x1 and page.y0 <= drawn.y0 and drawn.y1 <= page.y1, (drawn, page)
        return png

    return check

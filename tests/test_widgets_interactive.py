"""show_interactive, the one wiring helper every slider of the course goes through.

These tests run twice: here under the installed ipywidgets (8.x), and again by
tests/test_ipywidgets7.py under ipywidgets 7.7.1, the version Colab ships.
"""
from __future__ import annotations

import os

import ipywidgets as W
import matplotlib.pyplot as plt
import pytest

from course_utils.widgets import show_interactive


def test_runs_under_the_expected_ipywidgets():
    """Under tests/test_ipywidgets7.py this must be the throwaway venv's 7.7.1, not the system's 8.x."""
    expected = os.environ.get("COURSE_EXPECT_IPYWIDGETS")
    print("ipywidgets", W.__version__)
    if expected:
        assert W.__version__ == expected, f"expected ipywidgets {expected}, imported {W.__version__} from {W.__file__}"
    assert int(W.__version__.split(".")[0]) in (7, 8)


def test_show_interactive_wires_every_kind_of_control():
    calls = []

    def callback(level, steps=1, kind="gaussian", show=True):
        calls.append((level, steps, kind, show))
        fig, ax = plt.subplots()
        ax.plot([0, steps], [0, level])
        ax.set_title(kind)
        return fig, {"level": level}

    slider = W.FloatSlider(value=0.3, min=0.0, max=1.0, step=0.1, description="noise level σ")
    ui = show_interactive(callback, level=slider, steps=(1, 5, 1),
                          kind=W.Dropdown(options=["gaussian", "masking"]), show=W.Checkbox(value=True))
    assert isinstance(ui, W.interactive)
    controls = ui.kwargs_widgets
    assert [type(c).__name__ for c in controls] == ["FloatSlider", "IntSlider", "Dropdown", "Checkbox"]
    # every slider redraws on release only, including the one made from the (1, 5, 1) abbreviation
    assert all(c.continuous_update is False for c in controls if isinstance(c, (W.FloatSlider, W.IntSlider)))
    assert controls[0] is slider and slider.description == "noise level σ"

    before = len(calls)
    slider.value = 0.7
    controls[1].value = 4
    controls[2].value = "masking"
    assert calls[before:] == [(0.7, 3, "gaussian", True), (0.7, 4, "gaussian", True), (0.7, 4, "masking", True)]
    assert plt.get_fignums() == [], "show_interactive must close each figure it shows (no leak per slider move)"


def test_show_interactive_accepts_a_callback_returning_only_a_figure():
    seen = []

    def callback(k):
        seen.append(k)
        fig, ax = plt.subplots()
        ax.bar(range(k), range(k))
        return fig

    ui = show_interactive(callback, k=W.IntSlider(value=2, min=1, max=9))
    ui.kwargs_widgets[0].value = 5
    assert seen[-1] == 5 and plt.get_fignums() == []


@pytest.fixture(autouse=True)
def _close_figures():
    plt.close("all")
    yield
    plt.close("all")

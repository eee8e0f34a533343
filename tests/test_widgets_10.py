"""Notebook 10's widget callbacks, called directly (real cached models, fast-mode sizes in CI).

They use the session's prepared cache (the ``prepared_cache`` fixture), which the notebook run shares.
"""
from __future__ import annotations

import matplotlib
import matplotlib.pyplot as plt
import pytest
import torch

from course_utils import data, recipes, store, training, widgets

matplotlib.use("Agg")


def test_conv_size_view_reads_both_families(prepared_cache):
    curve = store.conv_curve()
    assert list(curve["sizes"]) == list(recipes.CONV_SIZES)
    for k in recipes.CONV_SIZES:
        fig, nums = widgets.conv_size_view(code_size=k, n=4)
        assert isinstance(fig, matplotlib.figure.Figure) and len(fig.axes) == 2
        plt.close(fig)
        i = list(recipes.CONV_SIZES).index(k)
        assert nums["code_size"] == k and nums["conv_mse"] == pytest.approx(curve["conv_test_mse"][i])
        # the fully connected error is notebook 04's recorded one for that code size
        assert nums["fc_mse"] == pytest.approx(store.latent_model(k)[1]["test_mse"][-1])
        assert 0 < nums["conv_mse"] < 0.1 and 0 < nums["fc_mse"] < 0.1
        assert nums["conv_parameters"] < nums["fc_parameters"]  # weight sharing, at every code size
    # the curve's conv errors are real: recompute one
    x, _ = data.mnist_test()
    assert training.mse(store.conv_model(recipes.CONV_SIZES[-1])[0], x) == pytest.approx(curve["conv_test_mse"][-1], rel=1e-5)


def _pixels(fig):
    import io

    import numpy as np
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(widgets.render_png(fig))).convert("RGBA")).astype(int)


def _same_picture(a, b) -> bool:
    import numpy as np

    return a.shape == b.shape and (np.abs(a - b).max(-1) > 8).mean() < 1e-3  # antialiased edges may round


def test_conv_size_view_shows_each_size_on_one_figure_as_a_fresh_one_would(prepared_cache):
    """One figure for every code size: its PNG after visiting other sizes is the PNG of a freshly
    built figure of that size (no row name, mark or title left behind by a blit), a full draw gives
    the same picture, and different sizes give different pictures."""
    import numpy as np

    from course_utils.plotting import row_names

    sizes = (recipes.CONV_SIZES[0], recipes.CONV_SIZES[-1])
    fresh = {}
    for k in sizes:
        widgets._conv_size_figure.forget()
        fresh[k] = _pixels(widgets.conv_size_view(k)[0])
    assert not _same_picture(fresh[sizes[0]], fresh[sizes[1]])
    fignums = plt.get_fignums()
    first = widgets.conv_size_view(sizes[1])[0]
    for k in (sizes[0], sizes[1], sizes[0]):
        fig, nums = widgets.conv_size_view(k)
        assert fig is first and nums["code_size"] == k
        shown = _pixels(fig)
        assert _same_picture(shown, fresh[k]), k
        fig.canvas.draw()
        assert _same_picture(shown, np.asarray(fig.canvas.buffer_rgba()).astype(int)), k
    k = sizes[0]
    assert row_names(fig.axes[0]) == ["original", f"fully connected ({k})", f"convolutional ({k})"]
    assert fig.axes[1].get_title().startswith(f"code size {k}:") and fig.axes[1].lines[-1].get_xdata()[0] == k
    assert plt.get_fignums() == fignums


def test_shift_view_numbers_match_a_direct_computation(prepared_cache):
    fig, nums = widgets.shift_view(dx=2, dy=-1, index=3)
    assert len(fig.axes) == 2
    plt.close(fig)
    x0 = data.mnist_test()[0][3:4]
    xs = data.shift_images(x0, 2, -1)
    conv = store.conv_model(32)[0]
    fc = store.latent_model(32)[0]
    assert nums["conv_mse"] == pytest.approx(float(((training.reconstruct(conv, xs) - xs) ** 2).mean()), rel=1e-5)
    assert nums["fc_mse"] == pytest.approx(float(((training.reconstruct(fc, xs) - xs) ** 2).mean()), rel=1e-5)
    assert nums["fc_code_change"] > 0 and nums["conv_code_change"] > 0
    fig, still = widgets.shift_view(dx=0, dy=0, index=3)
    plt.close(fig)
    assert still["fc_code_change"] == 0 and still["conv_code_change"] == 0


def test_shift_errors_cover_every_shift_and_grow_away_from_zero(prepared_cache):
    e = widgets.shift_errors(index=0, dy=0)
    assert list(e["shifts"]) == list(widgets.SHIFTS)
    zero = list(widgets.SHIFTS).index(0)
    for name in ("fc", "conv"):
        assert e[name].shape == (len(widgets.SHIFTS),)
        assert e[name][0] > e[name][zero] and e[name][-1] > e[name][zero]  # 4 pixels off is worse than none


@pytest.mark.parametrize("call", [
    lambda: widgets.conv_size_view(code_size=8 if 8 not in recipes.CONV_SIZES else 5),
    lambda: widgets.conv_size_view(code_size=True),
    lambda: widgets.conv_size_view(code_size=recipes.CONV_SIZES[0], n=0),
    lambda: widgets.shift_view(dx=5),
    lambda: widgets.shift_view(dx=1.5),
    lambda: widgets.shift_view(dy=-5),
    lambda: widgets.shift_view(index=-1),
    lambda: widgets.shift_view(index=10 ** 6),
    lambda: widgets.shift_errors(index=0, dy=9),
])
def test_bad_input_raises_value_error(call):
    with pytest.raises(ValueError):
        call()


def test_shift_slider_follows_the_drag(prepared_cache):
    """The notebook sets continuous_update=True after show_interactive: the sliders keep it."""
    import ipywidgets

    ui = widgets.show_interactive(widgets.shift_view, dx=ipywidgets.IntSlider(value=1, min=-4, max=4),
                                  dy=ipywidgets.IntSlider(value=0, min=-4, max=4))
    for c in ui.kwargs_widgets:
        c.continuous_update = True
    assert all(c.continuous_update for c in ui.kwargs_widgets)
    ui.kwargs_widgets[0].value = 3  # a drag step redraws through the callback without error
    plt.close("all")
    assert torch.is_tensor(store.conv_model(32)[0].encoder[1].weight)

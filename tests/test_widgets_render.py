"""What a slider shows and how fast it can: :func:`course_utils.widgets.render_png`, the figures slider
callbacks keep (a value seen before is shown again without redrawing), and the two live figures
(notebook 09's latent walk, notebook 10's shift) whose moved artists are blitted onto a background
drawn once. The blitted PNG must be the figure itself: it is compared pixel by pixel with a full
draw of the same figure. Speed is measured by ``python -m benchmarks --only widgets``, not here.
"""
from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from course_utils import widgets  # noqa: E402


def _full_draw(fig) -> np.ndarray:
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba()).copy()


def _png_pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))


def test_render_png_draws_an_ordinary_figure_each_time():
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0, 1], [0, 1])
    first = widgets.render_png(fig)
    assert first.startswith(b"\x89PNG")
    ax.plot([0, 1], [1, 0], color="red", lw=4)
    assert widgets.render_png(fig) != first  # not kept: a changed figure is drawn again
    plt.close(fig)
    with pytest.raises(TypeError, match="Figure"):
        widgets.render_png("figure")


@widgets._kept()
def _kept_histogram(dim: int = 5, n_points: int = 30) -> tuple:
    """A slider callback kept by ``_kept``, as the course's are (notebook 01's used to be one)."""
    dim = widgets._int_in(dim, 1, 1000, "dim")
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.hist(np.random.default_rng(0).random((n_points, dim)).sum(1), bins=10)
    ax.set_title(f"{n_points} uniform points in [0,1]^{dim}")
    return fig, {"dim": dim}


def test_a_kept_callback_returns_its_figure_again_and_never_leaks(tmp_cache):
    fignums = plt.get_fignums()
    fig, nums = _kept_histogram(dim=5, n_points=30)
    again, nums2 = _kept_histogram(dim=5, n_points=30)
    assert again is fig and nums2 == nums and nums2 is not nums   # the numbers are a copy
    nums2["dim"] = -1
    assert _kept_histogram(dim=5, n_points=30)[1]["dim"] == 5
    other = _kept_histogram(dim=50, n_points=30)[0]
    assert other is not fig and "[0,1]^50" in other.axes[0].get_title()
    png = widgets.render_png(fig)
    assert widgets.render_png(fig) is png                          # kept with the figure
    for d in widgets.DIMENSIONS[:6] * 2:
        _kept_histogram(dim=d, n_points=30)
    assert plt.get_fignums() == fignums                            # kept outside pyplot: nothing leaks
    with pytest.raises(ValueError, match="dim"):
        _kept_histogram(dim=True)                                  # True == 1, but refused, never a kept 1
    with pytest.raises(ValueError, match="dim"):
        _kept_histogram(dim=[5])                                   # not a key: the callback refuses it


def test_kept_figures_are_forgotten_with_the_cache_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path / "a"))
    a = _kept_histogram(dim=3, n_points=10)[0]
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path / "b"))
    assert _kept_histogram(dim=3, n_points=10)[0] is not a


def _check_live(fn, calls):
    fignums = plt.get_fignums()
    figs = set()
    for args in calls:
        fig, nums = fn(*args)
        figs.add(id(fig))
        shown = _png_pixels(widgets.render_png(fig))
        full = _full_draw(fig)
        assert shown.shape == full.shape
        differ = np.abs(shown.astype(int) - full.astype(int)).max(-1) > 8
        # the blitted PNG is the figure (antialiased edges may round differently)
        assert differ.mean() < 1e-3, f"{fn.__name__}{args}: {differ.mean():.2%} of the pixels differ"
    assert len(figs) == 1 and plt.get_fignums() == fignums
    return fig


def test_latent_walk_blits_the_new_point_onto_the_codes(prepared_cache):
    fig = _check_live(widgets.latent_walk_view, [(0.0, 0.0), (1.0, -0.5), (-3.0, 3.0), (9.0, 0.0), (0.5, 0.5)])
    assert "(0.50, 0.50)" in fig.axes[1].get_title()
    assert fig.axes[0].lines[-1].get_xdata()[0] == 0.5
    assert fig.axes[0].get_xlim()[1] < 9                          # the view shrank back after z₁ = 9


def test_shift_view_blits_the_shifted_images_and_redraws_a_new_curve(prepared_cache):
    fig = _check_live(widgets.shift_view, [(0, 0), (2, 0), (-4, 0), (1, 3), (4, 3), (4, 3, 5)])
    assert "(+4, +3)" in fig.axes[0].get_title() and "dy = +3" in fig.axes[1].get_title()
    assert np.allclose(fig.axes[1].lines[0].get_ydata(), widgets.shift_errors(5, 3)["fc"])


def test_cheap_sliders_follow_the_drag_and_the_others_wait_for_release(prepared_cache):
    import ipywidgets as W

    def unmarked(steps=0):  # a callback without the mark: its slider waits for the release
        fig, ax = plt.subplots()
        ax.plot([0, steps], [0, 1])
        return fig, {}

    for fn, cheap in ((widgets.latent_walk_view, True), (widgets.shift_view, True),
                      (widgets.walk_view, True), (unmarked, False)):
        arg = {"latent_walk_view": "z1", "shift_view": "dx", "walk_view": "steps", "unmarked": "steps"}[fn.__name__]
        ui = widgets.show_interactive(fn, **{arg: W.IntSlider(value=1, min=0, max=3)})
        assert all(c.continuous_update is cheap for c in ui.kwargs_widgets), fn.__name__
        ui.kwargs_widgets[0].value = 2
    plt.close("all")


def test_a_live_figure_closed_by_the_inline_backend_still_blits():
    """Jupyter's inline backend leaves a closed figure with a bare FigureCanvasBase, which has no
    pixel buffer: the live render must move it to Agg, not raise (10's shift slider did)."""
    from matplotlib.backend_bases import FigureCanvasBase
    from matplotlib.figure import Figure

    fig = Figure(figsize=(3, 2))
    line, = fig.add_subplot().plot([0, 1], [0, 1])
    FigureCanvasBase(fig)                      # what the inline backend leaves after plt.close
    fig._course_live = [line]
    first = widgets.render_png(fig)
    line.set_ydata([1, 0])
    second = widgets.render_png(fig)
    assert first != second and Image.open(io.BytesIO(second)).size[0] > 0


@pytest.mark.parametrize("facecolor, mode", [("white", "RGB"), ("none", "RGBA")])
def test_a_live_png_drops_the_alpha_channel_only_of_an_opaque_figure(facecolor, mode):
    """An opaque figure's blitted PNG is RGB (a quarter fewer bytes to encode than RGBA), pixel for
    pixel the full draw; a figure with a transparent background keeps its alpha."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(3, 2), facecolor=facecolor)
    ax = fig.add_subplot()
    ax.set_facecolor(facecolor)
    line, = ax.plot([0, 1], [0, 1])
    fig._course_live = [line]
    widgets.render_png(fig)
    line.set_ydata([1, 0])
    png = widgets.render_png(fig)
    assert Image.open(io.BytesIO(png)).mode == mode
    assert np.array_equal(_png_pixels(png), _full_draw(fig))


@pytest.mark.parametrize("shape", [(1, 1), (7, 13), (420, 900)])
def test_the_png_encoder_is_lossless_rgb_when_opaque_rgba_otherwise(shape):
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (*shape, 4), dtype=np.uint8)
    pixels[..., 3] = 255
    png = widgets._encode_png(pixels)
    assert Image.open(io.BytesIO(png)).mode == "RGB" and np.array_equal(_png_pixels(png), pixels)
    pixels[0, 0, 3] = 254  # one pixel not quite opaque: the alpha channel is kept
    png = widgets._encode_png(pixels)
    assert Image.open(io.BytesIO(png)).mode == "RGBA" and np.array_equal(_png_pixels(png), pixels)


@pytest.mark.parametrize("bad", [np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4, 4), np.float32),
                                 np.zeros((0, 4, 4), np.uint8), [[0, 0, 0, 255]]])
def test_the_png_encoder_refuses_what_is_not_an_rgba_image(bad):
    with pytest.raises(ValueError, match=r"uint8 array of shape \(height, width, 4\)"):
        widgets._encode_png(bad)

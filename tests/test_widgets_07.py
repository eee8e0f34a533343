"""Notebook 07's widget callbacks, called directly (real cached models, fast-mode sizes in CI).

They use the session's prepared cache (the ``prepared_cache`` fixture), which the notebook run shares.
"""
from __future__ import annotations

import matplotlib
import matplotlib.pyplot as plt
import pytest

from course_utils import plotting, probe, recipes, store, widgets

matplotlib.use("Agg")


def test_compression_view_numbers_follow_the_bits(prepared_cache):
    seen = {}
    for bits in (recipes.COMPRESSION_BITS[0], recipes.COMPRESSION_BITS[-1]):
        fig, nums = widgets.compression_view(bits=bits)
        assert isinstance(fig, matplotlib.figure.Figure) and fig.axes
        plt.close(fig)
        assert nums["bits_per_value"] == bits
        assert nums["fixed_bits"] == 32 * bits
        assert 0 < nums["rate_bits"] <= nums["fixed_bits"] + 1e-9   # entropy coding never loses here
        assert nums["raw_bits"] == 6272 and nums["ratio_vs_raw"] > 20
        assert 0 < nums["mse"] < 0.08 and nums["psnr_db"] > 10
        assert nums["jpeg_file_bits"] > nums["jpeg_payload_bits"] > 0
        assert nums["jpeg_file_bits"] > nums["rate_bits"]   # a real JPEG file is bigger than any code
        seen[bits] = nums
    lo, hi = seen[recipes.COMPRESSION_BITS[0]], seen[recipes.COMPRESSION_BITS[-1]]
    assert hi["rate_bits"] > lo["rate_bits"] and hi["mse"] < lo["mse"]   # more bits: bigger, better


def test_probe_view_reads_the_cached_sweep(prepared_cache):
    fig, nums = widgets.probe_view(n_labels=probe.PROBE_LABELS[-1])
    plt.close(fig)
    fig, few = widgets.probe_view(n_labels=probe.PROBE_LABELS[0])
    plt.close(fig)
    for kind in probe.PROBE_FEATURES:
        assert 0.1 < few[f"{kind}_accuracy"] < nums[f"{kind}_accuracy"] <= 1.0   # above chance, more labels help
    assert nums["n_labels"] == probe.PROBE_LABELS[-1] and nums["draws"] >= 1


def _pixels(fig):
    import io

    import numpy as np
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(widgets.render_png(fig))).convert("RGBA")).astype(int)


def _same_picture(a, b) -> bool:
    import numpy as np

    return a.shape == b.shape and (np.abs(a - b).max(-1) > 8).mean() < 1e-3  # antialiased edges may round


@pytest.mark.parametrize("name, values", [
    ("compression_view", (recipes.COMPRESSION_BITS[0], recipes.COMPRESSION_BITS[-1], 4)),
    ("probe_view", (probe.PROBE_LABELS[0], probe.PROBE_LABELS[-1], 100)),
])
def test_sliders_show_each_value_on_one_figure_as_a_fresh_one_would(prepared_cache, name, values):
    """One figure for every value: its PNG after visiting other values is the PNG of a freshly built
    figure of that value (no bar, label, mark or title left behind by a blit), a full draw of the
    figure gives the same picture, and different values give different pictures."""
    import numpy as np

    fn, builder = getattr(widgets, name), {"compression_view": widgets._compression_figure,
                                           "probe_view": widgets._probe_figure}[name]
    fresh, numbers = {}, {}
    for v in values:
        builder.forget()
        fig, numbers[v] = fn(v)
        fresh[v] = _pixels(fig)
    assert not _same_picture(fresh[values[0]], fresh[values[1]])
    fignums = plt.get_fignums()
    first = fn(values[1])[0]
    for v in (values[0], values[2], values[1], values[0]):
        fig, nums = fn(v)
        assert fig is first and nums == numbers[v]
        shown = _pixels(fig)
        assert _same_picture(shown, fresh[v]), v
        fig.canvas.draw()
        assert _same_picture(shown, np.asarray(fig.canvas.buffer_rgba()).astype(int)), v
    assert plt.get_fignums() == fignums
    if name == "compression_view":
        assert f"{values[0]} bit/value:" in fig.axes[1].get_title()
        assert any(f"AE, {values[0]} bit/value" in t for t in plotting.row_names(fig.axes[0]))
    else:
        assert fig.axes[1].get_title().startswith(f"{values[0]} labels")
        assert [t.get_text() for t in fig.axes[1].texts] == [f"{a:.1%}" for a in (
            numbers[values[0]][f"{k}_accuracy"] for k in probe.PROBE_FEATURES)]


@pytest.mark.parametrize("call", [
    lambda: widgets.compression_view(bits=5 if 5 not in recipes.COMPRESSION_BITS else 7),
    lambda: widgets.compression_view(bits=True),
    lambda: widgets.compression_view(bits=4, n=0),
    lambda: widgets.probe_view(n_labels=11),
    lambda: recipes.quantized(0).key(),
    lambda: probe.probe_features(__import__("torch").rand(2, 784), "pixel"),
])
def test_bad_input_raises_value_error(call):
    with pytest.raises(ValueError):
        call()


def test_probe_features_are_standardized_on_the_unlabelled_images_and_cached(prepared_cache):
    import torch

    from course_utils import checkpoints, config, data

    x, _ = data.load_mnist("train", n=config.size("mnist_train"), seed=0)
    feats = {}
    for kind in ("PCA", "autoencoder"):
        f = feats[kind] = probe.probe_features(x, kind)
        assert f.shape == (len(x), probe.PROBE_CODE_SIZE)
        assert torch.allclose(f.mean(0), torch.zeros(probe.PROBE_CODE_SIZE), atol=1e-3)
        sd = f.std(0)
        live = sd > 0.5                                                  # a dead ReLU code unit stays at 0
        assert torch.allclose(sd[live], torch.ones(int(live.sum())), atol=1e-3) and torch.all(sd[~live] < 1e-5)
    assert list(config.cache_dir().glob("probe_stats-*.npz"))           # the statistics are on disk
    # each call reads the statistics from the cache file: a fresh kernel gets the same numbers
    for kind, f in feats.items():
        assert torch.allclose(probe.probe_features(x[:50], kind), f[:50], atol=1e-5)

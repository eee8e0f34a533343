"""Notebook 07's widget callbacks, called directly (real cached models, fast-mode sizes in CI).

They use the session's prepared cache (the ``prepared_cache`` fixture), which the notebook run shares.
"""
from __future__ import annotations

import matplotlib
import matplotlib.pyplot as plt
import pytest

from course_utils import probe, recipes, store, widgets

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

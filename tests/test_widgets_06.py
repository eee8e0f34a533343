"""Notebook 06 (denoising autoencoder): the noise widget's callback, the store's denoisers and their
cache, and the exercise checks. Real MNIST and real (fast-mode) training."""
from __future__ import annotations

import time

import matplotlib
import matplotlib.pyplot as plt  # noqa: E402
import pytest
import numpy as np
import torch

matplotlib.use("Agg")

from course_utils import config, data, exercises, pca, recipes, store, training, widgets  # noqa: E402
from course_utils.plotting import row_names  # noqa: E402


@pytest.fixture(scope="module")
def cache(prepared_cache):
    """The session's prepared cache: the denoisers were trained there once (fast mode in CI)."""
    return config.cache_dir()


def test_noise_view_dae_beats_noisy_and_seminar(cache):
    fig, d = widgets.noise_view(0.3, "gaussian")
    assert set(d) == {"noisy_mse", "pca_mse", "dae_mse", "masking_dae_mse"}
    assert abs(d["noisy_mse"] - 0.09) < 0.005          # σ² for unclipped Gaussian noise
    assert d["dae_mse"] < d["noisy_mse"] / 3
    assert d["pca_mse"] < d["noisy_mse"] / 3
    seminar = store.denoisers()["seminar"]
    clean, noisy = data.noisy_test("gaussian", 0.3, n=1000)
    assert d["dae_mse"] < training.mse(seminar, noisy, clean) / 3
    # four named rows (Origin, Input X, PCA, Output Y) of the 8 digits shown, drawn as one image
    (ax,) = fig.axes
    assert [name.split("\n")[0] for name in row_names(ax)] == ["Origin", "Input X", "PCA (k=" + str(store.pca_denoiser().k) + ")", "Output Y (DAE)"]

    shown = ax.images[0].get_array()
    assert shown.shape == (4 * 28 + 3 * 4, 8 * 28 + 7 * 2)
    assert np.allclose(shown[:28, :28], np.clip(data.noisy_test("gaussian", 0.3, n=1)[0].reshape(28, 28).numpy(), 0, 1))
    plt.close(fig)
    fig, _ = widgets.noise_view(0.5, "masking")        # a probability, and the masking-trained DAE
    assert "probability p = 0.50" in fig.axes[0].get_title()
    assert row_names(fig.axes[0])[-1].startswith("Output Y (masking-trained DAE)")
    plt.close(fig)


def test_noise_view_kinds_and_levels(cache):
    import matplotlib.pyplot as plt

    _, m = widgets.noise_view(0.5, "masking")
    assert m["masking_dae_mse"] < m["noisy_mse"] / 2       # trained on masking: removes most of it
    assert m["masking_dae_mse"] < m["dae_mse"]             # ... better than the Gaussian-trained DAE
    _, s = widgets.noise_view(0.2, "salt-and-pepper")      # labels are accepted too
    assert s["dae_mse"] < s["noisy_mse"]
    fig, zero = widgets.noise_view(0.0, "gaussian")
    assert zero["noisy_mse"] == 0.0 and zero["dae_mse"] > 0  # a DAE always changes the image
    plt.close("all")


@pytest.mark.parametrize("kwargs", [dict(level=1.5), dict(level=-0.1), dict(level=True),
                                    dict(kind="speckle"), dict(n=0), dict(n=21), dict(n_eval=3)])
def test_noise_view_rejects_bad_input(kwargs):
    with pytest.raises(ValueError):
        widgets.noise_view(**kwargs)


def test_denoisers_are_cached(cache, monkeypatch):
    from course_utils import checkpoints

    for r in (recipes.dae("seminar"), recipes.dae(recipes.DAE_FIXED),
              recipes.dae(recipes.DAE_FIXED, "masking", recipes.DAE_MASKING)):
        assert checkpoints.cache_path(r.name, r.key()).is_file(), f"{r.name} is not in the prepared cache"
    assert list(cache.glob("pca_denoiser-*.npz"))
    files = sorted(p.name for p in cache.iterdir())

    def no_training(*a, **k):
        raise AssertionError("denoisers() retrained although every model is cached")

    monkeypatch.setattr(training, "fit", no_training)
    t = time.perf_counter()
    den = store.denoisers()
    assert time.perf_counter() - t < 10
    assert set(den) == {"seminar", "fixed", "masking", "pca"}
    _, info = store.dae_model("seminar")
    assert info["cached"] is True and len(info["test_mse"]) == config.size("dae_epochs")
    assert sorted(p.name for p in cache.iterdir()) == files   # nothing new was written


def test_store_rejects_bad_input():
    for bad in (dict(step="adam"), dict(kind="blur"), dict(level=2.0), dict(level="0.3")):
        with pytest.raises(ValueError):
            recipes.dae(**bad).key()
    with pytest.raises(ValueError):
        data.noisy_test(n=0)
    den = pca.PCADenoiser(torch.zeros(784), torch.eye(784)[:10], 5)
    with pytest.raises(ValueError):
        den(torch.zeros(3, 10))
    with pytest.raises(ValueError):
        pca.PCADenoiser(torch.zeros(784), torch.eye(784)[:10], 11)


def test_pca_denoiser_projects_and_clips():
    comps = torch.eye(784)[:3]
    den = pca.PCADenoiser(torch.zeros(784), comps, 2)
    x = torch.full((2, 784), 0.5)
    x[:, 0] = 3.0
    x[:, 3] = -0.4            # unclipped Gaussian noise: values above 1 and below 0
    out = den(x)
    assert out[0, 0] == 1.0 and out[0, 1] == 0.5 and out[0, 2] == 0.0 and out[0, 3] == 0.0 and out.max() <= 1
    with pytest.raises(ValueError, match="divide by 255"):   # all non-negative and above 1: 0..255 images
        den(torch.full((2, 784), 128.0))



def test_noise_view_redraws_one_live_figure_per_kind(cache, shown_png):
    fignums = plt.get_fignums()
    fig, a = widgets.noise_view(0.35, "gaussian")
    first = shown_png(fig)
    again, b = widgets.noise_view(0.8, "gaussian")
    assert again is fig and b["noisy_mse"] > a["noisy_mse"]
    (ax,) = fig.axes
    assert "σ = 0.80" in ax.get_title() and row_names(ax)[1] == f"Input X\n{b['noisy_mse']:.4f}"
    clean, noisy = data.noisy_test("gaussian", 0.8, n=1000)
    assert np.allclose(ax.images[0].get_array()[32:60, :28], np.clip(noisy[0].reshape(28, 28).numpy(), 0, 1))
    shown_png(fig)
    assert widgets.noise_view(0.35, "gaussian")[0] is fig
    assert widgets.render_png(fig) == first              # back at 0.35: its picture, nothing of 0.8 left
    # the numbers of a slider level are that level's own (the store's DAE on those noisy digits)
    assert b["dae_mse"] == pytest.approx(training.mse(store.denoisers()["fixed"], noisy, clean), rel=1e-5)
    masking, m = widgets.noise_view(0.5, "masking")      # each kind has its figure, laid out for its names
    assert masking is not fig and "p = 0.50" in masking.axes[0].get_title()
    shown_png(masking)
    # a float slider's level off by an ulp is that level; a level off the slider's steps is computed
    assert widgets.noise_view(0.15000000000000002)[1] == widgets.noise_view(0.15)[1]
    off = widgets.noise_view(0.123)[1]
    assert off["noisy_mse"] == pytest.approx(0.123 ** 2, rel=0.05) and "σ = 0.12" in fig.axes[0].get_title()
    assert widgets.noise_view.continuous_update is True
    assert plt.get_fignums() == fignums                  # kept outside pyplot

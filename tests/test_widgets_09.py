"""Notebook 09's widget callbacks (β slider, latent walk) on real, small VAEs trained into a throwaway
cache (seconds): figures and numbers, the cache reused, and bad slider values refused."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from course_utils import config, data, recipes, store, vae, widgets  # noqa: E402


@pytest.fixture
def small_vaes(tmp_cache, monkeypatch):
    """Tiny sizes and an empty cache: three 2-D VAEs and the classifier train in seconds."""
    sizes = dict(config.SIZES)
    sizes.update({"mnist_train": (1000, 1000), "mnist_test": (300, 300), "vae2_epochs": (2, 2),
                  "vae20_epochs": (1, 1), "classifier_epochs": (2, 2)})
    monkeypatch.setattr(config, "SIZES", sizes)
    return tmp_cache


def test_beta_view_draws_the_grid_and_the_rate_distortion_table(small_vaes):
    fig, nums = widgets.beta_view(1.0, steps=6)
    try:
        assert fig.axes and "β = 1" in fig.axes[0].get_title()
        assert any("rate" in ax.get_ylabel() for ax in fig.axes)
    finally:
        plt.close(fig)
    assert set(nums) >= {"beta", "rate", "distortion", "elbo", "confidence", "confident_share", "frechet"}
    assert nums["rate"] > 0 and nums["distortion"] > 0
    assert nums["elbo"] == pytest.approx(-(nums["rate"] + nums["distortion"]), rel=1e-6)   # ELBO = −(rate + distortion)
    assert 0 < nums["confidence"] <= 1 and nums["frechet"] > 0
    # the same numbers the store's model gives (the widget serves the cached VAE of that β)
    model, _ = store.vae_model(2, 1.0)
    kept = widgets._vae_scorer()["x_test"]   # the first test digits, a copy of their own (not all 10 000)
    assert torch.equal(kept, data.mnist_test()[0][:widgets._SCORER_KEEP]) and kept.untyped_storage().nbytes() == kept.nbytes
    xb = vae.binarize(data.mnist_test()[0][:widgets.BETA_VIEW_EVAL], seed=0)
    assert nums["rate"] == pytest.approx(float(vae.evaluate(model, xb, k=1)["kl"].mean()), rel=1e-5)
    rates = [widgets.beta_view(b, steps=4)[1]["rate"] for b in recipes.VAE_BETAS]
    plt.close("all")
    assert rates[0] > rates[-1]                  # β = 4 lets fewer nats through the code than β = 0.25
    files = sorted(p.name for p in small_vaes.iterdir())
    assert sum(n.startswith("vae2_") for n in files) == len(recipes.VAE_BETAS)   # cached, one file per β


def test_latent_walk_decodes_the_point_with_the_decoder(small_vaes):
    fig, nums = widgets.latent_walk_view(0.5, -1.0)
    plt.close(fig)
    assert nums["z"] == (0.5, -1.0) and 0 <= nums["digit"] <= 9 and 0 < nums["probability"] <= 1
    model, _ = store.vae_model(2, 1.0)
    clf, _ = store.digit_classifier()
    with torch.no_grad():
        image = model.decode(torch.tensor([[0.5, -1.0]]))
    assert nums["digit"] == int(vae.digit_confidence(clf, image)["labels"][0])
    far = widgets.latent_walk_view(-2.5, 2.5)[1]
    plt.close("all")
    assert far["z"] == (-2.5, 2.5)


@pytest.mark.parametrize("call", [lambda: widgets.beta_view(2.0), lambda: widgets.beta_view(True),
                                  lambda: widgets.beta_view(1.0, steps=1),
                                  lambda: widgets.latent_walk_view(11.0, 0.0),
                                  lambda: widgets.latent_walk_view(0.0, float("nan")),
                                  lambda: widgets.latent_walk_view("0", 0.0)])
def test_bad_slider_values_are_refused(call):
    with pytest.raises(ValueError, match="beta|steps|z1|z2"):
        call()


def test_prepare_lists_the_notebook_09_jobs():
    from course_utils import prepare
    assert {"digit_classifier", "vae_models"} <= set(prepare.JOBS)
    assert np.all([callable(f) for f in prepare.JOBS.values()])



def test_beta_view_moves_the_grid_and_band_of_one_live_figure(small_vaes, shown_png):
    from course_utils import plotting

    fignums = plt.get_fignums()
    fig, one = widgets.beta_view(1.0, steps=6)
    first = shown_png(fig)
    gx, ax = fig.axes[:2]
    for beta in (0.25, 4.0):
        again, nums = widgets.beta_view(beta, steps=6)
        assert again is fig and nums["beta"] == beta
        assert f"β = {beta:g}:" in gx.get_title() and ax.get_title().startswith(f"β = {beta:g}: rate {nums['rate']:.1f}")
        assert list(ax.lines[-1].get_xdata()) == [beta, beta]          # the band marks the selected β
        model, _ = store.vae_model(2, beta)
        with torch.no_grad():
            grid = model.decode(vae.prior_grid(6))
        assert np.allclose(gx.images[0].get_array(), plotting.tile_grid(grid, 6))
        shown_png(fig)
    widgets.beta_view(1.0, steps=6)
    assert widgets.render_png(fig) == first               # back at β = 1: its picture, nothing of β = 4 left
    assert widgets.beta_view(1.0, steps=4)[0] is not fig  # another grid side, another figure
    assert widgets.beta_view.continuous_update is True
    assert plt.get_fignums() == fignums

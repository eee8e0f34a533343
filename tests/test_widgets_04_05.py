"""Notebooks 04-05: the latent-size family in the store, its widget callback, and the exercise checks.

The store is exercised for real (real MNIST, real training) on a shrunken configuration so the
whole family trains in seconds; the widget numbers are checked against values recomputed here.
"""
from __future__ import annotations

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from course_utils.plotting import row_names
from course_utils import config, data, exercises, models, recipes, store, training, widgets
from course_utils.pca import mse as pca_mse, reconstruct as pca_reconstruct


@pytest.fixture
def small_family(tmp_cache, monkeypatch):
    """A throwaway cache and tiny sizes: the six-model family trains in a few seconds."""
    sizes = dict(config.SIZES)
    sizes.update({"mnist_train": (1000, 1000), "mnist_test": (500, 500), "ae_epochs": (3, 3)})
    monkeypatch.setattr(config, "SIZES", sizes)
    return tmp_cache


def test_latent_size_view_numbers_are_real(small_family):
    fig, small = widgets.latent_size_view(2)
    assert isinstance(fig, matplotlib.figure.Figure)
    assert row_names(fig.axes[0]) == ["original", "autoencoder (2)", "PCA (2)"]
    assert fig.axes[1].get_xlabel() == "code size (numbers per image)"
    plt.close(fig)
    fig, big = widgets.latent_size_view(64)
    plt.close(fig)
    assert small["code_size"] == 2 and big["code_size"] == 64
    # a bigger code reconstructs better, for the autoencoder and for PCA
    assert big["test_mse"] < small["test_mse"]
    assert big["pca_mse"] < small["pca_mse"]
    # the shown AE error is the model's real test error
    _, _, xt, _ = data.mnist_split()
    model, _ = store.latent_model(64)
    assert big["test_mse"] == pytest.approx(training.mse(model, xt), abs=1e-6)
    # the shown PCA error matches a PCA computed here independently (numpy SVD)
    x, _, _, _ = data.mnist_split()
    xn, xtn = x.double().numpy(), xt.double().numpy()
    mu = xn.mean(0)
    _, _, vt = np.linalg.svd(xn - mu, full_matrices=False)
    v = vt[:2].T
    pca2 = (((xtn - mu) @ v @ v.T + mu - xtn) ** 2).mean()
    assert small["pca_mse"] == pytest.approx(pca2, rel=1e-4)
    curve = store.latent_curve()
    assert list(curve["sizes"]) == list(recipes.LATENT_SIZES)
    assert np.all(np.diff(curve["pca_test_mse"]) < 0)
    assert curve["ae_test_mse"][-1] < curve["ae_test_mse"][0]


def test_code_size_sliders_keep_only_the_digits_they_show(small_family):
    xt = data.mnist_test()[0]
    for n in (1, 8, 20):
        x = widgets._spread_digits(n)  # notebooks 04 and 10: n digits spread over the test set
        assert torch.equal(x, xt[:: len(xt) // n][:n]) and x.untyped_storage().nbytes() == n * 784 * 4
    assert not any(isinstance(v, torch.Tensor) for v in widgets._latent_family().values())


def test_latent_size_view_rejects_bad_sizes(small_family):
    for bad in (3, 0, True, "8", 2.5, None):
        with pytest.raises(ValueError, match="code_size must be one of"):
            widgets.latent_size_view(bad)
    with pytest.raises(ValueError, match="n must be"):
        widgets.latent_size_view(8, n=0)


def test_store_caches_the_family(small_family):
    model, info = store.latent_model(4)
    assert info["cached"] is False and len(info["test_mse"]) == 3
    again, info2 = store.latent_model(4)          # second call: from the cache, same weights
    assert info2["cached"] is True
    assert info2["test_mse"] == info["test_mse"]
    for a, b in zip(model.state_dict().values(), again.state_dict().values()):
        assert torch.equal(a, b)
    assert len(list(small_family.glob("latent4-*.safetensors"))) == 1
    fam = store.latent_models([2, 4])
    assert sorted(fam) == [2, 4] and all(isinstance(m, models.Autoencoder) for m in fam.values())
    assert fam[2].latent_dim == 2
    # a changed setting is a different cache entry, never a stale one
    cfg = recipes.latent(4).key()
    assert cfg["epochs"] == 3 and cfg["n_train"] == 1000
    with pytest.raises(ValueError, match="sizes must be"):
        store.latent_models([3])
    with pytest.raises(ValueError, match="sizes must be"):
        store.latent_models([])


def test_pca_fit_is_a_real_pca(small_family):
    p = store.pca_fit()
    ev, v = torch.as_tensor(p["eigenvalues"]), torch.as_tensor(p["components"])
    assert torch.all(ev[:-1] >= ev[1:] - 1e-7)                  # sorted, largest first
    assert torch.allclose(v.T @ v, torch.eye(784), atol=1e-4)   # orthonormal
    x, _, _, _ = data.mnist_split()
    assert torch.allclose(pca_reconstruct(x[:50], 784, p), x[:50], atol=1e-4)
    err8 = float(((pca_reconstruct(x, 8, p) - x) ** 2).mean())
    assert err8 == pytest.approx(float(ev[8:].sum()) / 784, rel=1e-4)  # closed form
    assert pca_mse(x, 8, p, batch_size=333) == pytest.approx(err8, rel=1e-5)  # in batches, same number
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="batch_size must be a positive integer"):
            pca_mse(x[:5], 8, p, batch_size=bad)
    for bad in (0, 785, 2.0):
        with pytest.raises(ValueError, match="k must be"):
            pca_reconstruct(x[:5], bad, p)
    with pytest.raises(ValueError, match="n_train"):
        store.pca_fit(n_train=1)


def test_check_code_interpolation_accepts_right_rejects_wrong(capsys):
    torch.manual_seed(0)
    m = models.autoencoder(4, hidden=(16,))
    xa, xb = torch.rand(3, 784), torch.rand(3, 784)
    with torch.no_grad():
        assert exercises.check_code_interpolation(
            lambda mm, a, b, t: mm.decode((1 - t) * mm.encode(a) + t * mm.encode(b)), m, xa, xb)
        assert not exercises.check_code_interpolation(lambda mm, a, b, t: (1 - t) * a + t * b, m, xa, xb)
        assert not exercises.check_code_interpolation(   # weights swapped
            lambda mm, a, b, t: mm.decode(t * mm.encode(a) + (1 - t) * mm.encode(b)), m, xa, xb)


def test_check_param_count_accepts_right_rejects_wrong(capsys):
    def reference(sizes):
        return models.count_parameters(models.Autoencoder(sizes))

    def right(sizes):
        pairs = list(zip(sizes[:-1], sizes[1:]))
        return sum(a * b + b for a, b in pairs) + sum(a * b + a for a, b in pairs)

    def no_biases(sizes):
        return 2 * sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))

    def encoder_only(sizes):
        return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))

    assert exercises.check_param_count(right, reference)
    assert not exercises.check_param_count(no_biases, reference)
    assert not exercises.check_param_count(encoder_only, reference)


def test_latent_slider_wires_to_the_callback(small_family):
    import ipywidgets as W

    slider = W.SelectionSlider(options=list(recipes.LATENT_SIZES), value=8, description="code size")
    ui = widgets.show_interactive(widgets.latent_size_view, code_size=slider)
    # a live figure (one figure, its rows, mark and title blitted): cheap enough to follow the drag
    assert slider.description == "code size" and slider.continuous_update is True
    files = sorted(p.name for p in small_family.iterdir())
    assert len([f for f in files if f.startswith("latent")]) == len(recipes.LATENT_SIZES)
    slider.value = 16                                   # moving the slider redraws from the cache ...
    assert sorted(p.name for p in small_family.iterdir()) == files   # ... and never retrains
    assert isinstance(ui, W.interactive)


def test_store_reads_the_notebooks_own_training_images_and_never_a_changed_copy(small_family, monkeypatch):
    """While a notebook holds its unchanged ``x_train``, the store trains and fits on those very
    images (no second copy); once the learner changes them in place, the store reloads its own."""
    from course_utils import data

    loads = []  # every fresh float copy of MNIST images goes through data._issue
    real_issue = data._issue
    monkeypatch.setattr(data, "_issue", lambda *a: loads.append(a[0]) or real_issue(*a))
    x, _, xt, _ = data.mnist_split()
    loads.clear()
    seen = []
    real_fit = training.fit
    monkeypatch.setattr(training, "fit", lambda model, x_train, **k: seen.append(x_train) or real_fit(model, x_train, **k))
    store.latent_model(2)
    p = store.pca_fit()
    assert loads == [] and seen[0] is x  # trained and fitted on the notebook's tensors, nothing loaded
    x.mul_(0.5)  # the learner changes their copy in place
    model4, _ = store.latent_model(4)
    assert len(loads) == 1 and seen[-1] is not x  # a fresh, unchanged copy was loaded for training
    assert torch.equal(seen[-1], data.load_mnist("train", n=config.size("mnist_train"), seed=0)[0])
    # the cached PCA is the PCA of the unchanged images, not of the halved ones
    assert float(torch.as_tensor(p["mean"]).sum()) == pytest.approx(float(seen[-1].mean(0).sum()), rel=1e-5)


def test_tsne_of_codes_maps_notebook_03s_images_with_its_settings(small_family, monkeypatch):
    sizes = dict(config.SIZES)
    sizes.update({"tsne_points": (200, 200), "tsne_iterations": (500, 500)})
    monkeypatch.setattr(config, "SIZES", sizes)
    from course_utils import manifolds

    first = store.tsne_of_codes(32)
    x, y = manifolds.mnist_tsne_images()
    assert first["embedding"].shape == (200, 2) and np.array_equal(first["labels"], y.numpy())
    assert np.array_equal(manifolds.mnist_tsne_points()[1], first["labels"])    # the same images as 03's map
    assert first["knn_accuracy"] > 0.3 and 0.5 < first["trustworthiness"] <= 1
    files = set(small_family.iterdir())
    again = store.tsne_of_codes(32)
    assert set(small_family.iterdir()) == files and np.array_equal(again["embedding"], first["embedding"])


def _pixels(fig) -> np.ndarray:
    import io

    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(widgets.render_png(fig))).convert("RGBA")).astype(int)


def _same_picture(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and (np.abs(a - b).max(-1) > 8).mean() < 1e-3  # antialiased edges may round


def test_latent_size_view_shows_each_size_on_one_figure_as_a_fresh_one_would(small_family):
    """One figure for every code size: its PNG after visiting other sizes is the PNG of a freshly
    built figure of that size (no row name, mark or title left behind by a blit), a full draw of
    the figure gives the same picture, and different sizes give different pictures."""
    sizes = (2, 64, 8)
    fresh = {}
    for k in sizes:
        widgets._latent_size_figure.forget()
        fresh[k] = _pixels(widgets.latent_size_view(k)[0])
    assert not _same_picture(fresh[2], fresh[64])
    fignums = plt.get_fignums()
    first = widgets.latent_size_view(64)[0]
    for k in (2, 8, 64, 2):
        fig, nums = widgets.latent_size_view(k)
        assert fig is first and nums["code_size"] == k
        shown = _pixels(fig)
        assert _same_picture(shown, fresh[k]), k
        fig.canvas.draw()
        assert _same_picture(shown, np.asarray(fig.canvas.buffer_rgba()).astype(int)), k
    assert row_names(fig.axes[0]) == ["original", "autoencoder (2)", "PCA (2)"]
    assert fig.axes[1].get_title().startswith("code size 2:") and fig.axes[1].lines[-1].get_xdata()[0] == 2
    assert plt.get_fignums() == fignums                      # kept outside pyplot: nothing leaks
    assert widgets.latent_size_view(2, n=4)[0] is not first  # another digit count, another figure

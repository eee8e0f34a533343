"""Widget callbacks, cached results and exercise checks of notebooks 01-03.

Callbacks are called directly (no browser) and their numbers are checked against closed forms or
against what they must show; each exercise check must accept the reference and reject wrong answers.
Sizes are shrunk through ``config.SIZES`` so these tests take seconds in any mode.
"""
from __future__ import annotations

import math

import matplotlib
import numpy as np
import pytest

from course_utils import config, exercises, manifolds, store, widgets

matplotlib.use("Agg")


@pytest.fixture
def small_sizes(monkeypatch, tmp_cache):
    sizes = dict(config.SIZES)
    sizes.update({"swiss_roll": (600, 600), "tsne_points": (300, 300), "tsne_iterations": (500, 500),
                  "swiss_ae_epochs": (20, 20)})
    monkeypatch.setattr(config, "SIZES", sizes)
    return tmp_cache


def _png_pixels(png: bytes) -> np.ndarray:
    import io

    from PIL import Image
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGBA")).astype(int)


def _shown_as_drawn(fig) -> np.ndarray:
    """The pixels of the PNG a slider shows for the live ``fig`` (blitted), after checking that they
    are the figure as a full draw draws it (no stale title or mark) and that nothing of it lies
    outside the canvas (nothing clipped)."""
    shown = _png_pixels(widgets.render_png(fig))
    fig.canvas.draw()
    full = np.asarray(fig.canvas.buffer_rgba()).astype(int)
    assert shown.shape == full.shape
    differ = np.abs(shown - full).max(-1) > 8  # antialiased edges may round differently
    assert differ.mean() < 1e-3, f"{differ.mean():.2%} of the pixels differ from a full draw"
    box = fig.get_tightbbox(fig.canvas.get_renderer())
    w, h = fig.get_size_inches()
    assert box.x0 >= 0 and box.y0 >= 0 and box.x1 <= w + 1e-6 and box.y1 <= h + 1e-6, (box, w, h)
    return shown


def _fresh_limits(draw) -> tuple:
    """The axis limits matplotlib gives a fresh axes that ``draw(ax)`` fills: (x0, x1, y0, y1)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    draw(ax)
    lims = (*ax.get_xlim(), *ax.get_ylim())
    plt.close(fig)
    return lims


# --- notebook 01 ---------------------------------------------------------------------------------

@pytest.mark.parametrize("dim", [100, 1000, 10000])
def test_distance_histogram_matches_closed_form(dim):
    fig, n = widgets.distance_histogram(dim=dim)
    assert fig.axes and fig.axes[0].get_xlabel()
    assert n["closed_form"] == pytest.approx(3 * math.sqrt(7 / 180) / math.sqrt(dim))
    assert n["relative_spread"] == pytest.approx(n["closed_form"], rel=0.05)


def test_distance_histogram_concentrates_as_dimension_grows():
    numbers = [widgets.distance_histogram(dim=d)[1] for d in (2, 20, 200, 2000)]
    spread = [n["relative_spread"] for n in numbers]
    contrast = [n["relative_contrast"] for n in numbers]
    assert all(a > b for a, b in zip(spread, spread[1:]))
    assert all(a > b for a, b in zip(contrast, contrast[1:]))
    assert contrast[0] > 10 and contrast[-1] < 0.3


def test_distance_histogram_is_fast_enough_to_drag():
    import time
    t = time.perf_counter()
    widgets.distance_histogram(dim=max(widgets.DIMENSIONS))
    assert time.perf_counter() - t < 20  # generous: a shared CI core; typically well under a second


def test_distance_histogram_is_one_live_figure_showing_each_dimension():
    import matplotlib.pyplot as plt
    from scipy.spatial.distance import pdist

    fignums = plt.get_fignums()
    figs, first = set(), {}
    for dim in (2, 10000, 50, 2):
        fig, n = widgets.distance_histogram(dim=dim)
        figs.add(id(fig))
        shown = _shown_as_drawn(fig)
        ax = fig.axes[0]
        assert ax.get_title() == f"400 uniform points in [0,1]^{dim}"
        assert f"spread std/mean = {n['relative_spread']:.3f}" in ax.texts[0].get_text()
        # the bars are the histogram of the pairwise distances, the y axis the one ax.hist gives them
        pair = pdist(np.random.default_rng(0).random((400, dim)))
        ref = np.histogram(pair / pair.mean(), bins=60, range=(0, 2))[0]
        bars = ax.patches[0].get_data().values
        assert np.abs(bars - ref).sum() <= 2  # distances computed another way may cross a bin edge
        ylim = _fresh_limits(lambda a: a.hist(pair / pair.mean(), bins=60, range=(0, 2)))[2:]
        assert ax.get_ylim() == pytest.approx(ylim, rel=1e-3)
        if dim in first:  # a revisit shows what the first visit showed: nothing of 10000 or 50 left
            assert np.array_equal(shown, first[dim])
        first[dim] = shown
    assert len(figs) == 1 and plt.get_fignums() == fignums


@pytest.mark.parametrize("kwargs", [{"dim": 0}, {"dim": 2.5}, {"dim": True}, {"n_points": 2},
                                    {"dim": 10 ** 6}])
def test_distance_histogram_rejects_bad_input(kwargs):
    with pytest.raises(ValueError):
        widgets.distance_histogram(**kwargs)


# --- notebook 02 ---------------------------------------------------------------------------------

def test_short_circuits_appear_only_with_many_neighbours():
    x, t = manifolds.swiss_roll(800)
    assert len(manifolds.short_circuits(x, t, 5)) == 0
    edges = manifolds.short_circuits(x, t, 60)
    assert len(edges) > 100
    assert np.all(np.abs(t[edges[:, 0]] - t[edges[:, 1]]) > np.pi)


def test_manifold_neighbours_shows_the_short_circuit(small_sizes):
    fig_small, small = widgets.manifold_neighbours("isomap", manifolds.SWISS_NEIGHBOURS[0])
    fig_large, large = widgets.manifold_neighbours("isomap", manifolds.SWISS_NEIGHBOURS[-1])
    assert small["short_circuits"] == 0 and large["short_circuits"] > 100
    assert small["unrolling"] > 0.9 and large["unrolling"] < small["unrolling"] - 0.5
    assert 0 < large["trustworthiness"] < small["trustworthiness"] <= 1
    assert len(fig_small.axes) >= 2
    _, lle = widgets.manifold_neighbours("lle", manifolds.SWISS_NEIGHBOURS[1])
    assert lle["short_circuits"] < 10 and lle["unrolling"] > 0.8
    # the callback reads the cache: the sweep is the same object of numbers
    sweep = manifolds.swiss_roll_sweep("isomap")
    assert sweep["unrolling"][0] == pytest.approx(small["unrolling"])


def test_short_circuits_of_the_slider_are_the_manifolds_ones():
    x, t = manifolds.swiss_roll()
    for k in manifolds.SWISS_NEIGHBOURS:
        assert np.array_equal(widgets._short_circuits(k), manifolds.short_circuits(x, t, k)), k


def test_manifold_neighbours_is_one_live_figure_showing_each_graph(small_sizes):
    import matplotlib.pyplot as plt

    fignums = plt.get_fignums()
    x, t = manifolds.swiss_roll()
    figs, first = set(), {}
    for method, k in (("isomap", 5), ("isomap", 80), ("lle", 12), ("isomap", 5)):
        fig, n = widgets.manifold_neighbours(method, k)
        figs.add(id(fig))
        shown = _shown_as_drawn(fig)
        roll, embedding = fig.axes[:2]
        edges = manifolds.short_circuits(x, t, k)
        assert roll.get_title() == f"{k}-NN graph: {len(edges)} short-circuit edges"
        assert len(roll.collections[1].get_segments()) == min(len(edges), 400)  # the red edges drawn
        sweep = manifolds.swiss_roll_sweep(method)
        emb = sweep["embeddings"][list(sweep["neighbours"]).index(k)]
        assert np.array_equal(embedding.collections[0].get_offsets(), emb)
        assert embedding.get_title().startswith(f"{'Isomap' if method == 'isomap' else 'LLE'}, k={k}: ")
        lims = _fresh_limits(lambda a: a.scatter(emb[:, 0], emb[:, 1], s=4))
        assert (*embedding.get_xlim(), *embedding.get_ylim()) == pytest.approx(lims)
        if (method, k) in first:  # a revisit shows what the first visit showed
            assert np.array_equal(shown, first[method, k])
        first[method, k] = shown
    assert len(figs) == 1 and plt.get_fignums() == fignums


@pytest.mark.parametrize("args", [("pca", 8), ("isomap", 7), ("isomap", True), ("lle", "8")])
def test_manifold_neighbours_rejects_bad_input(args):
    with pytest.raises(ValueError):
        widgets.manifold_neighbours(*args)


def test_embedding_scores_reward_the_true_coordinates():
    x, t = manifolds.swiss_roll(500)
    h = x[:, 1]
    unrolled = np.stack([t, h], axis=1)
    good = manifolds.embedding_scores(x, unrolled, t)
    flat = manifolds.embedding_scores(x, x[:, [0, 2]], t)
    assert good["unrolling"] == pytest.approx(1.0)
    assert good["trustworthiness"] > flat["trustworthiness"] and flat["unrolling"] < 0.5
    with pytest.raises(ValueError):
        manifolds.embedding_scores(x, unrolled[:10])


def test_swiss_roll_autoencoder_is_cached(small_sizes):
    m1, info1 = store.swiss_roll_autoencoder()
    m2, info2 = store.swiss_roll_autoencoder()
    assert not info1["cached"] and info2["cached"]
    assert m1.latent_dim == 2 and info2["train_loss"][-1] < info2["train_loss"][0]


# --- notebook 03 ---------------------------------------------------------------------------------

def test_tsne_perplexity_callback_and_cache(small_sizes):
    fig, n = widgets.tsne_perplexity(30)
    assert fig.axes[0].get_xlabel() == "t-SNE 1"
    assert 0.8 < n["trustworthiness"] <= 1 and n["knn_accuracy"] > 0.5 and n["kl_divergence"] > 0
    files = set(small_sizes.iterdir())
    _, again = widgets.tsne_perplexity(30)
    assert again == n and set(small_sizes.iterdir()) == files   # loaded, not recomputed
    x50, y = manifolds.mnist_tsne_points()
    pca = manifolds.embedding_scores(x50, x50[:, :2], labels=y)
    assert n["trustworthiness"] > pca["trustworthiness"] and n["knn_accuracy"] > pca["knn_accuracy"]


def test_tsne_perplexity_is_one_live_figure_showing_each_map(small_sizes):
    import matplotlib.pyplot as plt

    from course_utils import plotting

    fignums = plt.get_fignums()
    figs, first = set(), {}
    for p in (2, 100, 2):
        fig, n = widgets.tsne_perplexity(p)
        figs.add(id(fig))
        shown = _shown_as_drawn(fig)
        ax = fig.axes[0]
        r = manifolds.mnist_tsne(p)
        assert ax.get_title() == (f"t-SNE, perplexity {p}: trust {n['trustworthiness']:.3f}, "
                                  f"k-NN acc {n['knn_accuracy']:.3f}")
        for c in ax.collections:  # each digit's points of this map
            assert np.array_equal(c.get_offsets(), r["embedding"][r["labels"] == int(c.get_label())])
        lims = _fresh_limits(lambda a: plotting.plot_latent(r["embedding"], r["labels"], ax=a))
        assert (*ax.get_xlim(), *ax.get_ylim()) == pytest.approx(lims)
        # the legend painted from its picture is the legend itself, where loc="best" puts it now
        legend, picture = ax.get_legend(), ax.artists[0]
        picture.set_visible(False); legend.set_visible(True)
        fig.canvas.draw()
        itself = np.asarray(fig.canvas.buffer_rgba()).astype(int)
        picture.set_visible(True); legend.set_visible(False)
        assert (np.abs(shown - itself).max(-1) > 8).mean() < 1e-3
        if p in first:  # a revisit shows what the first visit showed: nothing of perplexity 100 left
            assert np.array_equal(shown, first[p])
        first[p] = shown
    assert len(figs) == 1 and plt.get_fignums() == fignums


def test_tsne_seeds_matter_only_with_random_start(small_sizes):
    from scipy.spatial import procrustes
    a, b = manifolds.mnist_tsne(30, 0, "random"), manifolds.mnist_tsne(30, 1, "random")
    assert procrustes(a["embedding"], b["embedding"])[2] > 0.02
    c, d = manifolds.mnist_tsne(30, 0), manifolds.mnist_tsne(30, 1)
    assert procrustes(c["embedding"], d["embedding"])[2] < 1e-6


def test_swiss_roll_tangents_are_the_derivatives_of_the_roll():
    x, t = manifolds.swiss_roll(200, seed=3)
    assert np.allclose(x[:, 0], t * np.cos(t)) and np.allclose(x[:, 2], t * np.sin(t))   # x = (t cos t, h, t sin t)
    roll = lambda t, h: np.stack([t * np.cos(t), h, t * np.sin(t)], 1)
    eps = 1e-6
    tan = manifolds.swiss_roll_tangents(t)
    assert tan.shape == (200, 2, 3)
    assert np.allclose(tan[:, 0], (roll(t + eps, x[:, 1]) - roll(t - eps, x[:, 1])) / (2 * eps), atol=1e-5)
    assert np.allclose(tan[:, 1], (roll(t, x[:, 1] + eps) - roll(t, x[:, 1] - eps)) / (2 * eps), atol=1e-5)
    std = x.std(0)
    assert np.allclose(manifolds.swiss_roll_tangents(t, std), tan / std)   # the standardised roll's tangents
    with pytest.raises(ValueError):
        manifolds.swiss_roll_tangents(t, np.array([1.0, 0.0, 1.0]))
    with pytest.raises(ValueError):
        manifolds.swiss_roll_tangents(np.array([np.nan]))


def test_tsne_pca_start_is_sklearns_scaled_pca_without_a_seed():
    from sklearn.decomposition import PCA
    x, _ = manifolds.swiss_roll(300)
    start = manifolds.tsne_pca_start(x)
    assert start.shape == (300, 2) and start.dtype == np.float32
    assert abs(start[:, 0].std() - 1e-4) < 1e-9          # scikit-learn's scaling of its PCA start
    ref = PCA(n_components=2, svd_solver="full").fit_transform(x)
    for j in range(2):                                   # the same two principal components (up to sign)
        assert abs(abs(np.corrcoef(start[:, j], ref[:, j])[0, 1]) - 1) < 1e-6
    assert np.array_equal(start, manifolds.tsne_pca_start(x[:, :]))
    a = manifolds.run_tsne(x, 30, 0, 250).embedding_      # the seed does not reach a PCA-started run
    b = manifolds.run_tsne(x, 30, 7, 250).embedding_
    assert np.allclose(a, b)
    r0 = manifolds.run_tsne(x, 30, 0, 250, "random").embedding_
    r7 = manifolds.run_tsne(x, 30, 7, 250, "random").embedding_
    assert not np.allclose(r0, r7)
    with pytest.raises(ValueError):
        manifolds.tsne_pca_start(np.ones((10, 3)))
    with pytest.raises(ValueError):
        manifolds.tsne_pca_start(x[:, :1])


@pytest.mark.parametrize("bad", [31, 0, True, "30"])
def test_tsne_perplexity_rejects_bad_input(bad):
    with pytest.raises(ValueError):
        widgets.tsne_perplexity(bad)


def test_mnist_tsne_rejects_bad_input():
    with pytest.raises(ValueError):
        manifolds.mnist_tsne(30, init="spectral")
    with pytest.raises(ValueError):
        manifolds.mnist_tsne(0)


# --- exercise checks: accept the reference, reject wrong answers -------------------------------

def _twonn(x):
    from sklearn.neighbors import NearestNeighbors
    d, _ = NearestNeighbors(n_neighbors=3).fit(x).kneighbors(x)
    return len(d) / np.sum(np.log(d[:, 2] / d[:, 1]))


def test_check_twonn():
    from sklearn.neighbors import NearestNeighbors
    assert exercises.check_twonn(_twonn)
    assert not exercises.check_twonn(None)

    def self_as_neighbour(x):  # forgot that the first neighbour is the point itself
        d, _ = NearestNeighbors(n_neighbors=2).fit(x).kneighbors(x)
        return len(d) / np.sum(np.log(d[:, 1] / np.maximum(d[:, 0], 1e-12)))

    def mean_not_sum(x):
        d, _ = NearestNeighbors(n_neighbors=3).fit(x).kneighbors(x)
        return 1 / np.sum(np.log(d[:, 2] / d[:, 1]))

    assert not exercises.check_twonn(self_as_neighbour)
    assert not exercises.check_twonn(mean_not_sum)


def test_check_perplexity():
    def right(p):
        p = np.asarray(p, float)[np.asarray(p) > 0]
        return 2 ** (-np.sum(p * np.log2(p)))

    assert exercises.check_perplexity(right)
    assert exercises.check_perplexity(lambda p: np.exp(-np.sum(np.where(p > 0, p * np.log(np.where(p > 0, p, 1)), 0))))
    assert not exercises.check_perplexity(lambda p: -np.sum(p[p > 0] * np.log2(p[p > 0])))   # entropy, not 2^H
    assert not exercises.check_perplexity(lambda p: 2 ** (-np.sum(p[p > 0] * np.log(p[p > 0]))))  # nats as bits
    assert not exercises.check_perplexity(None)


def test_check_neighbour_overlap():
    from sklearn.neighbors import NearestNeighbors

    def right(a, b, k):
        ia = NearestNeighbors(n_neighbors=k + 1).fit(a).kneighbors(a, return_distance=False)[:, 1:]
        ib = NearestNeighbors(n_neighbors=k + 1).fit(b).kneighbors(b, return_distance=False)[:, 1:]
        return np.mean([len(set(r) & set(s)) / k for r, s in zip(ia, ib)])

    def keeps_self(a, b, k):
        ia = NearestNeighbors(n_neighbors=k).fit(a).kneighbors(a, return_distance=False)
        ib = NearestNeighbors(n_neighbors=k).fit(b).kneighbors(b, return_distance=False)
        return np.mean([len(set(r) & set(s)) / k for r, s in zip(ia, ib)])

    assert exercises.check_neighbour_overlap(right)
    assert not exercises.check_neighbour_overlap(keeps_self)
    assert not exercises.check_neighbour_overlap(lambda a, b, k: 1.0)


def test_mnist_tsne_nudged_twin_is_its_own_cached_run(small_sizes):
    plain = manifolds.mnist_tsne(30, 0, "random")
    nudged = manifolds.mnist_tsne(30, 0, "random", jitter=manifolds.TSNE_JITTER)
    assert nudged["embedding"].shape == plain["embedding"].shape
    assert not np.array_equal(nudged["embedding"], plain["embedding"])       # a different run, not the cached plain one
    assert np.array_equal(manifolds.mnist_tsne(30, 0, "random")["embedding"], plain["embedding"])
    for bad in (-1e-3, 2.0, True, "small"):
        with pytest.raises(ValueError, match="jitter"):
            manifolds.mnist_tsne(30, 0, "random", jitter=bad)


def test_the_sliders_of_02_and_03_follow_the_drag_and_01_waits_for_release():
    """02 and 03 redraw in ~40 ms (blitted, nothing computed); 01's largest dimensions compute
    30-50 ms before drawing, so its slider redraws on release."""
    for fn, follows in ((widgets.distance_histogram, False), (widgets.manifold_neighbours, True),
                        (widgets.tsne_perplexity, True)):
        assert (getattr(fn, "continuous_update", False) is True) is follows, fn.__name__


@pytest.mark.parametrize("n, seed", [(20, 0), (1500, 0), (1000, 7), (777, 2**32 - 1)])
def test_swiss_roll_is_sklearns_make_swiss_roll_bit_for_bit(n, seed):
    from sklearn.datasets import make_swiss_roll

    x, t = manifolds.swiss_roll(n, seed=seed)
    x_ref, t_ref = make_swiss_roll(n, noise=0.0, random_state=seed)
    assert x.dtype == x_ref.dtype == np.float64 and x.shape == (n, 3)
    assert np.array_equal(x, x_ref) and np.array_equal(t, t_ref)

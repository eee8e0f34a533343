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


# --- the probe's classifiers in torch (notebook 07 imports no scikit-learn) ---------------------------

def _sklearn_objective(clf_w, clf_b, x, y, C):
    """scikit-learn's LogisticRegression objective, per sample: mean cross-entropy + ||W||^2 / (2 C N)."""
    import torch
    logits = x.double() @ clf_w + clf_b
    return float(torch.nn.functional.cross_entropy(logits, y) + (clf_w ** 2).sum() / (2 * C * len(x)))


@pytest.mark.parametrize("n, seed", [(100, 1), (300, 2)])
def test_fit_logistic_is_sklearns_logistic_regression(n, seed):
    import torch
    from sklearn.linear_model import LogisticRegression

    from course_utils import data

    x, y = data.load_mnist("train", n=n, seed=seed)
    xt, yt = data.load_mnist("test", n=2000, seed=0)
    ours = probe.fit_logistic(x, y)
    tight = LogisticRegression(C=1.0, tol=1e-8, max_iter=20_000).fit(x.numpy().astype("float64"), y.numpy())
    w, b = torch.from_numpy(tight.coef_.T), torch.from_numpy(tight.intercept_)
    # the same convex objective, and ours reaches scikit-learn's tightly solved minimum (within 1e-7 of 0.2)
    assert _sklearn_objective(ours.weight, ours.bias, x, y, 1.0) <= _sklearn_objective(w, b, x, y, 1.0) + 1e-7
    # softmax is unchanged by adding a constant to every class, and scikit-learn's weights sum to 0 over classes
    assert float((ours.weight - ours.weight.mean(1, keepdim=True) - w).abs().max()) < 1e-3
    pred = ours.predict(xt)
    assert float((pred == torch.from_numpy(tight.predict(xt.numpy()))).double().mean()) >= 0.999
    assert ours.score(xt, yt) == pytest.approx(tight.score(xt.numpy(), yt.numpy()), abs=1e-3)
    assert 0.6 < ours.score(xt, yt) < 0.95                    # a real classifier, not chance and not perfect


def test_fit_logistic_keeps_the_class_labels_it_was_given():
    import torch
    g = torch.Generator().manual_seed(0)
    x = torch.cat([torch.randn(20, 2, generator=g) - 3, torch.randn(20, 2, generator=g) + 3])
    y = torch.tensor([7] * 20 + [2] * 20)
    m = probe.fit_logistic(x, y)
    assert m.classes.tolist() == [2, 7] and m.score(x, y) == 1.0
    assert m.predict(torch.tensor([[-3.0, -3.0], [3.0, 3.0]])).tolist() == [7, 2]


def test_knn_accuracy_is_sklearns_k_neighbours_classifier():
    from sklearn.neighbors import KNeighborsClassifier

    from course_utils import data

    x, y = data.load_mnist("train", n=2000, seed=0)
    xt, yt = data.load_mnist("test", n=500, seed=0)
    for k in (1, 5):
        ours = probe.knn_accuracy(x, y, xt, yt, k=k, chunk=64)
        theirs = KNeighborsClassifier(k).fit(x.numpy(), y.numpy()).score(xt.numpy(), yt.numpy())
        assert ours == pytest.approx(theirs, abs=1e-12), k
        assert 0.8 < ours < 1.0


def test_knn_accuracy_gives_a_tie_to_the_smallest_label():
    import torch
    train = torch.tensor([[1.0], [-1.0], [2.0], [-2.0], [10.0]])
    y_train = torch.tensor([3, 1, 3, 1, 0])
    test = torch.tensor([[0.0]])
    assert probe.knn_accuracy(train, y_train, test, torch.tensor([1]), k=4) == 1.0   # 2 votes each: 1 wins
    assert probe.knn_accuracy(train, y_train, test, torch.tensor([3]), k=4) == 0.0


@pytest.mark.parametrize("call, words", [
    (lambda t: probe.fit_logistic(t.rand(4, 3), t.tensor([0.0, 1, 0, 1])), "integer class labels"),
    (lambda t: probe.fit_logistic(t.rand(4, 3), t.tensor([0, 1, 0])), "shape (4,)"),
    (lambda t: probe.fit_logistic(t.rand(4, 3), t.zeros(4, dtype=t.long)), "at least 2 classes"),
    (lambda t: probe.fit_logistic(t.rand(4, 3), t.tensor([0, 1, 0, 1]), C=0), "C must be"),
    (lambda t: probe.knn_accuracy(t.rand(4, 3), t.arange(4), t.rand(2, 5), t.arange(2)), "(N, 3)"),
    (lambda t: probe.knn_accuracy(t.rand(4, 3), t.arange(4), t.rand(2, 3), t.arange(2), k=5), "k must be"),
])
def test_probe_classifiers_refuse_bad_input_clearly(call, words):
    import torch
    with pytest.raises(ValueError, match=__import__("re").escape(words)):
        call(torch)

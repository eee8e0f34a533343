"""The callbacks behind every slider of the course, and the small wiring helper notebooks use.

Each callback is a plain function that returns a matplotlib Figure (and the numbers it shows), so
tests call it without a browser; a notebook only wires sliders to it with :func:`show_interactive`.
Core ipywidgets only, so the same code runs with ipywidgets 7.7 (Colab) and 8.x.
"""
from __future__ import annotations

from typing import Callable

import matplotlib.pyplot as plt
from matplotlib.ticker import FormatStrFormatter, LogLocator

from . import plotting  # noqa: F401  (callbacks draw with it)



def show_interactive(callback: Callable, **controls):
    """Wire ipywidgets controls to ``callback(**values)`` and display the result.

    ``controls`` map argument names to ipywidgets controls (or abbreviations understood by
    ``ipywidgets.interactive``, e.g. a tuple ``(0.0, 1.0, 0.05)`` for a float slider). Sliders
    redraw when released (``continuous_update=False``) so a drag never queues many redraws. The
    callback's figure is shown with ``plt.show()`` and closed, which works with inline matplotlib
    on JupyterLab, Colab and Binder. Labels are shown in full (``description_width="initial"``).

    The widget is displayed here and returned for tests and further wiring: write
    ``ui = show_interactive(...)`` so Jupyter does not display the returned widget a second time.
    """
    import ipywidgets as W
    from IPython.display import display

    for c in controls.values():
        if hasattr(c, "continuous_update"):
            c.continuous_update = False
        if hasattr(c, "style") and hasattr(c.style, "description_width"):
            c.style.description_width = "initial"  # "noise level σ", not "noise le…"

    ran = []

    def run(**values):
        ran.append(True)
        result = callback(**values)
        fig = result[0] if isinstance(result, tuple) else result
        if fig is not None:
            plt.show()
            plt.close(fig)

    ui = W.interactive(run, **controls)
    # Abbreviations such as (0.0, 1.0, 0.05) become sliders inside ``interactive``; release-to-redraw
    # applies to them too (found by the ipywidgets 7.7.1 test, tests/test_widgets_interactive.py).
    for c in ui.kwargs_widgets:
        if hasattr(c, "continuous_update"):
            c.continuous_update = False
    display(ui)
    if not ran:
        # ipywidgets 7 draws on the front end's "displayed" event; with no front end (a script, a
        # test) nothing would be drawn, so draw once now. ipywidgets 8 has drawn already.
        ui.update()
    return ui


# --- notebook 01: curse of dimensionality ------------------------------------------------------

#: Dimensions offered by the notebook-01 slider (roughly logarithmic steps).
DIMENSIONS: tuple[int, ...] = (1, 2, 3, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000)


def distance_histogram(dim: int = 10, n_points: int = 400, seed: int = 0):
    """The dimension slider: ``n_points`` uniform points in [0, 1]^dim; the histogram of their pairwise
    distances divided by the mean distance. Returns ``(fig, numbers)`` with ``relative_spread``
    (std / mean of the distances), ``closed_form`` (3·√(7/180)/√dim ≈ 0.59/√dim, exact as dim → ∞)
    and ``relative_contrast`` (median over query points of (farthest − nearest) / nearest)."""
    import numpy as np

    for v, name, lo in ((dim, "dim", 1), (n_points, "n_points", 3)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
            raise ValueError(f"{name} must be an integer >= {lo}, got {v!r}")
    if dim > 100_000:
        raise ValueError(f"dim must be at most 100000, got {dim}")
    x = np.random.default_rng(seed).random((n_points, dim))
    sq = (x * x).sum(1)
    d = np.sqrt(np.maximum(sq[:, None] + sq[None, :] - 2.0 * (x @ x.T), 0.0))
    pair = d[np.triu_indices(n_points, 1)]
    np.fill_diagonal(d, np.inf)
    nearest = d.min(1)
    np.fill_diagonal(d, 0.0)
    farthest = d.max(1)
    numbers = {
        "dim": int(dim),
        "relative_spread": float(pair.std() / pair.mean()),
        "closed_form": float(3.0 * np.sqrt(7.0 / 180.0) / np.sqrt(dim)),
        "relative_contrast": float(np.median((farthest - nearest) / nearest)),
    }
    fig, ax = plt.subplots(figsize=(6, 3.6))
    ax.hist(pair / pair.mean(), bins=60, range=(0, 2), color="C0")
    ax.set_xlim(0, 2)
    ax.set_xlabel("pairwise distance / mean distance")
    ax.set_ylabel("number of pairs")
    ax.set_title(f"{n_points} uniform points in [0,1]^{dim}")
    ax.text(0.02, 0.95, f"spread std/mean = {numbers['relative_spread']:.3f}\n"
            f"closed form 0.59/√d = {numbers['closed_form']:.3f}\n"
            f"contrast (max−min)/min = {numbers['relative_contrast']:.3g}",
            transform=ax.transAxes, va="top", fontsize=9)
    fig.tight_layout()
    return fig, numbers


# --- notebook 02: manifold hypothesis -----------------------------------------------------------

def manifold_neighbours(method: str = "isomap", n_neighbors: int = 8):
    """The neighbour-count slider: the Swiss roll with its short-circuit edges (neighbours on
    different turns, drawn red) and the ``method`` (``"isomap"`` or ``"lle"``) embedding with
    ``n_neighbors`` neighbours, coloured by the roll parameter. Embeddings come from the cached
    sweep :func:`course_utils.zoo.swiss_roll_sweep`. Returns ``(fig, numbers)`` with
    ``short_circuits``, ``trustworthiness`` and ``spearman`` (|rank correlation| with the roll)."""
    import numpy as np

    from . import zoo

    if method not in ("isomap", "lle"):
        raise ValueError(f"method must be 'isomap' or 'lle', got {method!r}")
    if isinstance(n_neighbors, bool) or n_neighbors not in zoo.SWISS_NEIGHBOURS:
        raise ValueError(f"n_neighbors must be one of {zoo.SWISS_NEIGHBOURS}, got {n_neighbors!r}")
    sweep = zoo.swiss_roll_sweep(method)
    i = int(np.flatnonzero(sweep["neighbours"] == n_neighbors)[0])
    x, t = zoo.swiss_roll()
    edges = zoo.short_circuits(x, t, int(n_neighbors))
    emb = sweep["embeddings"][i]
    numbers = {"n_neighbors": int(n_neighbors), "short_circuits": int(sweep["short_circuits"][i]),
               "trustworthiness": float(sweep["trustworthiness"][i]),
               "spearman": float(sweep["spearman"][i])}
    fig = plt.figure(figsize=(10, 4.2))
    ax = fig.add_subplot(1, 2, 1, projection="3d")
    ax.scatter(x[:, 0], x[:, 1], x[:, 2], c=t, cmap="viridis", s=4)
    for a, b in edges[:400]:
        ax.plot(*zip(x[a], x[b]), color="red", lw=0.6)
    ax.set_title(f"{n_neighbors}-NN graph: {len(edges)} short-circuit edges")
    ax.set_xlabel("x"); ax.set_ylabel("y"); ax.set_zlabel("z")
    ax2 = fig.add_subplot(1, 2, 2)
    sc = ax2.scatter(emb[:, 0], emb[:, 1], c=t, cmap="viridis", s=4)
    fig.colorbar(sc, ax=ax2, label="roll parameter t")
    ax2.set_title(f"{'Isomap' if method == 'isomap' else 'LLE'}, k={n_neighbors}: "
                  f"trust {numbers['trustworthiness']:.3f}, |ρ| {numbers['spearman']:.2f}")
    ax2.set_xlabel("coordinate 1"); ax2.set_ylabel("coordinate 2")
    fig.tight_layout()
    return fig, numbers


# --- notebook 03: t-SNE ----------------------------------------------------------------------------

def tsne_perplexity(perplexity: int = 30):
    """The perplexity slider: the cached t-SNE map of the MNIST test points at ``perplexity`` (one
    of :data:`course_utils.zoo.TSNE_PERPLEXITIES`), coloured by digit. Returns ``(fig, numbers)`` with
    ``kl_divergence``, ``trustworthiness`` and ``knn_accuracy`` (5-fold k-NN in the map)."""
    from . import zoo

    if isinstance(perplexity, bool) or perplexity not in zoo.TSNE_PERPLEXITIES:
        raise ValueError(f"perplexity must be one of {zoo.TSNE_PERPLEXITIES}, got {perplexity!r}")
    r = zoo.mnist_tsne(perplexity)
    numbers = {"perplexity": int(perplexity), "kl_divergence": float(r["kl_divergence"]),
               "trustworthiness": float(r["trustworthiness"]), "knn_accuracy": float(r["knn_accuracy"])}
    fig = plotting.plot_latent(
        r["embedding"], r["labels"], xlabel="t-SNE 1", ylabel="t-SNE 2",
        title=f"t-SNE, perplexity {perplexity}: trust {numbers['trustworthiness']:.3f}, "
              f"k-NN acc {numbers['knn_accuracy']:.3f}")
    return fig, numbers


# --- notebook 04: autoencoder (latent-size slider, description "code size") ------------------------

_LATENT_VIEW_MEMO: dict = {}


def _latent_view_data(code_size: int):
    """(model, curve, test images, PCA) behind :func:`latent_size_view`, kept in memory per cache
    folder and mode, so a slider move costs one forward pass and a redraw, not file loads."""
    from . import config, zoo

    key = (str(config.cache_dir()), config.FAST)
    memo = _LATENT_VIEW_MEMO.get(key)
    if memo is None:
        _LATENT_VIEW_MEMO.clear()
        x_test, _ = zoo.mnist_test()
        memo = _LATENT_VIEW_MEMO[key] = {"models": {}, "curve": zoo.latent_curve(), "x_test": x_test,
                                         "pca": zoo.pca_fit()}
    if code_size not in memo["models"]:
        memo["models"][code_size] = zoo.latent_model(code_size)[0]
    return memo["models"][code_size], memo["curve"], memo["x_test"], memo["pca"]


def latent_size_view(code_size: int = 8, n: int = 8):
    """The latent-size widget: test digits, their reconstructions by the autoencoder and by PCA
    with ``code_size`` numbers, beside the test error against code size for both.

    Models come from :func:`course_utils.zoo.latent_model` (trained once, then cached), so this
    never retrains after the first call. Returns ``(fig, {"code_size", "test_mse", "pca_mse"})``
    with errors as mean squared error per pixel on the test images.
    """
    import numpy as np

    from . import training, zoo

    if isinstance(code_size, bool) or code_size not in zoo.LATENT_SIZES:
        raise ValueError(f"code_size must be one of {zoo.LATENT_SIZES}, got {code_size!r}")
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 20:
        raise ValueError(f"n must be an integer in 1..20 (digits shown), got {n!r}")
    model, curve, xt, pca = _latent_view_data(code_size)
    x = xt[:: max(1, len(xt) // n)][:n]
    ae_out = training.reconstruct(model, x)
    pca_out = zoo.pca_reconstruct(x, code_size, pca)
    i = int(np.flatnonzero(curve["sizes"] == code_size)[0])
    numbers = {"code_size": int(code_size), "test_mse": float(curve["ae_test_mse"][i]),
               "pca_mse": float(curve["pca_test_mse"][i])}

    fig, (rx, ax) = plt.subplots(1, 2, figsize=(12, 3.6), gridspec_kw={"width_ratios": [n, 6], "wspace": 0.08})
    plotting.draw_rows(rx, {"original": x, f"autoencoder ({code_size})": ae_out, f"PCA ({code_size})": pca_out},
                       n=n, fontsize=9)
    ax.plot(curve["sizes"], curve["ae_test_mse"], "o-", label="autoencoder")
    ax.plot(curve["sizes"], curve["pca_test_mse"], "s--", label="PCA")
    ax.plot([code_size], [numbers["test_mse"]], "o", ms=12, mfc="none", mec="k", label="this code size")
    ax.set_xscale("log", base=2); ax.set_yscale("log")
    ax.set_xticks(list(curve["sizes"])); ax.set_xticklabels([str(s) for s in curve["sizes"]])
    # few ticks, plain labels ("0.02", not mathtext "2×10⁻²"): text layout is most of a redraw
    ax.minorticks_off()
    ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax.set_xlabel("code size (numbers per image)"); ax.set_ylabel("test MSE per pixel")
    ax.set_title(f"code size {code_size}: AE {numbers['test_mse']:.4f} · PCA {numbers['pca_mse']:.4f}",
                 fontsize=10)
    ax.legend(fontsize=8, loc="upper right")  # a fixed place: "best" searches the lines on every redraw
    ax.yaxis.set_label_position("right"); ax.yaxis.tick_right()
    return fig, numbers


# --- notebook 06: denoising autoencoder (noise slider, description "noise level σ") -----------------

#: Noise kinds of the notebook-06 widget: label shown -> kind understood by ``data.add_noise``.
NOISE_KIND_LABELS: dict[str, str] = {"Gaussian": "gaussian", "masking": "masking",
                                     "salt-and-pepper": "salt_pepper"}
_NOISE_VIEW_MEMO: dict = {}


def _noise_view_models():
    """The denoisers and test images behind :func:`noise_view`, loaded once per cache folder/mode."""
    from . import config, zoo

    key = (str(config.cache_dir()), config.FAST)
    if key not in _NOISE_VIEW_MEMO:
        _NOISE_VIEW_MEMO.clear()
        _NOISE_VIEW_MEMO[key] = zoo.denoisers()
    return _NOISE_VIEW_MEMO[key]


def noise_view(level: float = 0.3, kind: str = "gaussian", n: int = 8, n_eval: int = 1000):
    """The noise widget of notebook 06 (inference only: the models come from the zoo's cache).

    Corrupts test digits with ``kind`` noise (``"gaussian"``: x + level·N(0,1), unclipped as in
    the seminar; ``"masking"`` / ``"salt_pepper"``: each pixel hit with probability ``level``) and
    shows Origin / Input X / PCA / Output Y (the repaired DAE trained at σ = 0.3). Errors are mean
    squared error per pixel against the clean images, over the first ``n_eval`` test images.
    Returns ``(fig, {"noisy_mse", "pca_mse", "dae_mse", "masking_dae_mse"})``.
    """
    from . import config, training, zoo

    kind = NOISE_KIND_LABELS.get(kind, kind)
    if kind not in NOISE_KIND_LABELS.values():
        raise ValueError(f"kind must be one of {tuple(NOISE_KIND_LABELS.values())}, got {kind!r}")
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 <= level <= 1:
        raise ValueError(f"level must be a number in [0, 1], got {level!r}")
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 20:
        raise ValueError(f"n must be an integer in 1..20 (digits shown), got {n!r}")
    if isinstance(n_eval, bool) or not isinstance(n_eval, int) or n_eval < n:
        raise ValueError(f"n_eval must be an integer >= n ({n}), got {n_eval!r}")
    den = _noise_view_models()
    clean, noisy = zoo.noisy_test(kind, float(level), n=min(n_eval, config.size("mnist_test")))
    outs = {"pca": den["pca"](noisy), "dae": training.reconstruct(den["fixed"], noisy),
            "masking_dae": training.reconstruct(den["masking"], noisy)}
    err = lambda y: float(((y - clean) ** 2).mean())  # noqa: E731
    numbers = {"noisy_mse": err(noisy), "pca_mse": err(outs["pca"]), "dae_mse": err(outs["dae"]),
               "masking_dae_mse": err(outs["masking_dae"])}
    label = {v: k for k, v in NOISE_KIND_LABELS.items()}[kind]
    rows = {"Origin": clean[:n], f"Input X\n{numbers['noisy_mse']:.4f}": noisy[:n],
            f"PCA (k={den['pca'].k})\n{numbers['pca_mse']:.4f}": outs["pca"][:n],
            f"Output Y (DAE)\n{numbers['dae_mse']:.4f}": outs["dae"][:n]}
    fig = plotting.show_rows(rows, title=f"{label} noise, level {level:.2f} — MSE per pixel under each "
                             f"row name (first {len(clean)} test digits)", n=n)
    return fig, numbers


# --- notebook 07: applications --------------------------------------------------------------------

def compression_view(bits: int = 4, n: int = 8):
    """Bits-per-value slider of notebook 07: the quantized autoencoder with ``bits`` bits per code
    value on ``n`` test digits (original / autoencoder / JPEG at its smallest file), and its point
    on the rate–distortion curve. Numbers: sizes in bits per image and the error."""
    import numpy as np

    from . import compression as C
    from . import zoo

    if isinstance(bits, bool) or bits not in zoo.COMPRESSION_BITS:
        raise ValueError(f"bits must be one of {zoo.COMPRESSION_BITS}, got {bits!r}")
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 10:
        raise ValueError(f"n must be an integer from 1 to 10, got {n!r}")
    model = zoo.compression_model(bits)[0]
    curve = zoo.compression_curve()
    xt, _ = zoo.compression_test_images()
    x = xt[:n]
    rec = model.decode_symbols(model.symbols(x))
    i = list(curve["ae_bits"]).index(bits)
    q0 = int(np.argmin(curve["jpeg_file_bits"]))
    numbers = {
        "bits_per_value": int(bits), "code_values": int(model.latent_dim),
        "fixed_bits": int(curve["ae_fixed_bits"][i]), "rate_bits": float(curve["ae_rate"][i]),
        "lzma_bits": float(curve["ae_lzma_bits"][i]), "mse": float(curve["ae_mse"][i]),
        "psnr_db": C.psnr(float(curve["ae_mse"][i])), "raw_bits": 784 * 8,
        "jpeg_quality": int(curve["jpeg_quality"][q0]), "jpeg_file_bits": float(curve["jpeg_file_bits"][q0]),
        "jpeg_payload_bits": float(curve["jpeg_payload_bits"][q0]), "jpeg_mse": float(curve["jpeg_mse"][q0]),
    }
    numbers["ratio_vs_raw"] = numbers["raw_bits"] / numbers["rate_bits"]
    fig, (rx, ax) = plt.subplots(1, 2, figsize=(12, 3.8), gridspec_kw={"width_ratios": [n, 6], "wspace": 0.3})
    plotting.draw_rows(rx, {
        "original": x, f"AE, {bits} bit/value\n≈{numbers['rate_bits']:.0f} bits": rec,
        f"JPEG q={numbers['jpeg_quality']}\n{numbers['jpeg_file_bits']:.0f} bits": curve["jpeg_decoded"][q0][:n],
    }, n=n, fontsize=8)
    plotting.plot_rate_distortion({
        "autoencoder (arithmetic-coded)": (curve["ae_rate"], curve["ae_mse"], "o-"),
        "PCA, quantized (best per size)": (*C.pareto_front(curve["pca_rate"], curve["pca_mse"]), "s--"),
        "JPEG payload (no headers)": (curve["jpeg_payload_bits"], curve["jpeg_mse"], "^:"),
        "JPEG real file": (curve["jpeg_file_bits"], curve["jpeg_mse"], "v-"),
    }, ax=ax, mark=(numbers["rate_bits"], numbers["mse"]),
        title=f"{bits} bit/value: {numbers['rate_bits']:.0f} bits/image, PSNR {numbers['psnr_db']:.1f} dB")
    ax.title.set_fontsize(9)
    return fig, numbers


def probe_view(n_labels: int = 100):
    """Labels slider of notebook 07: linear-probe test accuracy against the number of labelled
    images for pixels, PCA and autoencoder features (cached sweep), with ``n_labels`` marked."""
    import numpy as np

    from . import zoo

    if isinstance(n_labels, bool) or n_labels not in zoo.PROBE_LABELS:
        raise ValueError(f"n_labels must be one of {zoo.PROBE_LABELS}, got {n_labels!r}")
    sweep = zoo.probe_sweep()
    labels, acc = sweep["labels"], sweep["accuracy"]
    j = list(labels).index(n_labels)
    mean = acc.mean(-1)
    numbers = {"n_labels": int(n_labels), "draws": int(acc.shape[-1])}
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4), gridspec_kw={"width_ratios": [3, 2]})
    for i, kind in enumerate(zoo.PROBE_FEATURES):
        numbers[f"{kind}_accuracy"] = float(mean[i, j])
        ax.errorbar(labels, mean[i], yerr=[mean[i] - acc[i].min(-1), acc[i].max(-1) - mean[i]],
                    marker="o", capsize=3, label=kind)
    ax.axvline(n_labels, color="k", ls=":", lw=1)
    ax.set_xscale("log"); ax.set_xlabel("labelled training images (log scale)")
    ax.set_ylabel("test accuracy"); ax.set_ylim(0, 1); ax.grid(alpha=0.3)
    ax.set_title("Linear classifier on each kind of feature"); ax.legend(fontsize=8)
    vals = [numbers[f"{k}_accuracy"] for k in zoo.PROBE_FEATURES]
    bars = bx.bar(range(len(vals)), vals, color=[f"C{i}" for i in range(len(vals))])
    bx.bar_label(bars, labels=[f"{v:.1%}" for v in vals], fontsize=9)
    bx.set_xticks(range(len(vals))); bx.set_xticklabels(zoo.PROBE_FEATURES)
    bx.set_ylim(0, 1); bx.set_ylabel("test accuracy")
    bx.set_title(f"{n_labels} labels, mean of {numbers['draws']} draw(s)")
    fig.tight_layout()
    return fig, numbers

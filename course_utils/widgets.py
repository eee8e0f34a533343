"""The callbacks behind every slider of the course, and the small wiring helper notebooks use.

Each callback is a plain function of the slider values that fetches what it shows from the model
store (or a cached sweep), draws it with :mod:`course_utils.plotting`, and returns
``(figure, numbers)``, so tests call it without a browser; a notebook only wires sliders to it
with :func:`show_interactive`. Core ipywidgets only, so the same code runs with ipywidgets 7.7
(Colab) and 8.x. Loaded models are kept in memory by :func:`remember`, so a slider move costs a
forward pass and a redraw, not file loads.
"""
from __future__ import annotations

import copy
import functools
import inspect
import io
import struct
import zlib
from collections import OrderedDict
from typing import Any, Callable, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from . import compression, config, data, denoising_field, manifolds, plotting, probe, recipes, store, training, vae
from .device import one_thread
from .memory import release_free_heap
from .pca import reconstruct as pca_reconstruct

__all__ = ["show_interactive", "remember", "render_png", "DIMENSIONS", "MAX_HISTOGRAM_VALUES", "NOISE_KIND_LABELS", "distance_histogram",
           "manifold_neighbours", "tsne_perplexity", "latent_size_view", "noise_view",
           "compression_view", "probe_view", "field_view", "walk_view",
           "beta_view", "latent_walk_view", "BETA_VIEW_EVAL", "conv_size_view", "SHIFTS", "shift_view", "shift_errors"]

Numbers = dict[str, Any]


def show_interactive(callback: Callable, **controls):
    """Wire ipywidgets controls to ``callback(**values)`` and display the result.

    ``controls`` map argument names to ipywidgets controls (or abbreviations understood by
    ``ipywidgets.interactive``, e.g. a tuple ``(0.0, 1.0, 0.05)`` for a float slider). Sliders
    redraw when released (``continuous_update=False``) so a drag never queues many redraws, except
    for callbacks marked cheap (``callback.continuous_update = True``: decoding one point, moving one
    image), whose sliders follow the drag. The callback's figure is shown as the PNG of
    :func:`render_png` (what the benchmark times) and closed, which works with inline matplotlib on
    JupyterLab, Colab and Binder. Labels are shown in full (``description_width="initial"``).

    The widget is displayed here and returned for tests and further wiring: write
    ``ui = show_interactive(...)`` so Jupyter does not display the returned widget a second time.
    """
    import ipywidgets as W
    from IPython.display import Image, display

    follow = getattr(callback, "continuous_update", False) is True

    def wire(c):
        if hasattr(c, "continuous_update"):
            c.continuous_update = follow

    for c in controls.values():
        wire(c)
        if hasattr(c, "style") and hasattr(c.style, "description_width"):
            c.style.description_width = "initial"  # "noise level σ", not "noise le…"

    ran = []

    def run(**values):
        ran.append(True)
        result = callback(**values)
        fig = result[0] if isinstance(result, tuple) else result
        if isinstance(fig, Figure):
            display(Image(data=render_png(fig), format="png"))
            plt.close(fig)
        elif fig is not None:
            plt.show()

    ui = W.interactive(run, **controls)
    # Abbreviations such as (0.0, 1.0, 0.05) become sliders inside ``interactive``; release-to-redraw
    # applies to them too (found by the ipywidgets 7.7.1 test, tests/test_widgets_interactive.py).
    for c in ui.kwargs_widgets:
        wire(c)
    display(ui)
    if not ran:
        # ipywidgets 7 draws on the front end's "displayed" event; with no front end (a script, a
        # test) nothing would be drawn, so draw once now. ipywidgets 8 has drawn already.
        ui.update()
    return ui


def render_png(fig: Figure) -> bytes:
    """The PNG a slider shows for ``fig``: the figure at its own dpi, cropped as Jupyter's inline
    backend crops (``bbox_inches="tight"``). A figure a slider callback keeps (see :func:`_kept`) is
    rendered once and its PNG kept with it; a live figure (a callback that changes a few artists of
    one kept figure: most sliders of notebooks 04–10) is redrawn by blitting: the unchanging parts are drawn
    once into a background, and each call draws only the artists that moved onto it. Its PNG is
    written by :func:`_encode_png` (2.5× faster than Pillow's RGBA encoder on the course's AMD VM)."""
    if not isinstance(fig, Figure):
        raise TypeError(f"fig must be a matplotlib Figure, got {type(fig).__name__}")
    png = getattr(fig, "_course_png", None)
    if png is not None:
        return png
    live = getattr(fig, "_course_live", None)
    if live is not None:
        png = _blit_png(fig, live)
    else:
        buf = io.BytesIO()
        fig.savefig(buf, format="png", bbox_inches="tight", pil_kwargs={"compress_level": 1})
        png = buf.getvalue()
    if getattr(fig, "_course_kept", False):
        fig._course_png = png
        _drop_renderer(fig)  # the PNG is kept: the canvas's pixel buffer (MBs) is not needed again
    return png


def _drop_renderer(fig: Figure) -> None:
    canvas = fig.canvas
    if hasattr(canvas, "renderer"):
        del canvas.renderer
        canvas._lastKey = None  # FigureCanvasAgg makes a fresh renderer at the next draw


def _blit_png(fig: Figure, artists: list) -> bytes:
    """PNG of a live figure: restore the background (the figure without ``artists``, drawn again
    only when the figure's size or dpi changed or the callback dropped it), draw ``artists`` on it."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = fig.canvas
    if not isinstance(canvas, FigureCanvasAgg):  # e.g. a Figure made without pyplot, or a GUI backend's
        canvas = FigureCanvasAgg(fig)            # blitting needs Agg's pixel buffer (this sets fig.canvas)
        fig._course_background = None
    size = (float(fig.dpi), *canvas.get_width_height())
    background = getattr(fig, "_course_background", None)
    if background is None or background[0] != size:
        for a in artists:
            a.set_animated(True)
        try:
            canvas.draw()
        finally:
            for a in artists:
                a.set_animated(False)
        background = fig._course_background = (size, canvas.copy_from_bbox(fig.bbox))
    else:
        canvas.restore_region(background[1])
    for a in artists:
        fig.draw_artist(a)
    return _encode_png(np.asarray(canvas.buffer_rgba()))


def _png_chunk(tag: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body))


def _encode_png(pixels: np.ndarray) -> bytes:
    """A PNG of ``pixels`` (H, W, 4) uint8 RGBA, lossless: RGB when every pixel is opaque (a white
    figure), else RGBA. Rows are stored unfiltered and deflated at level 1: a slider's figure is
    mostly flat colour, which deflate packs about as well as PNG's filters would. On the 13 slider
    figures of the course (2-core AMD VM) this takes 8.7 ms (median) against Pillow's 14.6 ms for
    RGB and 21.6 ms for RGBA (what the sliders sent before session 11), for files within 15 % of
    Pillow's (``benchmarks/results/session11_png_encoders.txt``)."""
    if not (isinstance(pixels, np.ndarray) and pixels.dtype == np.uint8 and pixels.ndim == 3
            and pixels.shape[2] == 4 and pixels.shape[0] > 0 and pixels.shape[1] > 0):
        raise ValueError("pixels must be a uint8 array of shape (height, width, 4) (RGBA), got "
                         + (f"{pixels.dtype} {pixels.shape}" if isinstance(pixels, np.ndarray) else type(pixels).__name__))
    height, width, _ = pixels.shape
    channels = 3 if pixels[..., 3].min() == 255 else 4
    rows = np.zeros((height, 1 + width * channels), np.uint8)  # each row: filter byte 0 (none), pixels
    rows[:, 1:] = pixels[..., :channels].reshape(height, -1)
    header = struct.pack(">IIBBBBB", width, height, 8, 2 if channels == 3 else 6, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header)
            + _png_chunk(b"IDAT", zlib.compress(rows.tobytes(), 1)) + _png_chunk(b"IEND", b""))


def _kept(maxsize: int = 32) -> Callable:
    """Decorator for a slider callback: keep its last ``maxsize`` results, per argument values, for
    as long as the cache folder and the mode stay the same, so moving a slider back to a value shows
    the figure (and the PNG, :func:`render_png`) made the first time. Kept figures are closed in
    pyplot (a later ``plt.show()`` never shows them, ``plt.get_fignums()`` never grows); each call
    returns a copy of the numbers. Arguments that cannot be keys (a list...) go straight to the
    callback, which refuses them. A kept figure is shared: change a copy, not it."""
    def decorate(fn: Callable) -> Callable:
        sig = inspect.signature(fn)
        memo: OrderedDict = OrderedDict()
        where: list = []

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            try:
                bound = sig.bind(*args, **kwargs)
                bound.apply_defaults()
                key = tuple((type(v), v) for v in bound.arguments.values())
                hash(key)
            except TypeError:
                return fn(*args, **kwargs)
            here = (str(config.cache_dir()), config.FAST)
            if where != [here]:
                memo.clear()
                where[:] = [here]
            hit = memo.get(key)
            if hit is None:
                fig, numbers = fn(*args, **kwargs)
                plt.close(fig)
                fig._course_kept = True
                memo[key] = hit = (fig, numbers)
                while len(memo) > maxsize:
                    memo.popitem(last=False)
            else:
                memo.move_to_end(key)
            return hit[0], copy.deepcopy(hit[1])

        wrapper.forget = memo.clear
        return wrapper
    return decorate


def remember(fn: Callable) -> Callable:
    """Keep ``fn(*args)``'s results in memory, per argument tuple, for as long as the cache folder
    and the mode stay the same (a changed ``COURSE_CACHE_DIR`` or ``COURSE_FAST`` starts afresh).
    The one memo of the widgets; ``fn.forget()`` empties it."""
    memo: dict = {}

    @functools.wraps(fn)
    def wrapper(*args):
        where = (str(config.cache_dir()), config.FAST)
        if memo.get("where") != where:
            memo.clear()
            memo["where"] = where
        if args not in memo:
            memo[args] = fn(*args)
        return memo[args]

    wrapper.forget = memo.clear
    return wrapper


def _one_of(value, options: Sequence, name: str):
    if isinstance(value, bool) or value not in options:
        raise ValueError(f"{name} must be one of {tuple(options)}, got {value!r}")
    return value


def _int_in(value, lo: int, hi: int, name: str, what: str = "") -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not lo <= value <= hi:
        raise ValueError(f"{name} must be an integer in {lo}..{hi}{what}, got {value!r}")
    return int(value)


# --- notebook 01: curse of dimensionality ------------------------------------------------------

#: The most coordinates :func:`distance_histogram` draws (``n_points × dim``; the slider's largest
#: setting, 400 points in 10 000 dimensions, has 4 000 000).
MAX_HISTOGRAM_VALUES: int = 10_000_000

#: Dimensions offered by the notebook-01 slider (roughly logarithmic steps).
DIMENSIONS: tuple[int, ...] = (1, 2, 3, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000)


def _crop_like_inline(fig: Figure, wide: Sequence = (), label: str = "−00.0") -> None:
    """:func:`_crop_as_saved` for a figure whose axis limits change with the slider: the axes (x or
    y) in ``wide`` are measured with tick labels ``label`` at both ends (their own come back after),
    so that the labels later limits bring, as wide as ``label``, fit too. Notebooks 01–03."""
    from matplotlib.ticker import FixedFormatter, FixedLocator

    kept = [(a, a.get_major_locator(), a.get_major_formatter()) for a in wide]
    try:
        for a, _, _ in kept:
            a.set_major_locator(FixedLocator(list(a.get_view_interval())))
            a.set_major_formatter(FixedFormatter([label, label]))
        _crop_as_saved(fig)
    finally:
        for a, locator, formatter in kept:
            a.set_major_locator(locator)
            a.set_major_formatter(formatter)


def distance_histogram(dim: int = 10, n_points: int = 400, seed: int = 0) -> tuple[Figure, Numbers]:
    """The dimension slider: ``n_points`` uniform points in [0, 1]^dim; the histogram of their pairwise
    distances divided by the mean distance (``n_points × dim`` at most MAX_HISTOGRAM_VALUES). Returns ``(fig, numbers)`` with ``relative_spread``
    (std / mean of the distances), ``closed_form`` (3·√(7/180)/√dim ≈ 0.59/√dim, exact as dim → ∞)
    and ``relative_contrast`` (median over query points of (farthest − nearest) / nearest).

    One figure is kept per ``n_points`` (and cache folder and mode): each call sets its bars, y axis,
    title and text, which :func:`render_png` blits onto the rest, drawn once; a value seen before is
    not computed again. Each call returns that figure, showing the new histogram (a caller keeping
    two results sees the last one on both figures). Redrawn on release, not during a drag: the
    largest dimensions take 30–50 ms to compute before the ~25 ms drawing."""
    dim = _int_in(dim, 1, 100_000, "dim")
    n_points = _int_in(n_points, 3, 2_000, "n_points")
    if n_points * dim > MAX_HISTOGRAM_VALUES:
        raise ValueError(f"n_points × dim must be at most {MAX_HISTOGRAM_VALUES:,} (the points are held in "
                         f"memory as float64), got {n_points} × {dim} = {n_points * dim:,}")
    counts, numbers = _distance_counts(dim, n_points, data.check_seed(seed))
    live = _distance_figure(n_points)
    plotting.set_distance_histogram(live["fig"], counts, numbers, n_points)
    return live["fig"], dict(numbers)


@remember
def _distance_counts(dim: int, n_points: int, seed: int) -> tuple[np.ndarray, Numbers]:
    """:func:`distance_histogram`'s pairs per bin (plotting.DISTANCE_BINS) and numbers. The product
    runs on one thread: on a busy 2-core machine BLAS's second thread made 10 000 dimensions take
    275 ms instead of 47 (and its spinning slowed the drawing after it two-fold)."""
    x = np.random.default_rng(seed).random((n_points, dim))
    sq = (x * x).sum(1)
    with one_thread():
        gram = x @ x.T
    d = np.sqrt(np.maximum(sq[:, None] + sq[None, :] - 2.0 * gram, 0.0))
    pair = d[np.triu_indices(n_points, 1)]
    np.fill_diagonal(d, np.inf)
    nearest = d.min(1)
    np.fill_diagonal(d, 0.0)
    farthest = d.max(1)
    numbers = {
        "dim": dim,
        "relative_spread": float(pair.std() / pair.mean()),
        "closed_form": float(3.0 * np.sqrt(7.0 / 180.0) / np.sqrt(dim)),
        "relative_contrast": float(np.median((farthest - nearest) / nearest)),
    }
    counts = np.histogram(pair / pair.mean(), bins=plotting.DISTANCE_BINS)[0]
    return counts, numbers


@remember
def _distance_figure(n_points: int) -> dict:
    """The kept figure of :func:`distance_histogram` for ``n_points``: laid out once, for the widest
    y tick labels its counts can have (all pairs in one bin) and the widest numbers."""
    pairs = n_points * (n_points - 1) // 2
    counts = np.zeros(len(plotting.DISTANCE_BINS) - 1)
    counts[30] = pairs
    widest = {"dim": 100_000, "relative_spread": 0.0, "closed_form": 0.0, "relative_contrast": -1.11e-11}
    fig = plotting.draw_distance_histogram(counts, widest, n_points)
    plt.close(fig)  # kept here, never by pyplot
    # counts' tick labels: as many digits as all pairs have, or "0.25" when a few pairs are drawn
    _crop_like_inline(fig, wide=[fig.axes[0].yaxis], label="0" * max(len(str(pairs)), 4))
    fig._course_live = plotting.set_distance_histogram(fig, counts, widest, n_points)
    return {"fig": fig}


# --- notebook 02: manifold hypothesis -----------------------------------------------------------

def manifold_neighbours(method: str = "isomap", n_neighbors: int = 8) -> tuple[Figure, Numbers]:
    """The neighbour-count slider: the Swiss roll with its short-circuit edges (neighbours on
    different turns, drawn red) and the ``method`` (``"isomap"`` or ``"lle"``) embedding with
    ``n_neighbors`` neighbours, coloured by the roll parameter, from the cached sweep
    :func:`course_utils.manifolds.swiss_roll_sweep`. Returns ``(fig, numbers)`` with
    ``short_circuits``, ``trustworthiness`` and ``unrolling`` (R² of the roll parameter regressed on
    the embedding, :func:`course_utils.manifolds.unrolling_score`).

    Cheap enough to follow a drag (``continuous_update``): one figure is kept (per cache folder and
    mode), the roll drawn once; each call sets its red edges, the titles and the embedding, which
    :func:`render_png` blits onto the rest. Each call returns that figure, showing the new method
    and ``n_neighbors`` (a caller keeping two results sees the last one on both figures)."""
    _one_of(method, ("isomap", "lle"), "method")
    _one_of(n_neighbors, manifolds.SWISS_NEIGHBOURS, "n_neighbors")
    sweep = manifolds.swiss_roll_sweep(method)
    i = int(np.flatnonzero(sweep["neighbours"] == n_neighbors)[0])
    x, t = manifolds.swiss_roll()
    numbers = {"n_neighbors": int(n_neighbors), "short_circuits": int(sweep["short_circuits"][i]),
               "trustworthiness": float(sweep["trustworthiness"][i]),
               "unrolling": float(sweep["unrolling"][i])}
    title = (f"{'Isomap' if method == 'isomap' else 'LLE'}, k={n_neighbors}: "
             f"trust {numbers['trustworthiness']:.3f}, unrolling R² {numbers['unrolling']:.2f}")
    fig = _neighbours_figure(len(x))["fig"]
    plotting.set_neighbour_graph(fig, x, _short_circuits(int(n_neighbors)), sweep["embeddings"][i],
                                 int(n_neighbors), title)
    return fig, numbers


@remember
def _short_circuits(n_neighbors: int) -> np.ndarray:
    """The roll's short-circuit edges for ``n_neighbors`` (the same for both methods): those of
    :func:`course_utils.manifolds.short_circuits`, from one neighbour search for every slider value."""
    x, t = manifolds.swiss_roll()
    idx = _roll_neighbours(len(x))[:, :n_neighbors]  # the n_neighbors nearest, nearest first
    i = np.repeat(np.arange(len(x)), n_neighbors)
    j = idx.ravel()
    bad = np.abs(t[i] - t[j]) > np.pi
    return np.stack([i[bad], j[bad]], axis=1)


@remember
def _roll_neighbours(n: int) -> np.ndarray:
    """(n, max(SWISS_NEIGHBOURS)): each point's nearest neighbours on the roll of ``n`` points,
    nearest first, the point itself left out (as in manifolds.short_circuits)."""
    from sklearn.neighbors import NearestNeighbors

    x, _ = manifolds.swiss_roll(n)
    k = max(manifolds.SWISS_NEIGHBOURS)
    with one_thread():
        return NearestNeighbors(n_neighbors=k + 1).fit(x).kneighbors(x, return_distance=False)[:, 1:]


@remember
def _neighbours_figure(n: int) -> dict:
    """The kept figure of :func:`manifold_neighbours` for the roll of ``n`` points: the roll drawn
    once, laid out for the widest titles the slider makes."""
    x, t = manifolds.swiss_roll(n)
    k = max(manifolds.SWISS_NEIGHBOURS)
    edges = np.zeros((10 ** len(str(n * k)) - 1, 2), dtype=int)  # as many digits as n·k edges have
    emb = x[:, [0, 2]] / 200  # LLE's scale: its tick labels (−0.075) are the widest
    fig = plotting.draw_neighbour_graph(x, t, edges, emb, k, f"Isomap, k={k}: trust 0.000, unrolling R² -0.00")
    plt.close(fig)  # kept here, never by pyplot
    _crop_like_inline(fig)
    fig._course_live = plotting.set_neighbour_graph(fig, x, edges[:0], emb, k, "")
    return {"fig": fig}


manifold_neighbours.continuous_update = True


# --- notebook 03: t-SNE ----------------------------------------------------------------------------

def tsne_perplexity(perplexity: int = 30) -> tuple[Figure, Numbers]:
    """The perplexity slider: the cached t-SNE map of the MNIST test points at ``perplexity`` (one
    of :data:`course_utils.manifolds.TSNE_PERPLEXITIES`), coloured by digit. Returns ``(fig, numbers)``
    with ``kl_divergence``, ``trustworthiness`` and ``knn_accuracy`` (5-fold k-NN in the map).

    Cheap enough to follow a drag (``continuous_update``): one figure is kept (per cache folder and
    mode, for these test points); each call moves its points and sets its limits and title, which
    :func:`render_png` blits (ticks, legend and all) onto the axes' frame, drawn once. Each call returns that figure, showing the new perplexity (a
    caller keeping two results sees the last one on both figures)."""
    _one_of(perplexity, manifolds.TSNE_PERPLEXITIES, "perplexity")
    r = manifolds.mnist_tsne(perplexity)
    numbers = {"perplexity": int(perplexity), "kl_divergence": float(r["kl_divergence"]),
               "trustworthiness": float(r["trustworthiness"]), "knn_accuracy": float(r["knn_accuracy"])}
    title = (f"t-SNE, perplexity {perplexity}: trust {numbers['trustworthiness']:.3f}, "
             f"k-NN acc {numbers['knn_accuracy']:.3f}")
    labels = np.asarray(r["labels"])
    live = _tsne_figure()
    if live.get("labels") is None or not np.array_equal(live["labels"], labels):  # other points: a new figure
        live.update(fig=_tsne_new_figure(r["embedding"], labels), labels=labels.copy())
    plotting.move_latent_points(live["fig"].axes[0], r["embedding"], labels, title)
    return live["fig"], numbers


@remember
def _tsne_figure() -> dict:
    """Holds the kept figure of :func:`tsne_perplexity` and the labels of its points (made at its
    first call, and again for other test points)."""
    return {}


def _tsne_new_figure(embedding: np.ndarray, labels: np.ndarray) -> Figure:
    """:func:`tsne_perplexity`'s figure for these test points: laid out once, for the widest title
    and tick labels the slider makes; its live artists are all of the map's axes but their frame."""
    widest = f"t-SNE, perplexity {max(manifolds.TSNE_PERPLEXITIES)}: trust 0.000, k-NN acc 0.000"
    fig = plotting.plot_latent(embedding, labels, xlabel="t-SNE 1", ylabel="t-SNE 2", title=widest)
    plt.close(fig)  # kept here, never by pyplot
    ax = fig.axes[0]
    _crop_like_inline(fig, wide=[ax.xaxis, ax.yaxis], label="−00.0")  # t-SNE's widest: "−12.5"
    legend = ax.add_artist(_TsneLegend(ax.get_legend()))
    # what a new map changes, in the order a full draw draws it (the axes' frame and labels' text stay)
    fig._course_live = [*ax.collections, ax.xaxis, ax.yaxis, *ax.spines.values(), ax.title, legend]
    return fig


class _TsneLegend(plt.Artist):  # matplotlib.artist.Artist
    """The legend of :func:`tsne_perplexity`'s map, drawn from pictures: where ``loc="best"`` puts
    ``legend`` for the points shown now, the legend's own drawing there (made the first time it goes
    there) is painted. Drawing its eleven texts was most of a new map's cost, and only its place
    changes. ``legend`` stays in the axes, hidden (``ax.get_legend()``), and is drawn itself by
    renderers other than Agg (a PDF or SVG keeps its text)."""

    def __init__(self, legend):
        super().__init__()
        self.legend = legend
        self.set_zorder(legend.get_zorder())
        legend.set_visible(False)
        self._pictures: dict = {}

    def get_window_extent(self, renderer=None):
        return self.legend.get_window_extent(renderer)

    def draw(self, renderer) -> None:
        from matplotlib.backends.backend_agg import RendererAgg

        if not self.get_visible():
            return
        if not isinstance(renderer, RendererAgg):
            self._draw_legend(renderer)
            return
        box = self.legend.get_window_extent(renderer)  # placed for the points shown now
        key = (renderer.width, renderer.height, renderer.dpi, *np.round(box.bounds, 6))
        if key not in self._pictures:
            self._pictures[key] = self._picture(renderer, box)
        x0, y0, picture = self._pictures[key]
        gc = renderer.new_gc()
        renderer.draw_image(gc, x0, y0, picture)
        gc.restore()
        self.stale = False

    def _picture(self, renderer, box) -> tuple:
        """The legend drawn alone on a transparent canvas the size of ``renderer``'s, cut to ``box``
        (with a margin for antialiased edges): (left, bottom, RGBA pixels, bottom row first, as
        ``renderer.draw_image`` paints them)."""
        from matplotlib.backends.backend_agg import RendererAgg

        alone = RendererAgg(renderer.width, renderer.height, renderer.dpi)
        self._draw_legend(alone)
        w, h = renderer.width, renderer.height
        x0, x1 = max(int(np.floor(box.x0)) - 2, 0), min(int(np.ceil(box.x1)) + 2, w)
        y0, y1 = max(int(np.floor(box.y0)) - 2, 0), min(int(np.ceil(box.y1)) + 2, h)
        return x0, y0, np.asarray(alone.buffer_rgba())[h - y1:h - y0, x0:x1][::-1].copy()

    def _draw_legend(self, renderer) -> None:
        self.legend.set_visible(True)
        try:
            self.legend.draw(renderer)
        finally:
            self.legend.set_visible(False)


tsne_perplexity.continuous_update = True


# --- notebook 04: autoencoder (latent-size slider, description "code size") ------------------------

@remember
def _latent_family() -> dict:
    """The error curve and PCA behind :func:`latent_size_view` (its digits: :func:`_spread_digits`)."""
    return {"curve": store.latent_curve(), "pca": store.pca_fit()}


def _spread_digits(n: int) -> torch.Tensor:
    """``n`` test digits (n, 784) spread over the test set, a copy of their own: the code-size
    sliders of notebooks 04 and 10 keep these, not the 10 000 test images (31 MB a slider)."""
    xt = data.shared_images("test", n=config.size("mnist_test"))
    return xt[:: max(1, len(xt) // n)][:n].clone()


@remember
def _latent_model(code_size: int):
    return store.latent_model(code_size)[0]


def latent_size_view(code_size: int = 8, n: int = 8) -> tuple[Figure, Numbers]:
    """The latent-size widget: test digits, their reconstructions by the autoencoder and by PCA
    with ``code_size`` numbers, beside the test error against code size for both.

    Models come from :func:`course_utils.store.latent_model` (trained once, then cached), so this
    never retrains after the first call. Returns ``(fig, {"code_size", "test_mse", "pca_mse"})``
    with errors as mean squared error per pixel on the test images.

    Cheap enough to follow a drag (``continuous_update``): one figure is kept per ``n`` (and cache
    folder and mode), laid out once for every code size, whose reconstructions the first call
    computes; each call changes its images, row names, mark and title, which :func:`render_png`
    blits onto the curves drawn once. Each call returns that figure, showing the new code size.
    """
    _one_of(code_size, recipes.LATENT_SIZES, "code_size")
    n = _int_in(n, 1, 20, "n", " (digits shown)")
    live = _latent_size_figure(n)
    _show_rows_value(live, code_size)
    return live["fig"], dict(live["numbers"][code_size])


@remember
def _latent_size_figure(n: int) -> dict:
    """The kept figure of :func:`latent_size_view` for ``n`` digits a row: the error curves drawn
    once, every code size's rows, numbers, title and mark, the figure sized for the widest of them."""
    family = _latent_family()
    curve, x = family["curve"], _spread_digits(n)
    views, numbers, first_rows = {}, {}, None
    for i, k in enumerate(int(k) for k in curve["sizes"]):
        nums = numbers[k] = {"code_size": k, "test_mse": float(curve["ae_test_mse"][i]),
                             "pca_mse": float(curve["pca_test_mse"][i])}
        rows = {"original": x, f"autoencoder ({k})": training.reconstruct(_latent_model(k), x),
                f"PCA ({k})": pca_reconstruct(x, k, family["pca"])}
        first_rows = first_rows or rows
        views[k] = (*plotting.stack_rows(rows, n), list(rows),
                    f"code size {k}: AE {nums['test_mse']:.4f} · PCA {nums['pca_mse']:.4f}", (k, nums["test_mse"]))
    fig, (rx, ax) = plt.subplots(1, 2, figsize=(12, 3.6), gridspec_kw={"width_ratios": [n, 6], "wspace": 0.08})
    plt.close(fig)  # kept here, never by pyplot
    plotting.draw_rows(rx, first_rows, n=n, fontsize=9)
    plotting.draw_error_curve(ax, curve["sizes"], {"autoencoder": (curve["ae_test_mse"], "o-"),
                                                   "PCA": (curve["pca_test_mse"], "s--")},
                              mark=views[int(curve["sizes"][0])][4])
    live = {"fig": fig, "rows_ax": rx, "curve_ax": ax, "mark": ax.lines[-1], "views": views, "numbers": numbers,
            "fontsize": 9, "title_size": 10, "default": 8 if 8 in views else next(iter(views))}
    _make_rows_live(live)
    return live


def _show_rows_value(live: dict, value) -> None:
    """Show ``value``'s rows, row names, title and mark on a kept figure of rows beside a curve
    (:func:`latent_size_view`, :func:`compression_view`, :func:`conv_size_view`)."""
    img, centres, names, title, mark = live["views"][value]
    rx, ax = live["rows_ax"], live["curve_ax"]
    rx.images[0].set_data(img)
    rx.set_yticks(centres, names, fontsize=live["fontsize"])
    ax.set_title(title, fontsize=live["title_size"])
    live["mark"].set_data([float(mark[0])], [float(mark[1])])


def _make_rows_live(live: dict) -> None:
    """Lay out a kept figure of rows beside a curve for every value it shows (see
    :func:`_crop_as_saved`) and name its live artists: the rows and their names, the mark, the
    title, and the legend too where a mark would cover part of it (the legend is drawn above it)."""
    fig, rx, ax, mark = live["fig"], live["rows_ax"], live["curve_ax"], live["mark"]
    values = list(live["views"])
    _crop_as_saved(fig, [functools.partial(_show_rows_value, live, v) for v in values])
    legend = ax.get_legend()
    _show_rows_value(live, live["default"])
    _freeze_legend(fig, ax)  # where a fresh figure of the default value has it ("best" searches each draw)
    marks = [live["views"][v][4] for v in values]
    fig._course_live = [rx.images[0], rx.yaxis, mark,
                        *([legend] if _mark_covers(fig, mark, marks, legend) else []), ax.title]


def _mark_covers(fig: Figure, mark, places: Sequence[tuple], artist) -> bool:
    """Whether the line ``mark`` (a marker, or a vertical line: y ``None``), moved to any of
    ``places`` (``(x, y)`` in its coordinates), touches ``artist``'s box: a blit draws the mark above
    it where a full draw puts it below, so then the artist must be live too. Leaves the mark as it was."""
    renderer = fig.canvas.get_renderer()
    box = artist.get_window_extent(renderer).padded(2)
    xs, ys = mark.get_data()
    try:
        for x, y in places:
            mark.set_data([x] * len(xs), ys if y is None else [y] * len(ys))
            if mark.get_window_extent(renderer).overlaps(box):
                return True
        return False
    finally:
        mark.set_data(xs, ys)


def _crop_as_saved(fig: Figure, variants: Sequence[Callable[[], None]] = ()) -> None:
    """Size a kept (live) figure as ``bbox_inches="tight"`` crops a saved one: its drawn contents
    plus ``savefig.pad_inches``, with every axes and figure text kept in its place on the page, so
    the blitted PNG (:func:`_blit_png` draws the whole canvas) is the picture Jupyter would show.
    With ``variants`` (each puts one slider value's texts on the figure), the box is the union of
    theirs: one layout fits every value, as wide as the widest needs. Also gives the figure an Agg
    canvas (pyplot's inline backend leaves a closed one with none). The live figures of notebooks
    04, 06, 07, 09 and 10 use it."""
    from matplotlib import rcParams
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.transforms import Bbox

    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    canvas.draw()  # lays out titles, ticks and aspect-fixed axes, as savefig does before measuring
    renderer = canvas.get_renderer()
    boxes = []
    for put in variants or (lambda: None,):
        put()
        boxes.append(fig.get_tightbbox(renderer))
    box = Bbox.union(boxes).padded(rcParams["savefig.pad_inches"])
    w, h = fig.get_size_inches()
    for a in fig.axes:
        p = a.get_position(original=True)
        a.set_position(((p.x0 * w - box.x0) / box.width, (p.y0 * h - box.y0) / box.height,
                        p.width * w / box.width, p.height * h / box.height))
    for t in fig.texts:
        x, y = t.get_position()
        t.set_position(((x * w - box.x0) / box.width, (y * h - box.y0) / box.height))
    fig.set_size_inches(box.width, box.height)


latent_size_view.continuous_update = True


# --- notebook 06: denoising autoencoder (noise slider, description "noise level σ") -----------------

#: Noise kinds of the notebook-06 widget: label shown -> kind understood by ``data.add_noise``.
NOISE_KIND_LABELS: dict[str, str] = {"Gaussian": "gaussian", "masking": "masking",
                                     "salt-and-pepper": "salt_pepper"}


@remember
def _denoisers() -> dict:
    return store.denoisers()


#: The levels of notebook 06's noise slider (0 to 1 in steps of 0.05): :func:`noise_view` computes
#: them together, per noise kind, the first time the kind is shown.
_NOISE_LEVELS: tuple[float, ...] = tuple(round(0.05 * i, 2) for i in range(21))


def noise_view(level: float = 0.3, kind: str = "gaussian", n: int = 8, n_eval: int = 1000) -> tuple[Figure, Numbers]:
    """The noise widget of notebook 06 (inference only: the models come from the store's cache).

    Corrupts test digits with ``kind`` noise (``"gaussian"``: x + level·N(0,1), unclipped as in
    the seminar; ``"masking"`` / ``"salt_pepper"``: each pixel hit with probability ``level``) and
    shows Origin / Input X / PCA / Output Y (the repaired DAE trained at σ = 0.3; under masking, the
    one trained on masking noise). ``level`` is σ for Gaussian noise and a probability otherwise,
    and the title says which. Errors are mean
    squared error per pixel against the clean images, over the first ``n_eval`` test images.
    Returns ``(fig, {"noisy_mse", "pca_mse", "dae_mse", "masking_dae_mse"})``.

    Cheap enough to follow a drag (``continuous_update``): the first call for a kind runs the three
    denoisers at every level of the slider (0, 0.05, …, 1, when ``n_eval`` ≤ 1000: 21 times one
    level's work, about a second on an idle core), so a move only draws; other levels are computed
    when asked. One figure is kept per kind (and ``n``, cache folder, mode); each call puts the new
    digits, row names and title in it and :func:`render_png` redraws that one axes. Each call
    returns that kind's figure, showing the new level."""
    kind = _one_of(NOISE_KIND_LABELS.get(kind, kind), tuple(NOISE_KIND_LABELS.values()), "kind")
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 <= level <= 1:
        raise ValueError(f"level must be a number in [0, 1], got {level!r}")
    n = _int_in(n, 1, 20, "n", " (digits shown)")
    n_eval = _int_in(n_eval, n, 10**9, "n_eval", f" (at least n = {n})")
    n_eval = min(n_eval, config.size("mnist_test"))
    # a slider's float may be off its step by an ulp (0.15000000000000002): that is the slider's level
    on_grid = next((g for g in _NOISE_LEVELS if abs(g - level) < 1e-9), None)
    if on_grid is not None and n_eval <= 1000:
        numbers, shown = _noise_sweep(kind, n, n_eval)[on_grid]
    else:
        numbers, shown = _noise_level(kind, float(level), n, n_eval)
    numbers = dict(numbers)
    label = {v: k for k, v in NOISE_KIND_LABELS.items()}[kind]
    rows, title = _noise_rows(kind, label, level, n_eval, _denoisers()["pca"].k, numbers, shown)
    live = _noise_figure(kind, n, n_eval)
    fig, ax = live["fig"], live["ax"]
    img, centres = plotting.stack_rows(rows, n)
    ax.images[0].set_data(img)
    ax.set_yticks(centres, list(rows), fontsize=10)  # as plotting.draw_rows names them
    ax.set_title(title, fontsize=11)
    fig._course_png = None
    return fig, numbers


def _noise_rows(kind: str, label: str, level: float, n_eval: int, k: int, numbers: Numbers, shown: dict) -> tuple:
    """The named rows and the title :func:`noise_view` shows (the row names carry the errors)."""
    # under masking, the DAE trained on masking noise is the one to show (train on the noise you meet)
    out = "masking_dae" if kind == "masking" else "dae"
    rows = {"Origin": shown["clean"], f"Input X\n{numbers['noisy_mse']:.4f}": shown["noisy"],
            f"PCA (k={k})\n{numbers['pca_mse']:.4f}": shown["pca"],
            f"Output Y ({'masking-trained DAE' if out == 'masking_dae' else 'DAE'})\n"
            f"{numbers[out + '_mse']:.4f}": shown[out]}
    level_text = f"σ = {level:.2f}" if kind == "gaussian" else f"each pixel hit with probability p = {level:.2f}"
    title = f"{label} noise, {level_text} — MSE per pixel under each row name (first {n_eval} test digits)"
    return rows, title


def _noise_level(kind: str, level: float, n: int, n_eval: int) -> tuple[Numbers, dict]:
    """:func:`noise_view`'s numbers at one ``level`` and the first ``n`` digits of each row: clean,
    noisy, and the PCA, DAE and masking-trained DAE outputs. They run on one thread: a forward pass
    of 1000 digits is 10x faster than on two threads of a busy 2-core machine."""
    den = _denoisers()
    with one_thread():
        clean, noisy = data.noisy_test(kind, level, n=n_eval)
        outs = {"pca": den["pca"](noisy), "dae": training.reconstruct(den["fixed"], noisy),
                "masking_dae": training.reconstruct(den["masking"], noisy)}
    numbers = {f"{k}_mse": float(((y - clean) ** 2).mean()) for k, y in (("noisy", noisy), *outs.items())}
    # copies: a slice would keep all n_eval images of every level alive
    shown = {k: v[:n].clone() for k, v in (("clean", clean), ("noisy", noisy), *outs.items())}
    return numbers, shown


@remember
def _noise_sweep(kind: str, n: int, n_eval: int) -> dict:
    """``{level: _noise_level(...)}`` for every level of the slider (_NOISE_LEVELS). The heap's free
    pages go back to the system after each level (:func:`course_utils.memory.release_free_heap`):
    without it, 21 levels left ~190 MB of freed batches resident in notebook 06's kernel."""
    sweep = {}
    for g in _NOISE_LEVELS:
        sweep[g] = _noise_level(kind, g, n, n_eval)
        release_free_heap()
    return sweep


@remember
def _noise_figure(kind: str, n: int, n_eval: int) -> dict:
    """The kept figure of :func:`noise_view` for ``kind``: plotting.show_rows' layout, cropped as
    Jupyter crops, with room for the widest row names and title the kind has (the numbers' digits
    all have one width)."""
    label = {v: k for k, v in NOISE_KIND_LABELS.items()}[kind]
    zeros = {k: torch.zeros(n, 784) for k in ("clean", "noisy", "pca", "dae", "masking_dae")}
    numbers = dict.fromkeys(("noisy_mse", "pca_mse", "dae_mse", "masking_dae_mse"), 0.0)
    rows, title = _noise_rows(kind, label, 0.0, n_eval, _denoisers()["pca"].k, numbers, zeros)
    fig = plotting.show_rows(rows, title=title, n=n)
    plt.close(fig)  # kept here, never by pyplot
    _crop_as_saved(fig)
    (ax,) = fig.axes
    fig._course_live = [ax]  # digits, row names and title all change: the axes is redrawn, the rest is blank
    return {"fig": fig, "ax": ax}


noise_view.continuous_update = True


# --- notebook 07: applications --------------------------------------------------------------------

def compression_view(bits: int = 4, n: int = 8) -> tuple[Figure, Numbers]:
    """Bits-per-value slider of notebook 07: the quantized autoencoder with ``bits`` bits per code
    value on ``n`` test digits (original / autoencoder / JPEG at its smallest file), and its point
    on the rate–distortion curve. Numbers: sizes in bits per image and the error.

    Cheap enough to follow a drag (``continuous_update``): one figure is kept per ``n`` (and cache
    folder and mode), laid out once for every bit depth, whose decoded digits the first call
    computes; each call changes its images, row names, mark and title, which :func:`render_png`
    blits onto the curves drawn once. Each call returns that figure, showing the new bit depth."""
    _one_of(bits, recipes.COMPRESSION_BITS, "bits")
    n = _int_in(n, 1, 10, "n")
    live = _compression_figure(n)
    _show_rows_value(live, bits)
    return live["fig"], dict(live["numbers"][bits])


@remember
def _compression_figure(n: int) -> dict:
    """The kept figure of :func:`compression_view` for ``n`` digits a row: the rate–distortion curves
    drawn once, every bit depth's rows, numbers, title and mark, sized for the widest of them."""
    curve = store.compression_curve()
    x = store.compression_test_images()[0][:n]
    q0 = int(np.argmin(curve["jpeg_file_bits"]))
    views, numbers, first_rows = {}, {}, None
    for bits in recipes.COMPRESSION_BITS:
        model = store.compression_model(bits)[0]
        rec = model.decode_symbols(model.symbols(x))
        i = list(curve["ae_bits"]).index(bits)
        nums = numbers[bits] = {
            "bits_per_value": int(bits), "code_values": int(model.latent_dim),
            "fixed_bits": int(curve["ae_fixed_bits"][i]), "rate_bits": float(curve["ae_rate"][i]),
            "lzma_bits": float(curve["ae_lzma_bits"][i]), "mse": float(curve["ae_mse"][i]),
            "psnr_db": compression.psnr(float(curve["ae_mse"][i])), "raw_bits": 784 * 8,
            "jpeg_quality": int(curve["jpeg_quality"][q0]), "jpeg_file_bits": float(curve["jpeg_file_bits"][q0]),
            "jpeg_payload_bits": float(curve["jpeg_payload_bits"][q0]), "jpeg_mse": float(curve["jpeg_mse"][q0]),
        }
        nums["ratio_vs_raw"] = nums["raw_bits"] / nums["rate_bits"]
        rows = {"original": x, f"AE, {bits} bit/value\n≈{nums['rate_bits']:.0f} bits": rec,
                f"JPEG q={nums['jpeg_quality']}\n{nums['jpeg_file_bits']:.0f} bits": curve["jpeg_decoded"][q0][:n]}
        first_rows = first_rows or rows
        views[bits] = (*plotting.stack_rows(rows, n), list(rows),
                       f"{bits} bit/value: {nums['rate_bits']:.0f} bits/image, PSNR {nums['psnr_db']:.1f} dB",
                       (nums["rate_bits"], nums["mse"]))
    fig, (rx, ax) = plt.subplots(1, 2, figsize=(12, 3.8), gridspec_kw={"width_ratios": [n, 6], "wspace": 0.3})
    plt.close(fig)  # kept here, never by pyplot
    plotting.draw_rows(rx, first_rows, n=n, fontsize=8)
    first = recipes.COMPRESSION_BITS[0]
    plotting.plot_rate_distortion({
        "autoencoder (arithmetic-coded)": (curve["ae_rate"], curve["ae_mse"], "o-"),
        "PCA, quantized (best per size)": (*compression.pareto_front(curve["pca_rate"], curve["pca_mse"]), "s--"),
        "JPEG payload (no headers)": (curve["jpeg_payload_bits"], curve["jpeg_mse"], "^:"),
        "JPEG real file": (curve["jpeg_file_bits"], curve["jpeg_mse"], "v-"),
    }, ax=ax, mark=views[first][4], title_size=9, title=views[first][3])
    live = {"fig": fig, "rows_ax": rx, "curve_ax": ax, "mark": ax.lines[-1], "views": views, "numbers": numbers,
            "fontsize": 8, "title_size": 9, "default": 4 if 4 in views else first}
    _make_rows_live(live)
    return live


compression_view.continuous_update = True


def probe_view(n_labels: int = 100) -> tuple[Figure, Numbers]:
    """Labels slider of notebook 07: linear-probe test accuracy against the number of labelled
    images for pixels, PCA and autoencoder features (cached sweep), with ``n_labels`` marked.

    Cheap enough to follow a drag (``continuous_update``): one figure is kept (per cache folder and
    mode), laid out once for every count; each call moves its mark and changes the bars, their
    labels and the title, which :func:`render_png` blits onto the curves drawn once. Each call
    returns that figure, showing the new count."""
    _one_of(n_labels, probe.PROBE_LABELS, "n_labels")
    live = _probe_figure()  # holds the cached sweep, read once
    labels, acc = live["labels"], live["accuracy"]
    j = list(labels).index(n_labels)
    numbers = {"n_labels": int(n_labels), "draws": int(acc.shape[-1]),
               **{f"{kind}_accuracy": float(acc[i, j].mean()) for i, kind in enumerate(probe.PROBE_FEATURES)}}
    _probe_show(live, j)
    return live["fig"], numbers


@remember
def _probe_figure() -> dict:
    """The kept figure of :func:`probe_view`: the accuracy curves drawn once, sized for every
    count's bars and title, with the mark, bars, bar labels and title to change."""
    sweep = probe.probe_sweep()
    labels, acc = sweep["labels"], sweep["accuracy"]
    fig = plotting.draw_probe(labels, acc, probe.PROBE_FEATURES, labels[0])
    plt.close(fig)  # kept here, never by pyplot
    ax, bx = fig.axes
    ax.lines[-1].set_zorder(2.2)  # above the error bars' markers (2.1), where a blit draws it
    live = {"fig": fig, "mark": ax.lines[-1], "bars": list(bx.patches), "bar_labels": list(bx.texts),
            "bars_ax": bx, "labels": labels, "accuracy": acc, "mean": acc.mean(-1), "draws": acc.shape[-1]}
    _crop_as_saved(fig, [functools.partial(_probe_show, live, j) for j in range(len(labels))])
    legend = ax.get_legend()
    _probe_show(live, list(labels).index(100) if 100 in labels else 0)
    _freeze_legend(fig, ax)  # where "best" puts it for the notebook's 100 labels, for every count
    covered = _mark_covers(fig, live["mark"], [(float(v), None) for v in labels], legend)
    fig._course_live = [live["mark"], *([legend] if covered else []), *live["bars"], bx.spines["bottom"],
                        *live["bar_labels"], bx.title]  # the axis line stays above the bars, as drawn
    return live


def _probe_show(live: dict, j: int) -> None:
    """Show the ``j``-th labelled count of the sweep on :func:`probe_view`'s kept figure."""
    n_labels, mean = live["labels"][j], live["mean"][:, j]
    live["mark"].set_xdata([float(n_labels)] * 2)
    for bar, label, v in zip(live["bars"], live["bar_labels"], mean):
        bar.set_height(float(v))
        label.xy = (label.xy[0], float(v))
        label.set_text(f"{v:.1%}")
    live["bars_ax"].set_title(f"{n_labels} labels, mean of {live['draws']} draw(s)")


probe_view.continuous_update = True


# --- notebook 08: the denoising field on the 2-D ring --------------------------------------------

@remember
def _curve_dae(sigma: float):
    return store.curve_dae(sigma)[0]


def _field(model, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(x).double() - x.double()


def field_view(sigma: float = recipes.CURVE_SIGMA, lim: float = 1.6, n_grid: int = 17) -> tuple[Figure, Numbers]:
    """σ slider of notebook 08: the toy DAE's field r(x̃) − x̃ (cached model trained at ``sigma``) and
    the exact σ²∇log p_σ(x̃) side by side on an ``n_grid`` × ``n_grid`` grid over [−lim, lim]².
    Numbers: agreement (mean cosine, relative error) on the points of a 61 × 61 grid over the same
    square that lie between σ/2 and 2σ from the ring (``n_near`` of them), and on those farther
    than 4σ (``far_*``; NaN when there are none).

    Cheap enough to follow a drag (``continuous_update``): one figure is kept per ``lim`` and
    ``n_grid`` (and cache folder, mode); each call sets its arrows, their scale and the titles, which
    :func:`render_png` blits onto the axes and ring drawn once. Each call returns that figure,
    showing the new σ."""
    _one_of(sigma, recipes.CURVE_SIGMAS, "sigma")
    n_grid = _int_in(n_grid, 5, 41, "n_grid")
    if isinstance(lim, bool) or not isinstance(lim, (int, float)) or not 0.5 <= lim <= 5:
        raise ValueError(f"lim must be a number in [0.5, 5], got {lim!r}")
    numbers, dae, exact, scale = _field_view_fields(sigma, float(lim), n_grid)
    live = _field_figure(float(lim), n_grid)
    fig = live["fig"]
    for q, v in zip(live["quivers"], (dae, exact)):
        q.set_UVC(v[:, 0], v[:, 1])
        q.scale = scale  # the quiver's arrows are made at each draw, with this scale
    live["dae_title"].set_text(f"DAE trained at σ = {sigma}: r(x̃) − x̃")
    live["suptitle"].set_text(_field_suptitle(sigma, numbers))
    fig._course_png = None
    return fig, dict(numbers)


def _field_suptitle(sigma: float, numbers: Numbers) -> str:
    return (f"σ = {sigma}: between σ/2 and 2σ from the ring cos {numbers['cosine']:.3f}, relative error "
            f"{numbers['relative_error']:.3f} ({numbers['n_near']} points)")


@remember
def _field_view_fields(sigma: float, lim: float, n_grid: int) -> tuple:
    """:func:`field_view`'s numbers, the DAE's and the exact field on the ``n_grid``² grid (numpy
    (n², 2) each) and the arrows' common scale. The 13k-parameter network runs on one thread."""
    model = _curve_dae(sigma)
    with one_thread():
        fine = denoising_field.grid(lim, 61)
        dae_f, exact_f = _field(model, fine), denoising_field.tweedie(fine, sigma) - fine.double()
        d = denoising_field.distance_to_curve(fine)
        near, far = (d >= sigma / 2) & (d < 2 * sigma), d > 4 * sigma
        a = denoising_field.field_agreement(dae_f[near], exact_f[near])
        b = (denoising_field.field_agreement(dae_f[far], exact_f[far]) if bool(far.any())
             else {"cosine": float("nan"), "relative_error": float("nan")})
        g = denoising_field.grid(lim, n_grid)
        dae, exact = _field(model, g), denoising_field.tweedie(g, sigma) - g.double()
        scale = plotting.field_scale(g, dae, exact)
    numbers = {"sigma": float(sigma), "n_near": int(near.sum()), "cosine": a["cosine"],
               "relative_error": a["relative_error"], "n_far": int(far.sum()), "far_cosine": b["cosine"],
               "far_relative_error": b["relative_error"]}
    return numbers, dae.numpy(), exact.numpy(), scale


@remember
def _field_figure(lim: float, n_grid: int) -> dict:
    """The kept figure of :func:`field_view`: two fields (plotting.draw_field) laid out once with the
    widest titles, cropped as Jupyter crops; the arrows, the left title and the suptitle change."""
    from matplotlib.quiver import Quiver

    g = denoising_field.grid(lim, n_grid)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.8))
    plt.close(fig)  # kept here, never by pyplot
    widest = max(recipes.CURVE_SIGMAS, key=lambda s: len(str(s)))
    zeros = torch.zeros_like(g)  # the arrows are set by each call, with their scale
    plotting.draw_field(axes[0], g, zeros, f"DAE trained at σ = {widest}: r(x̃) − x̃", lim=lim, scale=1.0)
    plotting.draw_field(axes[1], g, zeros, "exact: σ² ∇ log p_σ(x̃) (Tweedie)", color="C1", lim=lim, scale=1.0)
    suptitle = fig.suptitle(_field_suptitle(widest, {"cosine": -0.999, "relative_error": 9.999, "n_near": 61 * 61}),
                            fontsize=10)
    _crop_as_saved(fig)
    quivers = [next(c for c in ax.collections if isinstance(c, Quiver)) for ax in axes]
    live = []
    for ax, q in zip(axes, quivers):
        # the ring and the frame are drawn over the arrows, as in a fresh figure (lines above collections)
        live += [q, ax.lines[0], *ax.spines.values()]
    fig._course_live = [*live, axes[0].title, suptitle]
    return {"fig": fig, "quivers": quivers, "dae_title": axes[0].title, "suptitle": suptitle}


field_view.continuous_update = True


#: Notebook 08's steps slider goes up to this many steps: the distance panel of :func:`walk_view`
#: always shows the walk this far (faint), so its axes keep one view while the slider moves.
WALK_VIEW_HORIZON: int = 15


def walk_view(steps: int = 5, sigma: float = recipes.CURVE_SIGMA, n: int = 60, seed: int = 0) -> tuple[Figure, Numbers]:
    """Projection-steps slider of notebook 08: ``n`` points drawn uniformly in [−2, 2]², moved by the
    toy DAE (trained at ``sigma``) ``steps`` times. Numbers: the mean exact distance to the ring
    before and after, and after each step (``distances``, steps + 1 values).

    The distance panel draws the walk up to ``max(steps, WALK_VIEW_HORIZON)`` steps faint beneath
    the first ``steps``, so its axes stay the same across the slider. Cheap enough to follow a drag
    (``continuous_update``): the walk is computed once per (sigma, n, seed, horizon) and one figure is
    kept per ``n`` (and cache folder, mode); each call moves its tracks, points and distance curve;
    :func:`render_png` blits them and the titles onto the frames, drawn again only when a view changes.
    Each call returns that figure, showing the new walk."""
    _one_of(sigma, recipes.CURVE_SIGMAS, "sigma")
    steps = _int_in(steps, 0, 50, "steps")
    n = _int_in(n, 1, 2000, "n")
    horizon = max(steps, WALK_VIEW_HORIZON)
    whole = _walk_path(_curve_dae(sigma), n, int(seed), horizon)  # keyed by the model: a retrained one walks afresh
    tracks, ahead = whole["tracks"][:, :steps + 1], whole["distances"]  # (n, steps + 1, 2), as plotting.draw_walk draws
    dist = ahead[:steps + 1]
    numbers = {"steps": steps, "sigma": float(sigma), "start_distance": dist[0], "end_distance": dist[-1],
               "distances": dist}
    live = _walk_figure(n)
    fig, ax, bx = live["fig"], live["walk_ax"], live["distance_ax"]
    for line, tr in zip(live["tracks"], tracks):
        line.set_data(tr[:, 0], tr[:, 1])
    live["start"].set_offsets(tracks[:, 0])
    live["end"].set_offsets(tracks[:, -1])
    live["end"].set_label(f"after {steps} steps")
    ax.get_legend().get_texts()[1].set_text(f"after {steps} steps")
    ax.set_title(f"{steps} denoising steps of the DAE (σ = {sigma})", fontsize=9)
    live["distances"].set_data(range(len(dist)), dist)
    bx.set_title(f"mean distance {dist[0]:.3f} → {dist[-1]:.3f}", fontsize=9)
    moved = live["ahead"] is not ahead
    if moved:  # other points or another horizon: the faint walk and both views change
        live["ahead"] = ahead
        live["ahead_line"].set_data(range(len(ahead)), ahead)
        bx.relim()
        bx.autoscale_view()
    # the views a fresh figure's autoscale gives: the walk's data limits are those of its lines (the
    # ring and the tracks, which hold every point), found at once rather than line by line (relim)
    pts = np.concatenate([live["ring_xy"], tracks.reshape(-1, 2)])
    ax.dataLim.set_points(np.array([pts.min(0), pts.max(0)]))
    ax.autoscale_view()
    lims = (ax.get_xlim(), ax.get_ylim())
    if moved or lims != live["lims"]:  # a view moved: draw the frames again
        live["lims"] = lims
        fig._course_background = None
    fig._course_png = None
    return fig, numbers


@remember
def _walk_path(model: torch.nn.Module, n: int, seed: int, horizon: int) -> dict:
    """The walk of :func:`walk_view`'s ``n`` points for ``horizon`` steps of ``model``: tracks
    (n, horizon + 1, 2) and the mean exact distance to the ring after each step (horizon + 1 floats)."""
    x0 = 4 * torch.rand(n, 2, generator=torch.Generator().manual_seed(seed)) - 2
    with torch.no_grad(), one_thread():  # n points through a 13k-parameter network: one thread is faster
        path = denoising_field.walk(model, x0, horizon)
    return {"tracks": np.stack([plotting.to_numpy(p) for p in path], 1),
            "distances": [float(denoising_field.distance_to_curve(p).mean()) for p in path]}


@remember
def _walk_figure(n: int) -> dict:
    """The kept figure of :func:`walk_view` for ``n`` points: plotting.draw_walk and draw_distances
    laid out once (with the widest titles)."""
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(10, 4.5))
    plt.close(fig)  # kept here, never by pyplot
    x0 = 4 * torch.rand(n, 2, generator=torch.Generator().manual_seed(0)) - 2
    plotting.draw_walk(ax, [x0, 0.5 * x0], "50 denoising steps of the DAE (σ = 0.05)")
    plotting.draw_distances(bx, [0.686, 0.01], "mean distance 0.000 → 0.000", ahead=[0.686, 0.01])
    fig.tight_layout()
    start, end = ax.collections[:2]
    ring, tracks = ax.lines[0], ax.lines[1:]
    # drawn as in a fresh figure: the points (collections) under the ring and the tracks (lines), the
    # legend above; the frames, ticks and the faint longer walk stay in the background while the
    # views stay the same
    fig._course_live = [start, end, ring, *tracks, ax.get_legend(), ax.title, bx.lines[1], bx.title]
    return {"fig": fig, "walk_ax": ax, "distance_ax": bx, "tracks": tracks, "start": start, "end": end,
            "distances": bx.lines[1], "ahead_line": bx.lines[0], "ahead": None, "lims": None,
            "ring_xy": np.asarray(ring.get_xydata(), dtype=float)}


walk_view.continuous_update = True


# --- notebook 09: the variational autoencoder (β slider, latent walk) -----------------------------

@remember
def _vae(latent: int, beta: float):
    return store.vae_model(latent, beta)[0]


@remember
def _vae_scorer():
    """The digit classifier, the first _SCORER_KEEP test digits and labels, and the classifier
    features of all test digits (for sample quality). Only those digits are kept: 6 MB, not 31."""
    clf = store.digit_classifier()[0]
    x_test, y_test = data.mnist_test()
    return {"classifier": clf, "x_test": x_test[:_SCORER_KEEP].clone(), "y_test": y_test[:_SCORER_KEEP].clone(),
            "features": vae.classifier_features(clf, x_test)}


#: Test digits the β slider and the latent walk use (rate and distortion, codes on the map).
_SCORER_KEEP: int = 2000


#: Test digits behind the β slider's rate and distortion (a subset: the slider answers in a blink).
BETA_VIEW_EVAL: int = 500


@remember
def _beta_numbers(beta: float) -> Numbers:
    """Rate, distortion and sample quality of the 2-D VAE trained with ``beta``."""
    model, s = _vae(2, beta), _vae_scorer()
    xb = vae.binarize(s["x_test"][:BETA_VIEW_EVAL], seed=0)
    ev = vae.evaluate(model, xb, k=1, seed=0)
    samples = vae.sample(model, min(1000, len(s["x_test"])), seed=0)
    conf = vae.digit_confidence(s["classifier"], samples)
    return {"beta": float(beta), "rate": float(ev["kl"].mean()), "distortion": float(ev["reconstruction"].mean()),
            "elbo": float(ev["elbo"].mean()), "confidence": conf["confidence"],
            "confident_share": conf["confident_share"],
            "frechet": vae.frechet_distance(vae.classifier_features(s["classifier"], samples), s["features"])}


def beta_view(beta: float = 1.0, steps: int = 15) -> tuple[Figure, Numbers]:
    """The β slider of notebook 09: the decoded grid of the 2-D VAE trained with KL weight ``beta``
    (codes at the N(0, 1) quantiles, :func:`course_utils.vae.prior_grid`) beside the rate (KL) and
    distortion (−log p(x|z)) in nats of every cached β. Returns ``(fig, numbers)`` with ``beta``,
    ``rate``, ``distortion``, ``elbo`` (on BETA_VIEW_EVAL binarised test digits, one draw each),
    ``confidence``, ``confident_share`` and ``frechet`` (1000 prior samples scored by the classifier).

    Cheap enough to follow a drag (``continuous_update``): the first call scores every β; one
    figure is kept per ``steps`` (and cache folder, mode) with the curves of every β drawn once;
    each call puts the new grid, band and titles in it, which :func:`render_png` blits onto the
    rest. Each call returns that figure, showing the new β."""
    _one_of(beta, recipes.VAE_BETAS, "beta")
    steps = _int_in(steps, 2, 30, "steps", " (grid side)")
    table = {b: _beta_numbers(b) for b in recipes.VAE_BETAS}
    model = _vae(2, beta)
    with torch.no_grad(), one_thread():  # steps² codes through the small decoder: one thread is faster
        grid = model.decode(vae.prior_grid(steps))
    numbers = dict(table[beta])
    live = _beta_figure(steps)
    fig, gx, ax = live["fig"], live["grid_ax"], live["curve_ax"]
    gx.images[0].set_data(plotting.tile_grid(grid, steps))  # as plotting.draw_manifold draws it
    gx.set_title(f"2-D VAE, β = {beta:g}: decoded prior quantiles", fontsize=10)
    live["mark"].set_xdata([float(beta), float(beta)])
    ax.set_title(_beta_title(numbers), fontsize=9)
    fig._course_png = None
    return fig, numbers


def _beta_title(numbers: Numbers) -> str:
    return (f"β = {numbers['beta']:g}: rate {numbers['rate']:.1f} + distortion {numbers['distortion']:.1f} nats; "
            f"samples: confidence {numbers['confidence']:.2f}, Fréchet {numbers['frechet']:.1f}")


@remember
def _beta_figure(steps: int) -> dict:
    """The kept figure of :func:`beta_view` for a ``steps`` × ``steps`` grid: the grid (plotting.
    draw_manifold) and every β's rate and distortion (draw_rate_distortion_beta), laid out once with
    the widest titles the β make, cropped as Jupyter crops; the grid, the mark and the titles change."""
    table = {b: _beta_numbers(b) for b in recipes.VAE_BETAS}
    fig, (gx, ax) = plt.subplots(1, 2, figsize=(11, 4.8), gridspec_kw={"width_ratios": [1, 1.2]})
    plt.close(fig)  # kept here, never by pyplot
    widest = max(recipes.VAE_BETAS, key=lambda b: len(f"{b:g}"))
    plotting.draw_manifold(gx, torch.zeros(steps * steps, 784), steps,
                           f"2-D VAE, β = {widest:g}: decoded prior quantiles")
    plotting.draw_rate_distortion_beta(ax, list(table), [t["rate"] for t in table.values()],
                                       [t["distortion"] for t in table.values()], recipes.VAE_BETAS[0])
    ax.set_title(max((_beta_title(t) for t in table.values()), key=len), fontsize=9)
    fig.tight_layout()
    _crop_as_saved(fig)
    twin = next(a for a in fig.axes if a not in (gx, ax))
    mark = ax.lines[-1]  # the band at the selected β (axvline)
    # drawn as in a fresh figure: the grid under its frame; the band over the rate curve (in the
    # background), under the frame's top and bottom (the ticks point outwards, clear of it), the
    # legend and the twin axes' distortion curve and frame
    frame = [ax.spines["top"], ax.spines["bottom"]]
    fig._course_live = [gx.images[0], *gx.spines.values(), gx.title, mark, *frame, ax.get_legend(), ax.title,
                        twin.lines[0], twin.spines["top"], twin.spines["bottom"]]
    return {"fig": fig, "grid_ax": gx, "curve_ax": ax, "mark": mark}


beta_view.continuous_update = True


@remember
def _walk_codes():
    s, model = _vae_scorer(), _vae(2, 1.0)
    with torch.no_grad():
        mu, _ = model.encode(s["x_test"][:_SCORER_KEEP])
    return mu, s["y_test"][:_SCORER_KEEP]


def latent_walk_view(z1: float = 0.0, z2: float = 0.0) -> tuple[Figure, Numbers]:
    """The two sliders of notebook 09: decode the point (z1, z2) of the 2-D VAE (β = 1) — only the
    decoder runs — beside the test digits' codes with the point marked. Returns ``(fig, numbers)``
    with ``z`` and the classifier's ``digit`` and ``probability`` for the decoded image.

    Cheap enough to follow a drag (``continuous_update``): one figure is kept (per cache folder and
    mode) and each call moves its point, image and title; :func:`render_png` blits them onto the
    codes drawn once. Each call returns that figure, showing the new point."""
    for name, v in (("z1", z1), ("z2", z2)):
        if isinstance(v, bool) or not isinstance(v, (int, float, np.floating)) or not -10 <= v <= 10:
            raise ValueError(f"{name} must be a number in [-10, 10], got {v!r}")
    z, model = torch.tensor([[float(z1), float(z2)]]), _vae(2, 1.0)
    with torch.no_grad():
        image = model.decode(z)
    conf = vae.digit_confidence(_vae_scorer()["classifier"], image)
    numbers = {"z": (float(z1), float(z2)), "digit": int(conf["labels"][0]), "probability": float(conf["max_prob"][0])}
    title = (f"decoded (z₁, z₂) = ({z1:.2f}, {z2:.2f}): classifier says {numbers['digit']} "
             f"({numbers['probability']:.0%})")
    live = _latent_walk_figure()
    fig, cx, ix = live["fig"], live["codes_ax"], live["image_ax"]
    live["point"].set_data([float(z1)], [float(z2)])
    ix.images[0].set_data(np.clip(plotting.to_numpy(image).reshape(28, 28), 0, 1))
    ix.set_title(title, fontsize=10)
    # the view covers the codes and the point, as a fresh figure's autoscale would
    lims = _covering(live["codes"], (float(z1), float(z2)))
    if lims != live["lims"]:
        cx.set_xlim(*lims[0]); cx.set_ylim(*lims[1])
        live["lims"] = lims
        fig._course_background = None  # the codes' axes moved: draw the background again
    fig._course_png = None
    return fig, numbers


def _covering(codes: np.ndarray, point: tuple[float, float], margin: float = 0.05) -> tuple:
    """Axis limits covering ``codes`` (N, 2) and ``point`` with matplotlib's default 5 % margins."""
    pts = np.vstack([codes, np.asarray(point)[None]])
    lo, hi = pts.min(0), pts.max(0)
    pad = margin * (hi - lo)
    return tuple((float(l - p), float(h + p)) for l, h, p in zip(lo, hi, pad))


def _freeze_legend(fig: Figure, ax) -> None:
    """Pin ``ax``'s legend where ``loc="best"`` puts it now, so moving the point never moves it."""
    legend = ax.get_legend()
    fig.canvas.draw()
    x0, y0 = ax.transAxes.inverted().transform(legend.get_window_extent().p0)
    legend.set_loc((float(x0), float(y0)))
    legend.set_bbox_to_anchor(None)


@remember
def _latent_walk_figure() -> dict:
    """The kept figure of :func:`latent_walk_view`: codes drawn once, the point and image to move."""
    codes, labels = _walk_codes()
    codes = np.asarray(codes, dtype=float)
    fig, (cx, ix) = plt.subplots(1, 2, figsize=(9, 4.2), gridspec_kw={"width_ratios": [1.5, 1]})
    plt.close(fig)  # kept here, never by pyplot
    # laid out with the widest title the sliders make, as a fresh figure with that title would be
    plotting.draw_latent_point(cx, ix, codes, labels, (0.0, 0.0), torch.zeros(784),
                               "decoded (z₁, z₂) = (-3.00, -3.00): classifier says 0 (100%)")
    fig.tight_layout()
    lims = _covering(codes, (0.0, 0.0))
    cx.set_xlim(*lims[0]); cx.set_ylim(*lims[1])
    point = cx.lines[-1]
    point.set_zorder(6)  # above the legend, where a blit draws it (and never hidden by it)
    _freeze_legend(fig, cx)
    fig._course_live = [point, ix.images[0], *ix.spines.values(), ix.title]  # the frame above the image, as drawn
    return {"fig": fig, "codes_ax": cx, "image_ax": ix, "point": point, "codes": codes, "lims": lims}


latent_walk_view.continuous_update = True


# --- notebook 10: convolutional autoencoders (code-size slider, shift slider) ---------------------

@remember
def _conv_pair(code_size: int) -> tuple:
    """Notebook 04's fully connected autoencoder and notebook 10's convolutional one, same code size."""
    return store.latent_model(code_size)[0], store.conv_model(code_size)[0]


@remember
def _conv_family() -> dict:
    return {"curve": store.conv_curve()}


def conv_size_view(code_size: int = 16, n: int = 8) -> tuple[Figure, Numbers]:
    """The code-size slider of notebook 10: test digits rebuilt by notebook 04's fully connected
    autoencoder and by the convolutional one with ``code_size`` numbers (CONV_SIZES), beside the test
    error against code size for both. Returns ``(fig, {"code_size", "fc_mse", "conv_mse",
    "fc_parameters", "conv_parameters"})``, errors as MSE per pixel on the test images.

    Cheap enough to follow a drag (``continuous_update``): one figure is kept per ``n`` (and cache
    folder and mode), laid out once for every code size, whose reconstructions the first call
    computes; each call changes its images, row names, mark and title, which :func:`render_png`
    blits onto the curves drawn once. Each call returns that figure, showing the new code size."""
    _one_of(code_size, recipes.CONV_SIZES, "code_size")
    n = _int_in(n, 1, 20, "n", " (digits shown)")
    live = _conv_size_figure(n)
    _show_rows_value(live, code_size)
    return live["fig"], dict(live["numbers"][code_size])


@remember
def _conv_size_figure(n: int) -> dict:
    """The kept figure of :func:`conv_size_view` for ``n`` digits a row: the error curves drawn once,
    every code size's rows, numbers, title and mark, the figure sized for the widest of them."""
    curve, x = _conv_family()["curve"], _spread_digits(n)
    views, numbers, first_rows = {}, {}, None
    for code_size in recipes.CONV_SIZES:
        fc, conv = _conv_pair(code_size)
        i = list(curve["sizes"]).index(code_size)
        nums = numbers[code_size] = {
            "code_size": int(code_size), "fc_mse": float(curve["fc_test_mse"][i]),
            "conv_mse": float(curve["conv_test_mse"][i]),
            "fc_parameters": sum(p.numel() for p in fc.parameters()),
            "conv_parameters": sum(p.numel() for p in conv.parameters())}
        rows = {"original": x, f"fully connected ({code_size})": training.reconstruct(fc, x),
                f"convolutional ({code_size})": training.reconstruct(conv, x)}
        first_rows = first_rows or rows
        views[code_size] = (*plotting.stack_rows(rows, n), list(rows),
                            f"code size {code_size}: FC {nums['fc_mse']:.4f} ({nums['fc_parameters']:,} parameters) · "
                            f"conv {nums['conv_mse']:.4f} ({nums['conv_parameters']:,})", (code_size, nums["conv_mse"]))
    fig, (rx, ax) = plt.subplots(1, 2, figsize=(12, 3.8), gridspec_kw={"width_ratios": [n, 6], "wspace": 0.08})
    plt.close(fig)  # kept here, never by pyplot
    fig.subplots_adjust(bottom=0.16)
    plotting.draw_rows(rx, first_rows, n=n, fontsize=9)
    plotting.draw_error_curve(ax, curve["sizes"], {"fully connected (04)": (curve["fc_test_mse"], "o-"),
                                                   "convolutional": (curve["conv_test_mse"], "s--")},
                              mark=views[recipes.CONV_SIZES[0]][4])
    live = {"fig": fig, "rows_ax": rx, "curve_ax": ax, "mark": ax.lines[-1], "views": views, "numbers": numbers,
            "fontsize": 9, "title_size": 9, "default": 16 if 16 in views else next(iter(views))}
    _make_rows_live(live)
    return live


conv_size_view.continuous_update = True


#: Shifts (pixels) offered by the notebook-10 shift slider.
SHIFTS: tuple[int, ...] = tuple(range(-4, 5))


@remember
def _shift_digit(index: int) -> torch.Tensor:
    return data.mnist_test()[0][index:index + 1].clone()


def shift_errors(index: int = 0, dy: int = 0) -> dict:
    """MSE per pixel of test digit ``index`` moved by each of SHIFTS to the right (and ``dy`` down),
    for notebook 04's and notebook 10's autoencoders with a 32-number code:
    ``{"shifts", "fc", "conv"}`` (arrays)."""
    index = _int_in(index, 0, config.size("mnist_test") - 1, "index", " (a test digit)")
    dy = _int_in(dy, min(SHIFTS), max(SHIFTS), "dy")
    return {k: v.copy() for k, v in _shift_sweep(index, dy).items()}


@remember
def _shift_sweep(index: int, dy: int) -> dict:
    """:func:`shift_errors`, kept while the horizontal slider is dragged (it does not depend on dx)."""
    fc, conv = _conv_pair(32)
    xs = torch.cat([data.shift_images(_shift_digit(index), dx, dy) for dx in SHIFTS])
    with torch.no_grad():
        err = {name: ((m(xs) - xs) ** 2).mean(1).numpy() for name, m in (("fc", fc.eval()), ("conv", conv.eval()))}
    return {"shifts": np.array(SHIFTS), **err}


def shift_view(dx: int = 2, dy: int = 0, index: int = 0) -> tuple[Figure, Numbers]:
    """The shift slider of notebook 10: test digit ``index`` moved ``dx`` pixels right and ``dy`` down
    (whole pixels, background filled in), rebuilt by the fully connected (04) and the convolutional
    autoencoder (code 32 each), with their error maps |output − input| and the error against the
    horizontal shift. Numbers: ``fc_mse``, ``conv_mse`` (this digit, MSE per pixel) and
    ``fc_code_change``, ``conv_code_change`` (‖z(shifted) − z(digit)‖ / ‖z(digit)‖).

    Cheap enough to follow a drag (``continuous_update``): one figure is kept (per cache folder and
    mode); a move of ``dx`` changes its images, title and mark, which :func:`render_png` blits onto
    the rest, drawn again only when ``dy`` or ``index`` changes the curve. Each call returns that
    figure, showing the new shift."""
    dx = _int_in(dx, min(SHIFTS), max(SHIFTS), "dx")
    dy = _int_in(dy, min(SHIFTS), max(SHIFTS), "dy")
    index = _int_in(index, 0, config.size("mnist_test") - 1, "index", " (a test digit)")
    fc, conv = _conv_pair(32)
    x0 = _shift_digit(index)
    x = data.shift_images(x0, dx, dy)
    numbers: Numbers = {"dx": dx, "dy": dy}
    panels = {"shifted input": x}
    outs = {}
    with torch.no_grad():
        for name, m in (("fc", fc.eval()), ("conv", conv.eval())):
            y = m(x)
            outs[name] = y
            numbers[f"{name}_mse"] = float(((y - x) ** 2).mean())
            z0, z = m.encode(x0), m.encode(x)
            numbers[f"{name}_code_change"] = float((z - z0).norm() / z0.norm().clamp_min(1e-12))
    panels.update({"fully connected": outs["fc"], "convolutional": outs["conv"],
                   "FC |error|": (outs["fc"] - x).abs(), "conv |error|": (outs["conv"] - x).abs()})
    errs = shift_errors(index, dy)
    title = f"shift ({dx:+d}, {dy:+d}) px: MSE FC {numbers['fc_mse']:.4f} · conv {numbers['conv_mse']:.4f}"
    live = _shift_figure()
    fig, px, ax = live["fig"], live["panels_ax"], live["curve_ax"]
    if live.get("curve") != (index, dy):  # a new curve: redraw everything but what a drag of dx moves
        for line, name in zip(ax.lines[:2], ("fc", "conv")):
            line.set_ydata(errs[name])
        ax.relim(); ax.autoscale_view()
        ax.set_title(f"error against the horizontal shift (dy = {dy:+d})", fontsize=10)
        live["curve"] = (index, dy)
        fig._course_background = None
    px.images[0].set_data(plotting.mosaic(np.concatenate([plotting.to_numpy(v).reshape(1, 28, 28)
                                                          for v in panels.values()]), gap=3))
    px.set_title(title, fontsize=10)
    live["mark"].set_xdata([float(dx), float(dx)])
    return fig, numbers


@remember
def _shift_figure() -> dict:
    """The kept figure of :func:`shift_view`: panels, curve and mark, laid out once."""
    blank = {k: torch.zeros(1, 784) for k in ("shifted input", "fully connected", "convolutional",
                                              "FC |error|", "conv |error|")}
    fig, (px, ax) = plt.subplots(1, 2, figsize=(12, 3.4), gridspec_kw={"width_ratios": [5, 3], "wspace": 0.25})
    plt.close(fig)  # kept here, never by pyplot
    fig.subplots_adjust(bottom=0.17)
    plotting.draw_panels(px, blank)
    px.set_title("shift", fontsize=10)
    zeros = np.zeros(len(SHIFTS))
    plotting.draw_shift_curve(ax, np.array(SHIFTS), {"fully connected": (zeros, "o-"),
                                                      "convolutional": (zeros, "s--")}, mark=0)
    mark = ax.lines[-1]
    fig._course_live = [px.images[0], px.title, mark, ax.get_legend()]  # the legend stays above the mark
    return {"fig": fig, "panels_ax": px, "curve_ax": ax, "mark": mark}


shift_view.continuous_update = True

"""Figures of the course. Figures only: no training, no data loading. Each function returns
its ``matplotlib.figure.Figure`` (it does not call ``plt.show()``; notebooks and widget callbacks
decide when to show).
"""
from __future__ import annotations

import math
from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.colors import is_color_like
from matplotlib.figure import Figure
from matplotlib.ticker import FormatStrFormatter, LogLocator, MaxNLocator

__all__ = ["to_numpy", "mosaic", "stack_rows", "draw_rows", "row_names", "show_images", "show_rows",
           "plot_latent", "plot_losses", "DIGIT_COLORS", "plot_rate_distortion", "draw_field", "field_scale", "draw_walk", "draw_distances",
           "MAX_GAP", "tile_grid", "draw_manifold", "draw_rate_distortion_beta", "draw_latent_point", "draw_panels",
           "draw_shift_curve", "show_filters"]

#: The widest gap (pixels) between images or rows: a mosaic is allocated in one piece.
MAX_GAP = 100

DIGIT_COLORS = plt.get_cmap("tab10")
_GREY_BLANK = plt.get_cmap("gray").with_extremes(bad="white")  # NaN (gaps between rows) drawn white


def to_numpy(x) -> np.ndarray:
    """A tensor or array-like as a numpy array (on the CPU)."""
    if isinstance(x, torch.Tensor):
        return x.detach().float().cpu().numpy()
    return np.asarray(x)


def _check_ax(ax, optional: bool = True) -> None:
    if not (isinstance(ax, Axes) or (optional and ax is None)):
        raise ValueError(f"ax must be a matplotlib Axes{' or None' if optional else ''}, got {type(ax).__name__}")


def _check_mapping(value, name: str) -> None:
    if not isinstance(value, Mapping) or not value:
        raise ValueError(f"{name} must be a non-empty dict of name -> values, got {type(value).__name__}")


def _check_positive(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not 0 < value < 1e3:
        raise ValueError(f"{name} must be a positive number below 1000, got {value!r}")
    return float(value)


def _as_images(x, side: int | None = None) -> np.ndarray:
    """Images (N, D) with D a square, or (N, H, W), N >= 1, finite numbers, as a (N, H, W) array."""
    try:
        a = to_numpy(x).astype(np.float32)
    except (TypeError, ValueError):
        raise ValueError(f"images must be numbers of shape (N, 784) or (N, 28, 28), got {type(x).__name__}") from None
    if a.ndim == 1:
        a = a[None]
    if a.ndim == 2:
        side = side or int(round(np.sqrt(a.shape[1])))
        if side * side != a.shape[1]:
            raise ValueError(f"images of {a.shape[1]} values are not square; give side=")
        a = a.reshape(len(a), side, side)
    if a.ndim != 3 or a.size == 0:
        raise ValueError(f"expected images of shape (N, 784) or (N, 28, 28), N >= 1, got {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError("images must be finite numbers, got NaN or infinity")
    return a


def show_images(images, ncols: int = 10, title: str | None = None,
                labels: Sequence | None = None, scale: float = 1.0, clip: bool = True) -> Figure:
    """A grid of grey images. ``images``: (N, 784) or (N, H, W); ``labels`` captions each one."""
    a = _as_images(images)
    n = len(a)
    if isinstance(ncols, bool) or not isinstance(ncols, (int, np.integer)) or ncols < 1:
        raise ValueError(f"ncols must be a positive integer, got {ncols!r}")
    scale = _check_positive(scale, "scale")
    if labels is not None and (not hasattr(labels, "__len__") or isinstance(labels, str) or len(labels) < n):
        raise ValueError(f"labels must be a sequence of {n} captions (one per image) or None, got {labels!r}")
    ncols = max(1, min(ncols, n))
    nrows = int(np.ceil(n / ncols))
    # A caption needs its own band above each image, or it touches the row above (notebook 00).
    row = scale + (0.25 if labels is not None else 0.0)
    fig, axes = plt.subplots(nrows, ncols, figsize=(scale * ncols, row * nrows + (0.4 if title else 0)),
                             squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if i < n:
            img = np.clip(a[i], 0, 1) if clip else a[i]
            ax.imshow(img, cmap="gray", vmin=0 if clip else None, vmax=1 if clip else None)
            if labels is not None:
                ax.set_title(str(labels[i]), fontsize=8, pad=2)
    if title:
        fig.suptitle(title)
    fig.tight_layout(h_pad=0.8 if labels is not None else None)
    return fig


def mosaic(images, gap: int = 2, fill: float = 1.0) -> np.ndarray:
    """Images (N, 784) or (N, H, W), N >= 1, side by side in one (H, N·W + gaps) array, clipped to
    [0, 1]; ``gap`` (pixels, 0..MAX_GAP) of ``fill`` (a finite number) between them.

    One ``imshow`` of a mosaic draws many times faster than one axes per image, which keeps
    widget redraws quick."""
    _check_gap(gap)
    if isinstance(fill, bool) or not isinstance(fill, (int, float, np.floating)) or not math.isfinite(fill):
        raise ValueError(f"fill must be a finite number, got {fill!r}")
    a = np.clip(_as_images(images), 0, 1)
    n, h, w = a.shape
    out = np.full((h, n * w + (n - 1) * gap), fill, dtype=np.float32)
    for i in range(n):
        out[:, i * (w + gap): i * (w + gap) + w] = a[i]
    return out


def _check_gap(gap) -> None:
    if isinstance(gap, bool) or not isinstance(gap, (int, np.integer)) or not 0 <= gap <= MAX_GAP:
        raise ValueError(f"gap must be an integer from 0 to {MAX_GAP} pixels, got {gap!r}")


def _check_rows(rows, n) -> None:
    _check_mapping(rows, "rows")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive integer (images per row), got {n!r}")


def stack_rows(rows: Mapping[str, object], n: int = 10, gap: int = 4) -> tuple[np.ndarray, list[float]]:
    """Rows of images as one array: each row a :func:`mosaic` of its first ``n`` images, rows
    ``gap`` pixels apart (NaN there, drawn blank). Returns ``(array (H_total, W_max), row centres)``."""
    _check_rows(rows, n)
    _check_gap(gap)
    mosaics = [mosaic(_as_images(v)[:n]) for v in rows.values()]
    height = sum(m.shape[0] for m in mosaics) + gap * (len(mosaics) - 1)
    out = np.full((height, max(m.shape[1] for m in mosaics)), np.nan, dtype=np.float32)
    centres, y = [], 0
    for m in mosaics:
        out[y:y + m.shape[0], :m.shape[1]] = m
        centres.append(y + (m.shape[0] - 1) / 2)
        y += m.shape[0] + gap
    return out, centres


def draw_rows(ax, rows: Mapping[str, object], n: int = 10, fontsize: float = 10) -> None:
    """Draw named rows of images on one axes: a single ``imshow`` with the row names as y tick
    labels. One image on one axes renders several times faster than an axes per row or per digit,
    which keeps widget redraws quick."""
    _check_ax(ax, optional=False)
    fontsize = _check_positive(fontsize, "fontsize")
    img, centres = stack_rows(rows, n)
    ax.imshow(img, cmap=_GREY_BLANK, vmin=0, vmax=1, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks(centres, list(rows), fontsize=fontsize)
    ax.tick_params(length=0, pad=6)
    for sp in ax.spines.values():
        sp.set_visible(False)


def row_names(ax) -> list[str]:
    """The row names drawn by :func:`draw_rows` on ``ax`` (top to bottom)."""
    _check_ax(ax, optional=False)
    return [t.get_text() for t in ax.get_yticklabels()]


def show_rows(rows: Mapping[str, object], title: str | None = None, n: int = 10,
              scale: float = 1.0) -> Figure:
    """Rows of images with a name on the left, e.g. the seminar's
    ``{"Origin": x, "Input X": noisy, "Output Y": out}``. Each value: (N, 784) or (N, 28, 28).
    Pixel values are shown clipped to [0, 1]; the rows are one image on one axes."""
    _check_rows(rows, n)
    scale = _check_positive(scale, "scale")
    ncols = max(len(_as_images(v)[:n]) for v in rows.values())
    width, height = scale * ncols + 1.4, scale * len(rows) + (0.5 if title else 0.1)
    fig = plt.figure(figsize=(width, height))
    top = 1 - (0.45 if title else 0.05) / height
    ax = fig.add_axes((1.35 / width, 0.05 / height, 1 - 1.4 / width, top - 0.05 / height))
    draw_rows(ax, rows, n)
    if title:
        ax.set_title(title, fontsize=11)
    return fig


def plot_latent(codes, labels, title: str = "Codes coloured by digit", ax=None,
                xlabel: str = "code 1", ylabel: str = "code 2", s: float = 4) -> Figure:
    """Scatter of 2-D points (N, 2) coloured by digit label (N,), with a legend."""
    _check_ax(ax)
    s = _check_positive(s, "s")
    z = to_numpy(codes)
    y = to_numpy(labels)
    if y.ndim != 1 or y.dtype.kind not in "iuf" or (y.dtype.kind == "f" and not np.array_equal(y, np.round(y))):
        raise ValueError(f"labels must be (N,) integers (digits), got {y.dtype} {y.shape}")
    y = y.astype(int)
    if z.ndim != 2 or z.shape[1] < 2 or len(z) != len(y):
        raise ValueError(f"codes must be (N, 2) with N labels, got {z.shape} and {y.shape}")
    fig = ax.figure if ax is not None else plt.figure(figsize=(5.5, 5))
    ax = ax or fig.add_subplot()
    for d in np.unique(y):
        m = y == d
        ax.scatter(z[m, 0], z[m, 1], s=s, color=DIGIT_COLORS(int(d) % 10), label=str(d), alpha=0.7)
    ax.set_title(title); ax.set_xlabel(xlabel); ax.set_ylabel(ylabel)
    ax.legend(markerscale=3, fontsize=7, title="digit", loc="best", ncol=2)
    return fig


def plot_losses(histories: Mapping[str, object], title: str = "Training curves",
                logy: bool = True, ax=None) -> Figure:
    """Loss per epoch for each named run. Values: a ``History``, its dict, or a list of losses.

    Train loss is drawn solid, test MSE dashed; only what was recorded is drawn and named in the
    legend."""
    _check_mapping(histories, "histories")
    _check_ax(ax)
    fig = ax.figure if ax is not None else plt.figure(figsize=(6, 4))
    ax = ax or fig.add_subplot()
    for i, (name, h) in enumerate(histories.items()):
        color = f"C{i % 10}"
        if isinstance(h, dict):
            train, test = h.get("train_loss", []), h.get("test_mse", [])
        elif hasattr(h, "train_loss"):
            train, test = h.train_loss, h.test_mse
        else:
            train, test = list(h), []
        if len(train):
            ax.plot(range(1, len(train) + 1), train, color=color, label=f"{name} (train)")
        if len(test):
            ax.plot(range(1, len(test) + 1), test, "--", color=color, label=f"{name} (test)")
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel("epoch"); ax.set_ylabel("mean squared error per pixel"); ax.set_title(title)
    ax.legend(fontsize=8)
    return fig


# --- notebook 07: applications (rate–distortion curves) ----------------------------------------

def plot_rate_distortion(curves: Mapping[str, tuple], ax=None, title: str = "Rate–distortion",
                         mark: tuple | None = None, logx: bool = True, title_size: float = 12) -> Figure:
    """Error against size for several codecs: ``curves`` maps a name to ``(bits_per_image, mse)``
    arrays (or ``(bits, mse, style)``); ``mark=(bits, mse)`` circles one point. Log–log axes."""
    _check_mapping(curves, "curves")
    _check_ax(ax)
    title_size = _check_positive(title_size, "title_size")
    if mark is not None and (not isinstance(mark, (tuple, list)) or len(mark) != 2):
        raise ValueError(f"mark must be (bits, mse) or None, got {mark!r}")
    fig = ax.figure if ax is not None else plt.figure(figsize=(6.5, 4.2))
    ax = ax or fig.add_subplot()
    for name, c in curves.items():
        r, m = np.asarray(c[0], dtype=float), np.asarray(c[1], dtype=float)
        order = np.argsort(r)
        ax.plot(r[order], m[order], c[2] if len(c) > 2 else "o-", label=name, ms=4)
    if mark is not None:
        ax.plot([mark[0]], [mark[1]], "o", ms=13, mfc="none", mec="k", label="selected")
    if logx:
        ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("size (bits per image, log scale)"); ax.set_ylabel("test MSE per pixel (log scale)")
    ax.set_title(title, fontsize=title_size); ax.legend(fontsize=8); ax.grid(alpha=0.3, which="both")
    return fig


# --- the widgets' figures (callbacks in course_utils.widgets compute, these draw) ---------------

#: The bins of :func:`draw_distance_histogram`: 60 over [0, 2] (distance / mean distance).
DISTANCE_BINS = np.linspace(0.0, 2.0, 61)


def draw_distance_histogram(counts: np.ndarray, numbers: Mapping[str, float], n_points: int) -> Figure:
    """Notebook 01: histogram of pairwise distances divided by their mean (``counts`` (60,): pairs
    per bin of :data:`DISTANCE_BINS`), with the spread, its closed form and the relative contrast of
    ``numbers`` written beside it. Returns the figure, laid out for these counts;
    :func:`set_distance_histogram` shows other counts on it."""
    fig, ax = plt.subplots(figsize=(8.4, 3.6))
    # the bars as one patch (abutting bars of ``ax.hist``, drawn as one outline): a redraw costs one artist
    bars = ax.stairs(np.zeros(len(DISTANCE_BINS) - 1), DISTANCE_BINS, fill=True, color="C0")
    bars.sticky_edges.y.append(0)  # the y axis starts at the bars' foot, as ax.hist's
    ax.set_xlim(0, 2)
    ax.set_xlabel("pairwise distance / mean distance")
    ax.set_ylabel("number of pairs")
    # Beside the axes, never over the bars (at small dimensions they fill the whole width).
    ax.text(1.03, 0.97, "", transform=ax.transAxes, va="top", ha="left", fontsize=9)
    set_distance_histogram(fig, counts, numbers, n_points)
    fig.tight_layout()
    return fig


def set_distance_histogram(fig: Figure, counts: np.ndarray, numbers: Mapping[str, float], n_points: int) -> list:
    """Show ``counts``, ``numbers`` and ``n_points`` on a figure made by :func:`draw_distance_histogram`:
    its bars, title, text and y limits become those of a fresh figure of them (the layout stays).
    Returns the artists that changed, in the order a full draw draws them: the bars, the y axis,
    the frame (drawn over the bars' foot), the title and the text."""
    ax = fig.axes[0]
    counts = np.asarray(counts, dtype=float)
    if counts.shape != (len(DISTANCE_BINS) - 1,) or not np.isfinite(counts).all() or (counts < 0).any():
        raise ValueError(f"counts must be {len(DISTANCE_BINS) - 1} pair counts (one per bin), got {counts.shape}")
    bars = ax.patches[0]
    bars.set_data(counts)
    ax.set_title(f"{n_points} uniform points in [0,1]^{numbers['dim']}")
    ax.texts[0].set_text(f"spread std/mean = {numbers['relative_spread']:.3f}\n"
                         f"closed form 0.59/√d = {numbers['closed_form']:.3f}\n\n"
                         f"contrast (max−min)/min\n= {numbers['relative_contrast']:.3g}\n"
                         "(median over all points\nas the query)")
    ax.relim()
    ax.autoscale_view(scalex=False)  # from 0 (the bars' baseline) to the highest bar + 5 %, as ax.hist's
    return [bars, ax.yaxis, *ax.spines.values(), ax.title, ax.texts[0]]


def draw_neighbour_graph(x: np.ndarray, t: np.ndarray, edges: np.ndarray, emb: np.ndarray,
                         n_neighbors: int, title: str, max_edges: int = 400) -> Figure:
    """Notebook 02: the Swiss roll ``x`` (N, 3) coloured by its roll parameter ``t`` (N,) with its
    short-circuit ``edges`` (E, 2) of the ``n_neighbors``-NN graph in red (at most ``max_edges``
    drawn, above the points), beside a 2-D embedding ``emb`` (N, 2) titled ``title``. Returns the
    figure, laid out for these titles; :func:`set_neighbour_graph` shows other edges and embeddings
    of the same roll on it."""
    fig = plt.figure(figsize=(10, 4.2))
    # the edges above the points (not sorted by depth against them): a blit of the edges alone shows
    # the same picture as a full draw
    ax = fig.add_subplot(1, 2, 1, projection="3d", computed_zorder=False)
    ax.scatter(x[:, 0], x[:, 1], x[:, 2], c=t, cmap="viridis", s=4, zorder=1)
    # one collection, not one line per edge: a redraw costs one artist
    from mpl_toolkits.mplot3d.art3d import Line3DCollection
    ax.add_collection3d(Line3DCollection(np.zeros((0, 2, 3)), colors="red", linewidths=0.6, zorder=2),
                        autolim=False)  # edges join points of the roll: its limits hold them
    ax.set_xlabel("x"); ax.set_ylabel("y"); ax.set_zlabel("z")
    ax2 = fig.add_subplot(1, 2, 2)
    sc = ax2.scatter(emb[:, 0], emb[:, 1], c=t, cmap="viridis", s=4)
    fig.colorbar(sc, ax=ax2, label="roll parameter t")
    ax2.set_xlabel("coordinate 1"); ax2.set_ylabel("coordinate 2")
    set_neighbour_graph(fig, x, edges, emb, n_neighbors, title, max_edges)
    fig.tight_layout()
    return fig


def set_neighbour_graph(fig: Figure, x: np.ndarray, edges: np.ndarray, emb: np.ndarray,
                        n_neighbors: int, title: str, max_edges: int = 400) -> list:
    """Show other ``edges``, ``n_neighbors``, embedding ``emb`` and ``title`` of the same roll ``x`` on
    a figure made by :func:`draw_neighbour_graph`: the red edges, both titles, the embedding's points
    and its limits become those of a fresh figure (the roll, its colours and the layout stay).
    Returns the artists that changed, in the order a full draw draws them: the edges, the roll's
    title, the embedding's points, axes (ticks and labels), frame and title."""
    ax, ax2 = fig.axes[0], fig.axes[1]
    emb = np.asarray(emb, dtype=float)
    sc = ax2.collections[0]
    if emb.shape != (len(sc.get_offsets()), 2):
        raise ValueError(f"emb must be ({len(sc.get_offsets())}, 2), one row per point of the roll, got {emb.shape}")
    drawn = np.asarray(edges[:max_edges], dtype=int).reshape(-1, 2)
    lines = ax.collections[1]
    lines.set_segments(np.stack([x[drawn[:, 0]], x[drawn[:, 1]]], axis=1))
    if ax.M is not None:     # projected as the 3-D axes were last drawn (a first draw projects it anyway),
        lines.do_3d_projection()  # so a blit of the edges alone shows them
    # the text alone: set_title would also put the title back at y = 1, below where the 3-D axes'
    # last draw lifted it (above its tick labels), and a blit of the title alone would show it there
    ax.title.set_text(f"{n_neighbors}-NN graph: {len(edges)} short-circuit edges")
    sc.set_offsets(emb)
    ax2.ignore_existing_data_limits = True  # the limits a fresh scatter of emb has
    ax2.update_datalim(sc.get_datalim(ax2.transData).get_points())
    ax2.autoscale_view()
    ax2.set_title(title)
    return [lines, ax.title, sc, ax2.xaxis, ax2.yaxis, *ax2.spines.values(), ax2.title]


def move_latent_points(ax, codes, labels, title: str) -> None:
    """Show other 2-D points ``codes`` (N, 2) of the same digits ``labels`` (N,) on axes drawn by
    :func:`plot_latent`: each digit's points, the limits and ``title`` become those of a fresh
    :func:`plot_latent` of them (its legend finds its best place again when drawn). Returns None."""
    _check_ax(ax, optional=False)
    _check_title(title)
    z = to_numpy(codes)
    y = to_numpy(labels)
    groups = {c.get_label(): c for c in ax.collections}
    if y.ndim != 1 or z.ndim != 2 or z.shape[1] < 2 or len(z) != len(y):
        raise ValueError(f"codes must be (N, 2) with N labels, got {z.shape} and {y.shape}")
    digits = [str(int(d)) for d in np.unique(y)]
    if sorted(groups) != sorted(digits):
        raise ValueError(f"labels must have the digits the axes show ({sorted(groups)}), got {digits}")
    y = y.astype(int)
    for d in np.unique(y):
        groups[str(int(d))].set_offsets(z[y == d, :2])
    ax.ignore_existing_data_limits = True  # the limits a fresh scatter of these points has
    for c in groups.values():
        ax.update_datalim(c.get_datalim(ax.transData).get_points())
    ax.autoscale_view()
    ax.set_title(title)


def draw_error_curve(ax, sizes, curves: Mapping[str, tuple], mark: tuple[float, float]) -> None:
    """Notebook 04: test error against code size on log–log axes, one line per ``name -> (errors,
    style)``, ``mark=(size, error)`` circled. Few ticks with plain labels ("0.02", not mathtext:
    text layout is most of a redraw); the legend at a fixed place ("best" searches on every redraw)."""
    for name, (errors, style) in curves.items():
        ax.plot(sizes, errors, style, label=name)
    ax.plot([mark[0]], [mark[1]], "o", ms=12, mfc="none", mec="k", label="this code size")
    ax.set_xscale("log", base=2); ax.set_yscale("log")
    ax.set_xticks(list(sizes)); ax.set_xticklabels([str(s) for s in sizes])
    ax.minorticks_off()
    ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax.set_xlabel("code size (numbers per image)"); ax.set_ylabel("test MSE per pixel")
    ax.legend(fontsize=8, loc="upper right")
    ax.yaxis.set_label_position("right"); ax.yaxis.tick_right()


def draw_probe(labels: np.ndarray, accuracy: np.ndarray, features: Sequence[str], n_labels: int) -> Figure:
    """Notebook 07: linear-probe test accuracy (features, L, draws) against the labelled count
    ``labels`` (L,) with min–max bars over draws, and a bar chart of the means at ``n_labels``."""
    j = list(labels).index(n_labels)
    mean = accuracy.mean(-1)
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4), gridspec_kw={"width_ratios": [3, 2]})
    for i, kind in enumerate(features):
        ax.errorbar(labels, mean[i], yerr=[mean[i] - accuracy[i].min(-1), accuracy[i].max(-1) - mean[i]],
                    marker="o", capsize=3, label=kind)
    ax.axvline(n_labels, color="k", ls=":", lw=1)
    ax.set_xscale("log"); ax.set_xlabel("labelled training images (log scale)")
    ax.set_ylabel("test accuracy"); ax.set_ylim(0, 1); ax.grid(alpha=0.3)
    ax.set_title("Linear classifier on each kind of feature"); ax.legend(fontsize=8)
    bars = bx.bar(range(len(features)), mean[:, j], color=[f"C{i}" for i in range(len(features))])
    bx.bar_label(bars, labels=[f"{v:.1%}" for v in mean[:, j]], fontsize=9)
    # one word a line: "sparse autoencoder" and "denoising autoencoder" side by side overlapped
    bx.set_xticks(range(len(features))); bx.set_xticklabels([f.replace(" ", "\n") for f in features], fontsize=8)
    bx.set_ylim(0, 1); bx.set_ylabel("test accuracy")
    bx.set_title(f"{n_labels} labels, mean of {accuracy.shape[-1]} draw(s)")
    fig.tight_layout()
    return fig


# --- notebook 08: the denoising field on the 2-D ring ----------------------------------------------

def _check_points(x, name: str, n: int | None = None) -> np.ndarray:
    """``x`` as a finite float (n, 2) array (n >= 1; the given ``n`` if one is given), or a ValueError."""
    if isinstance(x, (str, bytes)):
        raise ValueError(f"{name} must be (n, 2) points (a tensor or array), got {type(x).__name__}")
    try:
        a = to_numpy(x)
        a = a.astype(np.float64) if a.dtype.kind in "fiu" else None
    except (TypeError, ValueError):
        a = None
    if a is None:
        raise ValueError(f"{name} must be (n, 2) points (a tensor or array of numbers), got {type(x).__name__}")
    if a.ndim != 2 or a.shape[1] != 2 or len(a) < 1 or (n is not None and len(a) != n):
        want = f"({n}, 2)" if n is not None else "(n, 2) with n >= 1"
        raise ValueError(f"{name} must have shape {want}, got {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} must be finite numbers, got NaN or infinity")
    return a


def _check_title(title) -> None:
    if not isinstance(title, str):
        raise ValueError(f"title must be a string, got {type(title).__name__}")


def _ring(ax, radius: float = 1.0) -> None:
    t = np.linspace(0, 2 * np.pi, 200)
    ax.plot(radius * np.cos(t), radius * np.sin(t), color="k", lw=1, alpha=0.5)


def draw_field(ax, points, vectors, title: str, data=None, color: str = "C0", lim: float | None = None,
               scale: float | None = None) -> None:
    """Arrows ``vectors`` (n, 2) at ``points`` (n, 2) over the plane, the data (if given) as grey dots
    and the ring (radius 1) as a thin line; equal axes labelled x₁, x₂. An arrow is drawn ``1/scale``
    times its length (default: :func:`field_scale`); pass the same ``scale`` to
    panels that are compared."""
    _check_ax(ax, optional=False)
    p = _check_points(points, "points")
    v = _check_points(vectors, "vectors", len(p))
    _check_title(title)
    if not isinstance(color, str) or not is_color_like(color):
        raise ValueError(f"color must be a matplotlib colour name such as 'C0' or 'red', got {color!r}")
    lim = None if lim is None else _check_positive(lim, "lim")
    scale = field_scale(points, vectors) if scale is None else _check_positive(scale, "scale")
    if data is not None:
        d = _check_points(data, "data")
        ax.scatter(d[:, 0], d[:, 1], s=1, color="0.7", alpha=0.5, rasterized=True)
    _ring(ax)
    ax.quiver(p[:, 0], p[:, 1], v[:, 0], v[:, 1], color=color, angles="xy", scale_units="xy", scale=scale, width=0.004)
    lim = float(np.abs(p).max()) * 1.05 if lim is None else lim
    ax.set_xlim(-lim, lim); ax.set_ylim(-lim, lim); ax.set_aspect("equal")
    ax.set_xlabel("x₁"); ax.set_ylabel("x₂"); ax.set_title(title, fontsize=9)


def field_scale(points, *fields) -> float:
    """The quiver ``scale`` at which the 90th-percentile arrow length of ``fields`` spans one grid
    spacing of ``points`` (longer arrows, far from the data, overlap their neighbours)."""
    p = _check_points(points, "points")
    if not fields:
        raise ValueError("field_scale expects at least one field of (n, 2) vectors after points")
    fields = tuple(_check_points(f, "fields", len(p)) for f in fields)
    xs = np.unique(np.round(p[:, 0], 6))
    spacing = float(np.min(np.diff(xs))) if len(xs) > 1 else 1.0
    longest = max(float(np.quantile(np.linalg.norm(to_numpy(f), axis=1), 0.9)) for f in fields)
    return max(longest, 1e-12) / spacing


def draw_walk(ax, path, title: str) -> None:
    """Points moved by repeated denoising: ``path`` is a list of (n, 2) arrays, step 0 first; start
    points red, end points blue, each point's track a thin line; the ring as a thin line."""
    _check_ax(ax, optional=False)
    _check_title(title)
    if isinstance(path, (str, bytes, dict)) or not isinstance(path, Sequence) or not path:
        raise ValueError(f"path must be a non-empty list of (n, 2) point arrays, got {type(path).__name__}")
    first = _check_points(path[0], "path")
    tracks = np.stack([first] + [_check_points(p, "path", len(first)) for p in path[1:]], 1)  # (n, steps+1, 2)
    _ring(ax)
    for tr in tracks:
        ax.plot(tr[:, 0], tr[:, 1], color="0.5", lw=0.6)
    ax.scatter(tracks[:, 0, 0], tracks[:, 0, 1], s=10, color="C3", label="start")
    ax.scatter(tracks[:, -1, 0], tracks[:, -1, 1], s=10, color="C0", label=f"after {len(path) - 1} steps")
    ax.set_aspect("equal"); ax.set_xlabel("x₁"); ax.set_ylabel("x₂"); ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, loc="upper right")


def _distances(distances, name: str) -> np.ndarray:
    try:
        d = None if isinstance(distances, (str, bytes, dict)) else np.asarray(distances, dtype=float)
    except (TypeError, ValueError):
        d = None
    if d is None or d.ndim != 1 or not len(d) or not np.all(np.isfinite(d)) or not np.all(d > 0):
        raise ValueError(f"{name} must be a non-empty sequence of finite numbers > 0, got {distances!r}")
    return d


def draw_distances(ax, distances: Sequence[float], title: str, ahead: Sequence[float] | None = None) -> None:
    """Notebook 08: the mean distance to the ring (finite, > 0) after 0, 1, 2, … denoising steps, on a
    log axis with whole-step ticks. ``ahead``: the distances of a longer walk from the same points
    (at least as many values), drawn faint beneath, so that a slider over the number of steps keeps
    one view and shows where the walk goes next."""
    _check_ax(ax, optional=False)
    _check_title(title)
    d = _distances(distances, "distances")
    if ahead is not None:
        a = _distances(ahead, "ahead")
        if len(a) < len(d):
            raise ValueError(f"ahead must hold at least as many distances as distances ({len(d)}), got {len(a)}")
        ax.plot(range(len(a)), a, "o-", color="0.85", markersize=3)
    ax.plot(range(len(d)), d, "o-", color="C0")
    ax.set_yscale("log"); ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("denoising steps"); ax.set_ylabel("mean distance to the ring")
    ax.set_title(title, fontsize=9)


# --- notebook 09: the variational autoencoder ------------------------------------------------------

def tile_grid(images, steps: int, gap: int = 1) -> np.ndarray:
    """``steps × steps`` images (steps², 784), row by row, as one (steps·(28 + gap) − gap)² array
    (white gaps), for drawing a decoded latent grid with a single ``imshow``."""
    a = _as_images(images)
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1 or steps * steps != len(a):
        raise ValueError(f"steps must be a positive integer with steps² = number of images ({len(a)}), got {steps!r}")
    _check_gap(gap)
    h, w = a.shape[1:]
    out = np.ones((steps * (h + gap) - gap, steps * (w + gap) - gap), np.float32)
    for i, img in enumerate(np.clip(a, 0, 1)):
        r, c = divmod(i, steps)
        out[r * (h + gap):r * (h + gap) + h, c * (w + gap):c * (w + gap) + w] = img
    return out


def draw_manifold(ax, images, steps: int, title: str, extent: tuple | None = None,
                  xlabel: str = "z₁", ylabel: str = "z₂") -> None:
    """Draw a decoded ``steps × steps`` latent grid (images row by row, top row first) into ``ax``;
    ``extent=(x0, x1, y0, y1)`` labels the axes with the codes' range (else no ticks)."""
    _check_ax(ax, optional=False)
    _check_title(title)
    if extent is not None and (not isinstance(extent, (tuple, list)) or len(extent) != 4):
        raise ValueError(f"extent must be (x0, x1, y0, y1) or None, got {extent!r}")
    ax.imshow(tile_grid(images, steps), cmap="gray", vmin=0, vmax=1,
              extent=None if extent is None else tuple(float(e) for e in extent))
    if extent is None:
        ax.set_xticks([]); ax.set_yticks([])
    ax.set_xlabel(xlabel); ax.set_ylabel(ylabel); ax.set_title(title, fontsize=10)


def draw_rate_distortion_beta(ax, betas: Sequence[float], rates: Sequence[float], distortions: Sequence[float],
                              beta: float | None = None) -> None:
    """Notebook 09: rate (KL, nats) and distortion (−log p(x|z), nats) of VAEs trained with each β,
    against β (log axis), the selected ``beta`` marked. Rate + distortion = −ELBO."""
    _check_ax(ax, optional=False)
    try:
        b, r, d = (np.asarray(v, dtype=float) for v in (betas, rates, distortions))
        beta = None if beta is None else float(beta)
    except (TypeError, ValueError):
        raise ValueError("betas, rates, distortions (and beta) must be numbers") from None
    if b.ndim != 1 or len(b) < 1 or r.shape != b.shape or d.shape != b.shape or (b <= 0).any():
        raise ValueError(f"betas (positive), rates and distortions must be equal-length 1-D sequences, got "
                         f"{b.shape}, {r.shape}, {d.shape}")
    ax.plot(b, r, "o-", color="C0", label="rate: KL(q(z|x) ‖ p(z))")
    ax.set_xscale("log"); ax.set_xlabel("β (log scale)"); ax.set_ylabel("rate (nats per image)", color="C0")
    ax.set_xticks(b, [f"{v:g}" for v in b]); ax.xaxis.set_minor_locator(plt.NullLocator())
    ax.set_xlim(b.min() / 1.5, b.max() * 1.5)
    twin = ax.twinx()
    twin.plot(b, d, "s--", color="C3", label="distortion: −log p(x|z)")
    twin.set_ylabel("distortion (nats per image)", color="C3")
    if beta is not None:
        ax.axvline(float(beta), color="gray", lw=6, alpha=0.25)
    ax.set_title("Rate falls and distortion rises with β", fontsize=10)
    lines = ax.get_lines()[:1] + twin.get_lines()[:1]
    ax.legend(lines, [ln.get_label() for ln in lines], fontsize=8, loc="upper center")


def draw_latent_point(ax_codes, ax_image, codes, labels, point, image, title: str) -> None:
    """Notebook 09's latent walk: test codes (N, 2) coloured by digit with ``point`` (2,) marked, and
    the decoded ``image`` (784,) of that point."""
    _check_title(title)
    _check_ax(ax_codes, optional=False)
    plot_latent(codes, labels, title="test digits' codes (means of q(z|x))", ax=ax_codes, xlabel="z₁",
                ylabel="z₂", s=2)
    try:
        p = np.asarray(to_numpy(point), dtype=float).ravel()
    except (TypeError, ValueError):
        raise ValueError(f"point must be 2 finite numbers, got {point!r}") from None
    if p.shape != (2,) or not np.isfinite(p).all():
        raise ValueError(f"point must be 2 finite numbers, got {p}")
    ax_codes.plot([p[0]], [p[1]], "k*", ms=16, mfc="yellow", label="decoded point")
    _check_ax(ax_image, optional=False)
    ax_image.imshow(np.clip(_as_images(image)[0], 0, 1), cmap="gray", vmin=0, vmax=1)
    ax_image.set_xticks([]); ax_image.set_yticks([]); ax_image.set_title(title, fontsize=10)


# --- notebook 10: convolutional autoencoders -------------------------------------------------------

def draw_panels(ax, panels: Mapping[str, object], fontsize: float = 9) -> None:
    """Single images side by side on one axes (one ``imshow`` of a :func:`mosaic`), each named
    below: ``panels`` maps a name to one image (784,) / (28, 28) or (1, 784). Shown clipped to [0, 1]."""
    _check_ax(ax, optional=False)
    _check_mapping(panels, "panels")
    if not panels:
        raise ValueError("panels must name at least one image")
    fontsize = _check_positive(fontsize, "fontsize")
    imgs = [_as_images(v) for v in panels.values()]
    if any(len(a) != 1 for a in imgs) or len({a.shape for a in imgs}) != 1:
        raise ValueError("every panel must be one image, all of the same size")
    gap = 3
    w = imgs[0].shape[2]
    ax.imshow(mosaic(np.concatenate(imgs), gap=gap), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_xticks([i * (w + gap) + (w - 1) / 2 for i in range(len(imgs))], list(panels), fontsize=fontsize)
    ax.set_yticks([])
    ax.tick_params(length=0)
    for sp in ax.spines.values():
        sp.set_visible(False)


def draw_shift_curve(ax, shifts, curves: Mapping[str, tuple], mark: float) -> None:
    """Notebook 10: reconstruction error against the shift in pixels, one line per ``name -> (errors,
    style)``, the current shift ``mark`` marked by a vertical line."""
    _check_ax(ax, optional=False)
    _check_mapping(curves, "curves")
    try:
        x = np.asarray(shifts, dtype=float)
    except (TypeError, ValueError):
        x = None
    if x is None or x.ndim != 1 or x.size == 0 or not np.isfinite(x).all():
        raise ValueError(f"shifts must be a non-empty 1-D sequence of numbers (pixels), got {shifts!r}")
    for name, c in curves.items():
        errors = np.asarray(c[0], dtype=float)
        if errors.shape != x.shape:
            raise ValueError(f"curve {name!r} has {errors.shape} errors for {x.shape} shifts")
        ax.plot(x, errors, c[1] if len(c) > 1 else "o-", label=name, ms=4)
    if isinstance(mark, bool) or not isinstance(mark, (int, float, np.number)) or not math.isfinite(mark):
        raise ValueError(f"mark must be a finite number (the shift shown), got {mark!r}")
    ax.axvline(float(mark), color="k", lw=0.8, ls=":")
    ax.set_xlabel("shift (pixels)"); ax.set_ylabel("MSE per pixel of this digit")
    ax.legend(fontsize=8, loc="upper center")


def show_filters(weights, title: str = "Filters", ncols: int = 16, scale: float = 0.6) -> Figure:
    """Filters or feature maps (N, H, W) (or (N, 1, H, W)), each scaled to its own range [min, max]
    (white = largest), numbered below. Notebook 10: first-layer filters and a digit's feature maps."""
    try:
        a = to_numpy(weights).astype(np.float32)
    except (TypeError, ValueError):
        raise ValueError(f"weights must be numbers of shape (N, H, W) or (N, 1, H, W), got {type(weights).__name__}") from None
    if a.ndim == 4 and a.shape[1] == 1:
        a = a[:, 0]
    if a.ndim != 3 or a.size == 0 or not np.isfinite(a).all():
        raise ValueError(f"weights must be finite numbers of shape (N, H, W) or (N, 1, H, W), got {a.shape}")
    _check_title(title)
    lo, hi = a.min((1, 2), keepdims=True), a.max((1, 2), keepdims=True)
    a = (a - lo) / np.maximum(hi - lo, 1e-12)
    return show_images(a, ncols=ncols, title=title, labels=list(range(len(a))), scale=scale)

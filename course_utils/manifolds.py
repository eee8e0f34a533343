"""The manifold experiments of notebooks 01–03: the Swiss roll, its embeddings, t-SNE of MNIST.

Every sweep behind a slider is computed once and cached with
:func:`course_utils.results.load_or_compute` (keyed by every setting), so slider moves and
reruns are instant. Scores: trustworthiness, unrolling (R² of the roll parameter regressed on the
embedding: rotation invariant) and k-NN accuracy in the embedding.
"""
from __future__ import annotations

import numpy as np

from . import config, data, results
from .device import one_thread

__all__ = ["SWISS_NEIGHBOURS", "TSNE_PERPLEXITIES", "TSNE_SEEDS", "TSNE_JITTER", "SCORE_NEIGHBOURS", "MAX_SWISS_POINTS",
           "TSNE_PCA_START_VERSION", "swiss_roll", "swiss_roll_tangents",
           "short_circuits", "unrolling_score", "axis_spearman", "embedding_scores", "tsne_pca_start", "run_tsne",
           "swiss_roll_sweep", "swiss_roll_sweeps",
           "swiss_roll_tsne", "mnist_tsne_images", "mnist_tsne_points", "mnist_tsne", "mnist_tsne_sweep"]


def _points(x, name: str, rows: int | None = None) -> np.ndarray:
    """``x`` as a finite float (N, D) numpy array (N = ``rows`` when given), or a ValueError."""
    try:
        a = np.asarray(x.detach().cpu().float() if hasattr(x, "detach") else x, dtype=float)
    except (TypeError, ValueError):
        a = None
    if a is None or a.ndim != 2 or len(a) < 2 or (rows is not None and len(a) != rows):
        want = f"({rows}, D)" if rows is not None else "(N, D) with N >= 2"
        raise ValueError(f"{name} must be points of shape {want}, got {getattr(a, 'shape', type(x).__name__)}")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} must be finite numbers, got NaN or infinity")
    return a


def _vector(v, name: str, rows: int, integer: bool = False) -> np.ndarray:
    """``v`` as a finite (rows,) numpy array (integers with ``integer``), or a ValueError."""
    a = np.asarray(v.detach().cpu() if hasattr(v, "detach") else v)
    kinds = "iu" if integer else "iuf"
    if a.shape != (rows,) or a.dtype.kind not in kinds or (a.dtype.kind == "f" and not np.isfinite(a).all()):
        what = "integers" if integer else "finite numbers"
        raise ValueError(f"{name} must be ({rows},) {what}, got {a.dtype} {a.shape}")
    return a


def _one_of(value, allowed, what):
    if isinstance(value, bool) or value not in allowed:
        raise ValueError(f"{what} must be one of {tuple(allowed)}, got {value!r}")
    return value


#: Neighbour counts of the Isomap / LLE sweep behind the notebook-02 slider.
SWISS_NEIGHBOURS: tuple[int, ...] = (5, 8, 12, 20, 30, 50, 80)
#: Perplexities of the t-SNE runs behind the notebook-03 slider; seeds of the "seeds differ" figure.
TSNE_PERPLEXITIES: tuple[int, ...] = (2, 10, 30, 100)
TSNE_SEEDS: tuple[int, ...] = (0, 1, 2)
#: Neighbours used by every trustworthiness / k-NN score of notebooks 02-03.
SCORE_NEIGHBOURS: int = 10


#: The most points :func:`swiss_roll` draws (the lessons use 1 500; every embedding of them is
#: quadratic in the number of points).
MAX_SWISS_POINTS: int = 100_000


def swiss_roll(n: int | None = None, seed: int = 0):
    """``(X (n, 3) float64, t (n,))``: sklearn's Swiss roll without noise (``make_swiss_roll(n,
    noise=0, random_state=seed)``, the same numbers, drawn here in numpy so that a notebook that
    only needs the roll does not import scikit-learn's 80 MB); ``t`` is the roll parameter (the
    position along the spiral). ``n`` defaults to ``config.size("swiss_roll")`` and is at most
    MAX_SWISS_POINTS; ``seed`` is an integer in 0..2**32 - 1."""
    n = config.size("swiss_roll") if n is None else n
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 20 <= n <= MAX_SWISS_POINTS:
        raise ValueError(f"n must be an integer from 20 to {MAX_SWISS_POINTS}, got {n!r}")
    rng = np.random.RandomState(data.check_seed(seed))  # sklearn's check_random_state(seed)
    t = 1.5 * np.pi * (1 + 2 * rng.uniform(size=int(n)))
    height = 21 * rng.uniform(size=int(n))
    return np.vstack((t * np.cos(t), height, t * np.sin(t))).T, t


def swiss_roll_tangents(t: np.ndarray, std: np.ndarray | None = None) -> np.ndarray:
    """``(n, 2, 3)`` float64: the Swiss roll's tangent plane at roll parameters ``t`` (n,), in closed
    form from its parameterisation x = (t cos t, h, t sin t): rows ∂x/∂t = (cos t − t sin t, 0,
    sin t + t cos t) and ∂x/∂h = (0, 1, 0) (not normalised). With ``std`` (3,), the tangents of
    the standardised roll (x − mean) / std: each coordinate divided by its std (notebook 08)."""
    try:
        t = np.asarray(t, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"t must be an (n,) array of roll parameters (numbers), got {type(t).__name__}") from None
    if t.ndim != 1 or not len(t) or not np.isfinite(t).all():
        raise ValueError(f"t must be a non-empty (n,) array of finite roll parameters, got shape {t.shape}")
    d_t = np.stack([np.cos(t) - t * np.sin(t), np.zeros_like(t), np.sin(t) + t * np.cos(t)], axis=1)
    d_h = np.tile([0.0, 1.0, 0.0], (len(t), 1))
    out = np.stack([d_t, d_h], axis=1)
    if std is not None:
        try:
            std = np.asarray(std, dtype=float)
        except (TypeError, ValueError):
            raise ValueError(f"std must be 3 positive finite numbers, got {std!r}") from None
        if std.shape != (3,) or not np.isfinite(std).all() or not (std > 0).all():
            raise ValueError(f"std must be 3 positive finite numbers, got {std!r}")
        out = out / std
    return out


def short_circuits(x: np.ndarray, t: np.ndarray, n_neighbors: int) -> np.ndarray:
    """Edges ``(i, j)`` of the ``n_neighbors``-nearest-neighbour graph of the Swiss roll ``x`` that
    jump between turns of the roll (roll parameters more than π apart): the short circuits."""
    from sklearn.neighbors import NearestNeighbors

    x = _points(x, "x")
    t = _vector(t, "t", len(x))
    if isinstance(n_neighbors, bool) or not isinstance(n_neighbors, (int, np.integer)) or not 1 <= n_neighbors < len(x):
        raise ValueError(f"n_neighbors must be an integer in 1..{len(x) - 1}, got {n_neighbors!r}")
    idx = NearestNeighbors(n_neighbors=int(n_neighbors) + 1).fit(x).kneighbors(x, return_distance=False)[:, 1:]
    i = np.repeat(np.arange(len(x)), idx.shape[1])
    j = idx.ravel()
    bad = np.abs(t[i] - t[j]) > np.pi
    return np.stack([i[bad], j[bad]], axis=1)


def unrolling_score(emb: np.ndarray, t: np.ndarray) -> float:
    """How well an embedding ``emb`` (N, d) unrolls a manifold with true coordinate ``t`` (N,)
    (notebook 02): R² of the least-squares fit ``t ≈ a + emb @ w`` (with an intercept),
    ``1 - Σ(t - t̂)² / Σ(t - mean t)²``. 1 = ``t`` is a straight coordinate of the picture, 0 = no
    linear trace of it. It equals the largest squared correlation between ``t`` and any direction
    ``emb @ w``, so rotating, reflecting, scaling or shifting the embedding leaves it unchanged."""
    emb = _points(emb, "emb")
    t = _vector(t, "t", len(emb)).astype(float)
    tc = t - t.mean()
    total = float(tc @ tc)
    if total == 0:
        raise ValueError("t must not be constant (an R² needs some variance to explain)")
    e = emb - emb.mean(0)
    coef, *_ = np.linalg.lstsq(e, tc, rcond=None)
    residual = tc - e @ coef
    return float(max(0.0, 1.0 - float(residual @ residual) / total))


def axis_spearman(emb: np.ndarray, t: np.ndarray) -> float:
    """The unrolling score the course used before :func:`unrolling_score`: the larger |Spearman ρ|
    between ``t`` (N,) and one *axis* of ``emb`` (N, d). Kept to show (notebook 02) why it was
    replaced: it depends on how the picture happens to be turned."""
    from scipy.stats import spearmanr

    emb = _points(emb, "emb")
    t = _vector(t, "t", len(emb))
    return float(max(abs(spearmanr(emb[:, a], t)[0]) for a in range(emb.shape[1])))


def embedding_scores(x_high: np.ndarray, emb: np.ndarray, t: np.ndarray | None = None,
                     labels: np.ndarray | None = None) -> dict:
    """Scores of a 2-D embedding ``emb`` of ``x_high``: ``trustworthiness`` (k = SCORE_NEIGHBOURS);
    with ``t``, ``unrolling`` = :func:`unrolling_score` (R² of ``t`` regressed on the embedding); with
    ``labels``, ``knn_accuracy`` = 5-fold cross-validated k-NN accuracy in the embedding."""
    from sklearn.manifold import trustworthiness
    from sklearn.model_selection import cross_val_score
    from sklearn.neighbors import KNeighborsClassifier

    x_high = _points(x_high, "x_high")
    emb = _points(emb, "emb", len(x_high))
    t = None if t is None else _vector(t, "t", len(x_high))
    labels = None if labels is None else _vector(labels, "labels", len(x_high), integer=True)
    out = {"trustworthiness": float(trustworthiness(x_high, emb, n_neighbors=SCORE_NEIGHBOURS))}
    if t is not None:
        out["unrolling"] = unrolling_score(emb, t)
    if labels is not None:
        knn = KNeighborsClassifier(n_neighbors=SCORE_NEIGHBOURS)
        out["knn_accuracy"] = float(cross_val_score(knn, emb, labels, cv=5).mean())
    return out


#: Version of how :func:`run_tsne` starts from PCA, part of every cached t-SNE's key: 2 = the
#: start computed by :func:`tsne_pca_start` (1 was sklearn's own ``init="pca"``, whose PCA took
#: ``random_state`` and so made the result depend on the seed in some scikit-learn versions).
TSNE_PCA_START_VERSION: int = 2


def tsne_pca_start(x: np.ndarray) -> np.ndarray:
    """The PCA start of a 2-D t-SNE of ``x`` (N, D): the projection on the top two principal
    components (exact SVD, each component's sign fixed so its largest loading is positive: the same
    start whatever the seed and the scikit-learn version), scaled as scikit-learn's ``init="pca"``
    scales it (standard deviation of the first column 1e-4). Returns float32 (N, 2). Notebook 03."""
    x = _points(x, "x")
    if x.shape[1] < 2:
        raise ValueError(f"x must have at least 2 columns for a 2-D PCA start, got shape {x.shape}")
    centred = x - x.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    comps = vt[:2]
    biggest = comps[np.arange(2), np.abs(comps).argmax(axis=1)]
    comps = comps * np.where(biggest < 0, -1.0, 1.0)[:, None]
    start = centred @ comps.T
    sd = start[:, 0].std()
    if not sd > 0:
        raise ValueError("x has no spread (all points equal): a PCA start is undefined")
    return (start / sd * 1e-4).astype(np.float32)


def run_tsne(x: np.ndarray, perplexity: float, seed: int, n_iter: int, init: str = "pca"):
    """sklearn's 2-D t-SNE of ``x`` (N, D), fitted on one thread: the fitted ``TSNE`` object
    (``.embedding_`` (N, 2), ``.kl_divergence_``). ``init="pca"`` starts from
    :func:`tsne_pca_start` (passed as an array, so the seed changes nothing); ``"random"``: the seed
    draws the start. ``max_iter`` was ``n_iter`` before scikit-learn 1.5."""
    import inspect

    from sklearn.manifold import TSNE

    x = _points(x, "x")
    if isinstance(perplexity, bool) or not isinstance(perplexity, (int, float)) or not 0 < perplexity < len(x):
        raise ValueError(f"perplexity must be a number in (0, {len(x)}) (below the number of points), got {perplexity!r}")
    seed = data.check_seed(seed)
    if isinstance(n_iter, bool) or not isinstance(n_iter, int) or not 250 <= n_iter <= 100_000:
        raise ValueError(f"n_iter must be an integer from 250 to 100000, got {n_iter!r}")
    _one_of(init, ("pca", "random"), "init")
    start = tsne_pca_start(x) if init == "pca" else "random"
    key = "max_iter" if "max_iter" in inspect.signature(TSNE).parameters else "n_iter"
    with one_thread():
        return TSNE(n_components=2, perplexity=perplexity, init=start, learning_rate="auto",
                    random_state=seed, **{key: n_iter}).fit(x)


def swiss_roll_sweep(method: str = "isomap") -> dict:
    """Isomap or LLE embeddings of :func:`swiss_roll` for every neighbour count in SWISS_NEIGHBOURS,
    cached: ``{"neighbours" (K,), "embeddings" (K, n, 2), "trustworthiness" (K,), "unrolling" (K,),
    "short_circuits" (K,)}``."""
    from sklearn.manifold import Isomap, LocallyLinearEmbedding

    _one_of(method, ("isomap", "lle"), "method")
    n = config.size("swiss_roll")
    cfg = {"method": method, "n": n, "seed": 0, "neighbours": list(SWISS_NEIGHBOURS),
           "score_neighbours": SCORE_NEIGHBOURS, "unrolling": "r2_linear"}

    def compute():
        x, t = swiss_roll(n)
        embs, trust, rho, short = [], [], [], []
        for k in SWISS_NEIGHBOURS:
            with one_thread():
                if method == "isomap":
                    e = Isomap(n_neighbors=k, n_components=2).fit_transform(x)
                else:
                    e = LocallyLinearEmbedding(n_neighbors=k, n_components=2,
                                               random_state=0).fit_transform(x)
            s = embedding_scores(x, e, t)
            embs.append(e); trust.append(s["trustworthiness"]); rho.append(s["unrolling"])
            short.append(len(short_circuits(x, t, k)))
        return {"neighbours": np.array(SWISS_NEIGHBOURS), "embeddings": np.stack(embs),
                "trustworthiness": np.array(trust), "unrolling": np.array(rho),
                "short_circuits": np.array(short)}

    return results.load_or_compute(f"swiss_{method}", compute, cfg)


def swiss_roll_sweeps() -> dict:
    """``{"isomap": swiss_roll_sweep("isomap"), "lle": swiss_roll_sweep("lle")}`` (for ``prepare``)."""
    return {m: swiss_roll_sweep(m) for m in ("isomap", "lle")}


def swiss_roll_tsne(perplexity: int = 30) -> np.ndarray:
    """t-SNE (PCA init, seed 0) of :func:`swiss_roll`, cached: an (n, 2) array."""
    n = config.size("swiss_roll")
    cfg = {"n": n, "seed": 0, "perplexity": perplexity, "iterations": config.size("tsne_iterations"),
           "init": "pca", "pca_start": TSNE_PCA_START_VERSION}
    return results.load_or_compute(
        "swiss_tsne", lambda: run_tsne(swiss_roll(n)[0], perplexity, 0, cfg["iterations"]).embedding_, cfg)


def mnist_tsne_images(seed: int = 0):
    """``(x (n, 784) tensor, y (n,) tensor)``: the ``config.size("tsne_points")`` class-balanced
    MNIST test images that the t-SNE maps of notebooks 03 and 04 show (n = that size)."""
    return data.load_mnist("test", n=config.size("tsne_points"), seed=seed)


def mnist_tsne_points(seed: int = 0):
    """``(x50, y)``: :func:`mnist_tsne_images` projected on their top 50 principal components
    (numpy (n, 50)), and their labels (numpy (n,)): what t-SNE sees in notebook 03."""
    from sklearn.decomposition import PCA

    x, y = mnist_tsne_images(seed)
    return PCA(n_components=50, random_state=0).fit_transform(x.numpy()), y.numpy()


def mnist_tsne(perplexity: int = 30, seed: int = 0, init: str = "pca", jitter: float = 0.0) -> dict:
    """t-SNE of :func:`mnist_tsne_points`, cached per perplexity, seed and initialisation
    (``"pca"``: reproducible whatever the seed; ``"random"``: the seed picks the start):
    ``{"embedding" (n, 2), "labels" (n,), "kl_divergence", "trustworthiness", "knn_accuracy"}``.
    ``jitter`` > 0 first adds Gaussian noise of ``jitter`` × the points' standard deviation (noise seed
    0): notebook 03's reference for how much a practically identical input moves the map."""
    _one_of(init, ("pca", "random"), "init")
    if isinstance(perplexity, bool) or not isinstance(perplexity, (int, float)) or not 1 <= perplexity < 1000:
        raise ValueError(f"perplexity must be a number in [1, 1000), got {perplexity!r}")
    if isinstance(jitter, bool) or not isinstance(jitter, (int, float)) or not 0 <= jitter <= 1:
        raise ValueError(f"jitter must be a number in [0, 1] (a fraction of the points' spread), got {jitter!r}")
    seed = data.check_seed(seed)
    n = config.size("tsne_points")
    cfg = {"n": n, "data_seed": 0, "pca": 50, "perplexity": perplexity, "seed": seed, "init": init,
           "iterations": config.size("tsne_iterations"), "score_neighbours": SCORE_NEIGHBOURS}
    if init == "pca":
        cfg["pca_start"] = TSNE_PCA_START_VERSION
    if jitter:
        cfg["jitter"] = float(jitter)          # only when set: the plain runs keep their cache keys

    def compute():
        x50, y = mnist_tsne_points()
        if jitter:
            x50 = x50 + jitter * x50.std() * np.random.default_rng(0).standard_normal(x50.shape)
        ts = run_tsne(x50, perplexity, seed, cfg["iterations"], init)
        return {"embedding": ts.embedding_, "labels": y, "kl_divergence": float(ts.kl_divergence_),
                **embedding_scores(x50, ts.embedding_, labels=y)}

    return results.load_or_compute("mnist_tsne", compute, cfg)


#: Relative size of the nudge to the data behind notebook 03's reference run (see :func:`mnist_tsne`).
TSNE_JITTER: float = 1e-6


def mnist_tsne_sweep() -> dict:
    """``{perplexity: mnist_tsne(perplexity)}`` for TSNE_PERPLEXITIES (PCA init), after computing the
    random-init runs of TSNE_SEEDS (and the nudged twin of seed 0) at perplexity 30 too (all cached: slider and reruns are instant)."""
    for s in TSNE_SEEDS:
        mnist_tsne(30, s, "random")
    mnist_tsne(30, 1)  # notebook 03: with a PCA start the seed changes nothing
    mnist_tsne(30, 0, "random", jitter=TSNE_JITTER)   # notebook 03: a practically identical input
    return {p: mnist_tsne(p) for p in TSNE_PERPLEXITIES}

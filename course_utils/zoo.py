"""The trained models the course shares: notebooks, widgets, ``prepare`` and benchmarks.

Each function returns models through :func:`course_utils.checkpoints.load_or_train` with a full
configuration (sizes from :mod:`course_utils.config`), so they are trained once and then load in
milliseconds — in a rerun, behind a slider, or after ``python -m course_utils.prepare`` before a talk.

Contract with ``prepare`` (tested in tests/test_delivery.py): ``python -m course_utils.prepare``
calls every public function defined in this module (name not starting with ``_``) that can be
called with NO arguments, in source order — or exactly the functions in a list ``PREPARE = [...]``
if this module defines one. So a widget-model function must take no required arguments (give
every argument a default; the defaults are what the widgets use). Public functions that need
arguments are skipped and listed as skipped; keep expensive work reachable from a no-argument one.
"""
from __future__ import annotations

import numpy as np
import torch

from . import checkpoints, config, data, models, training  # noqa: F401
from .compression import principal_axes


# --- notebooks 01-03: curse of dimensionality, manifolds, t-SNE -------------------------------

#: Neighbour counts of the Isomap / LLE sweep behind the notebook-02 slider.
SWISS_NEIGHBOURS: tuple[int, ...] = (5, 8, 12, 20, 30, 50, 80)
#: Perplexities of the t-SNE runs behind the notebook-03 slider; seeds of the "seeds differ" figure.
TSNE_PERPLEXITIES: tuple[int, ...] = (2, 10, 30, 100)
TSNE_SEEDS: tuple[int, ...] = (0, 1, 2)
#: Neighbours used by every trustworthiness / k-NN score of notebooks 02-03.
SCORE_NEIGHBOURS: int = 10


class _one_thread:
    """Run small scikit-learn / PyTorch jobs on one thread. t-SNE, Isomap, LLE and a tiny network are
    dominated by thread synchronisation: on a busy 2-core machine one thread was 10x faster."""

    def __enter__(self):
        from threadpoolctl import threadpool_limits

        self._limits = threadpool_limits(limits=1)
        self._torch = torch.get_num_threads()
        torch.set_num_threads(1)
        return self

    def __exit__(self, *exc):
        torch.set_num_threads(self._torch)
        self._limits.restore_original_limits()
        return False


def _choice(value, allowed, what):
    if isinstance(value, bool) or value not in allowed:
        raise ValueError(f"{what} must be one of {tuple(allowed)}, got {value!r}")
    return value


def swiss_roll(n: int | None = None, seed: int = 0):
    """``(X (n, 3) float64, t (n,))``: sklearn's Swiss roll without noise; ``t`` is the roll
    parameter (the position along the spiral). ``n`` defaults to ``config.size("swiss_roll")``."""
    from sklearn.datasets import make_swiss_roll

    n = config.size("swiss_roll") if n is None else n
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 20:
        raise ValueError(f"n must be an integer >= 20, got {n!r}")
    x, t = make_swiss_roll(int(n), noise=0.0, random_state=seed)
    return x, t


def short_circuits(x: np.ndarray, t: np.ndarray, n_neighbors: int) -> np.ndarray:
    """Edges ``(i, j)`` of the ``n_neighbors``-nearest-neighbour graph of the Swiss roll ``x`` that
    jump between turns of the roll (roll parameters more than π apart): the short circuits."""
    from sklearn.neighbors import NearestNeighbors

    x, t = np.asarray(x), np.asarray(t)
    if x.ndim != 2 or t.shape != (len(x),):
        raise ValueError(f"x must be (N, D) and t (N,), got {x.shape} and {t.shape}")
    if isinstance(n_neighbors, bool) or not isinstance(n_neighbors, (int, np.integer)) or not 1 <= n_neighbors < len(x):
        raise ValueError(f"n_neighbors must be an integer in 1..{len(x) - 1}, got {n_neighbors!r}")
    idx = NearestNeighbors(n_neighbors=int(n_neighbors) + 1).fit(x).kneighbors(x, return_distance=False)[:, 1:]
    i = np.repeat(np.arange(len(x)), idx.shape[1])
    j = idx.ravel()
    bad = np.abs(t[i] - t[j]) > np.pi
    return np.stack([i[bad], j[bad]], axis=1)


def embedding_scores(x_high: np.ndarray, emb: np.ndarray, t: np.ndarray | None = None,
                     labels: np.ndarray | None = None) -> dict:
    """Scores of a 2-D embedding ``emb`` of ``x_high``: ``trustworthiness`` (k = SCORE_NEIGHBOURS);
    with ``t``, ``spearman`` = the larger |Spearman ρ| between an embedding axis and ``t``; with
    ``labels``, ``knn_accuracy`` = 5-fold cross-validated k-NN accuracy in the embedding."""
    from scipy.stats import spearmanr
    from sklearn.manifold import trustworthiness
    from sklearn.model_selection import cross_val_score
    from sklearn.neighbors import KNeighborsClassifier

    x_high, emb = np.asarray(x_high), np.asarray(emb)
    if emb.ndim != 2 or len(emb) != len(x_high):
        raise ValueError(f"emb must be (N, 2) for N = {len(x_high)} points, got {emb.shape}")
    out = {"trustworthiness": float(trustworthiness(x_high, emb, n_neighbors=SCORE_NEIGHBOURS))}
    if t is not None:
        out["spearman"] = float(max(abs(spearmanr(emb[:, a], t)[0]) for a in range(emb.shape[1])))
    if labels is not None:
        knn = KNeighborsClassifier(n_neighbors=SCORE_NEIGHBOURS)
        out["knn_accuracy"] = float(cross_val_score(knn, emb, np.asarray(labels), cv=5).mean())
    return out


def _tsne(x: np.ndarray, perplexity: float, seed: int, n_iter: int, init: str = "pca"):
    """sklearn's t-SNE (``max_iter`` was called ``n_iter`` before scikit-learn 1.5)."""
    import inspect

    from sklearn.manifold import TSNE

    key = "max_iter" if "max_iter" in inspect.signature(TSNE).parameters else "n_iter"
    with _one_thread():
        return TSNE(n_components=2, perplexity=perplexity, init=init, learning_rate="auto",
                    random_state=seed, **{key: n_iter}).fit(x)


def swiss_roll_sweep(method: str = "isomap") -> dict:
    """Isomap or LLE embeddings of :func:`swiss_roll` for every neighbour count in SWISS_NEIGHBOURS,
    cached: ``{"neighbours" (K,), "embeddings" (K, n, 2), "trustworthiness" (K,), "spearman" (K,),
    "short_circuits" (K,)}``."""
    from sklearn.manifold import Isomap, LocallyLinearEmbedding

    _choice(method, ("isomap", "lle"), "method")
    n = config.size("swiss_roll")
    cfg = {"method": method, "n": n, "seed": 0, "neighbours": list(SWISS_NEIGHBOURS),
           "score_neighbours": SCORE_NEIGHBOURS}

    def compute():
        x, t = swiss_roll(n)
        embs, trust, rho, short = [], [], [], []
        for k in SWISS_NEIGHBOURS:
            with _one_thread():
                if method == "isomap":
                    e = Isomap(n_neighbors=k, n_components=2).fit_transform(x)
                else:
                    e = LocallyLinearEmbedding(n_neighbors=k, n_components=2,
                                               random_state=0).fit_transform(x)
            s = embedding_scores(x, e, t)
            embs.append(e); trust.append(s["trustworthiness"]); rho.append(s["spearman"])
            short.append(len(short_circuits(x, t, k)))
        return {"neighbours": np.array(SWISS_NEIGHBOURS), "embeddings": np.stack(embs),
                "trustworthiness": np.array(trust), "spearman": np.array(rho),
                "short_circuits": np.array(short)}

    return checkpoints.load_or_compute(f"swiss_{method}", compute, cfg)


def swiss_roll_sweeps() -> dict:
    """``{"isomap": swiss_roll_sweep("isomap"), "lle": swiss_roll_sweep("lle")}`` (for ``prepare``)."""
    return {m: swiss_roll_sweep(m) for m in ("isomap", "lle")}


def swiss_roll_tsne(perplexity: int = 30) -> np.ndarray:
    """t-SNE (PCA init, seed 0) of :func:`swiss_roll`, cached: an (n, 2) array."""
    n = config.size("swiss_roll")
    cfg = {"n": n, "seed": 0, "perplexity": perplexity, "iterations": config.size("tsne_iterations"),
           "init": "pca"}
    return checkpoints.load_or_compute(
        "swiss_tsne", lambda: _tsne(swiss_roll(n)[0], perplexity, 0, cfg["iterations"]).embedding_, cfg)


def swiss_roll_autoencoder(progress: bool = False):
    """``(model, info)``: a small autoencoder 3-64-64-2-64-64-3 (tanh, linear code and output)
    trained on the standardised :func:`swiss_roll`; ``info["mean"]``/``info["std"]`` standardise."""
    n = config.size("swiss_roll")
    cfg = {"sizes": [3, 64, 64, 2], "hidden_activation": "tanh", "code_activation": None,
           "output_activation": None, "n": n, "data_seed": 0, "init_seed": 0, "seed": 0,
           "epochs": config.size("swiss_ae_epochs"), "batch_size": 100, "lr": 3e-3, "loss": "mse"}

    def build():
        torch.manual_seed(cfg["init_seed"])
        return models.Autoencoder(cfg["sizes"], hidden_activation="tanh", code_activation=None,
                                  output_activation=None)

    def train(model):
        x, _ = swiss_roll(n)
        mean, std = x.mean(0), x.std(0)
        xs = torch.as_tensor((x - mean) / std, dtype=torch.float32)
        with _one_thread():  # a 9k-parameter network: one CPU thread is fastest
            h = training.fit(model, xs, epochs=cfg["epochs"], batch_size=cfg["batch_size"],
                             lr=cfg["lr"], seed=cfg["seed"], progress=progress, device="cpu")
        return {**h.as_dict(), "mean": mean.tolist(), "std": std.tolist()}

    model, info = checkpoints.load_or_train("swiss_ae", build, train, cfg)
    return model.cpu().eval(), info


def mnist_tsne_points(seed: int = 0):
    """``(x50, y)``: the ``config.size("tsne_points")`` class-balanced MNIST test images of the
    t-SNE lessons (03 and 04), projected on their top 50 principal components, and their labels."""
    from sklearn.decomposition import PCA

    x, y = data.load_mnist("test", n=config.size("tsne_points"), seed=seed)
    return PCA(n_components=50, random_state=0).fit_transform(x.numpy()), y.numpy()


def mnist_tsne(perplexity: int = 30, seed: int = 0, init: str = "pca") -> dict:
    """t-SNE of :func:`mnist_tsne_points`, cached per perplexity, seed and initialisation
    (``"pca"``: reproducible whatever the seed; ``"random"``: the seed picks the start):
    ``{"embedding" (n, 2), "labels" (n,), "kl_divergence", "trustworthiness", "knn_accuracy"}``."""
    _choice(init, ("pca", "random"), "init")
    if isinstance(perplexity, bool) or not isinstance(perplexity, (int, float)) or not 1 <= perplexity < 1000:
        raise ValueError(f"perplexity must be a number in [1, 1000), got {perplexity!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed must be an integer, got {seed!r}")
    n = config.size("tsne_points")
    cfg = {"n": n, "data_seed": 0, "pca": 50, "perplexity": perplexity, "seed": seed, "init": init,
           "iterations": config.size("tsne_iterations"), "score_neighbours": SCORE_NEIGHBOURS}

    def compute():
        x50, y = mnist_tsne_points()
        ts = _tsne(x50, perplexity, seed, cfg["iterations"], init)
        return {"embedding": ts.embedding_, "labels": y, "kl_divergence": float(ts.kl_divergence_),
                **embedding_scores(x50, ts.embedding_, labels=y)}

    return checkpoints.load_or_compute("mnist_tsne", compute, cfg)


def mnist_tsne_sweep() -> dict:
    """``{perplexity: mnist_tsne(perplexity)}`` for TSNE_PERPLEXITIES (PCA init), after computing the
    random-init runs of TSNE_SEEDS at perplexity 30 too (all cached: slider and reruns are instant)."""
    for s in TSNE_SEEDS:
        mnist_tsne(30, s, "random")
    mnist_tsne(30, 1)  # notebook 03: with a PCA start the seed changes nothing
    return {p: mnist_tsne(p) for p in TSNE_PERPLEXITIES}


# --- notebook 04: autoencoder (latent-size widget) -------------------------------------------

#: Code sizes of the latent-size family (the notebook-04 slider moves over these).
LATENT_SIZES: tuple[int, ...] = (2, 4, 8, 16, 32, 64)
#: Architecture and training of every member of the family (sizes from config at call time).
LATENT_HIDDEN: tuple[int, ...] = (256,)
LATENT_LR: float = 2e-3
LATENT_BATCH: int = 128


def _check_code_sizes(sizes) -> tuple[int, ...]:
    if sizes is None:
        return LATENT_SIZES
    try:
        sizes = tuple(sizes)
    except TypeError:
        raise ValueError(f"sizes must be a sequence of code sizes from {LATENT_SIZES}, got {sizes!r}") from None
    bad = [s for s in sizes if isinstance(s, bool) or s not in LATENT_SIZES]
    if not sizes or bad:
        raise ValueError(f"sizes must be a non-empty sequence of code sizes from {LATENT_SIZES}, got {sizes!r}")
    return sizes


def mnist_split(seed: int = 0):
    """The lessons' MNIST subsets: ``(x_train, y_train, x_test, y_test)`` with
    ``config.size("mnist_train")`` / ``config.size("mnist_test")`` class-balanced images."""
    x, y = data.load_mnist("train", n=config.size("mnist_train"), seed=seed)
    return (x, y, *mnist_test(seed))


def mnist_test(seed: int = 0):
    """``(x_test, y_test)``: the test part of :func:`mnist_split`, without loading the training images."""
    return data.load_mnist("test", n=config.size("mnist_test"), seed=seed)


def _split_images(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x_train, x_test)`` of :func:`mnist_split` for the zoo's own training and fitting, which
    only read them: the notebook's own ``x_train`` when it holds an unchanged one
    (:func:`data.shared_images`), so that training a model does not need a second copy."""
    return (data.shared_images("train", n=config.size("mnist_train"), seed=seed),
            data.shared_images("test", n=config.size("mnist_test"), seed=seed))


def latent_config(code_size: int) -> dict:
    """The full configuration (every setting) of the latent-family model with ``code_size``."""
    (code_size,) = _check_code_sizes([code_size])
    return {
        "model": "autoencoder", "code_size": code_size, "hidden": list(LATENT_HIDDEN),
        "hidden_activation": "relu", "code_activation": None, "output_activation": "sigmoid",
        "init": "kaiming", "init_seed": 0, "loss": "mse", "optimizer": "adam", "lr": LATENT_LR,
        "batch_size": LATENT_BATCH, "epochs": config.size("ae_epochs"),
        "n_train": config.size("mnist_train"), "n_test": config.size("mnist_test"),
        "data_seed": 0, "seed": 0,
    }


def latent_model(code_size: int, progress: bool = False):
    """``(model, info)``: the ReLU autoencoder 784-256-``code_size``-256-784 of the family,
    trained once on ``config.size("mnist_train")`` images and then loaded from the cache.
    ``info["test_mse"][-1]`` is its test error (mean squared error per pixel)."""
    cfg = latent_config(code_size)

    def build():
        torch.manual_seed(cfg["init_seed"])
        return models.autoencoder(code_size, hidden=LATENT_HIDDEN)

    def train(model):
        x, xt = _split_images(cfg["data_seed"])
        return training.fit(model, x, epochs=cfg["epochs"], batch_size=cfg["batch_size"],
                            lr=cfg["lr"], x_test=xt, seed=cfg["seed"], progress=progress)

    model, info = checkpoints.load_or_train(f"latent{code_size}", build, train, cfg)
    return model.cpu().eval(), info


def latent_models(sizes=None, progress: bool = False) -> dict:
    """``{code_size: Autoencoder}`` for the latent-size family (default: all of LATENT_SIZES)."""
    return {k: latent_model(k, progress)[0] for k in _check_code_sizes(sizes)}


def pca_fit(n_train: int | None = None, seed: int = 0) -> dict:
    """PCA of the training images, cached: ``{"mean" (784,), "components" (784, 784) columns
    sorted by variance, "eigenvalues" (784,)}`` (eigenvalues of the covariance, biased, 1/N)."""
    n = config.size("mnist_train") if n_train is None else n_train
    if isinstance(n, bool) or not isinstance(n, int) or not 1 < n <= 60_000:
        raise ValueError(f"n_train must be an integer in 2..60000, got {n_train!r}")

    def compute():
        x = data.shared_images("train", n=n, seed=seed)
        mean, axes, variances = principal_axes(x, with_variances=True)
        return {"mean": mean, "components": axes, "eigenvalues": variances}

    return checkpoints.load_or_compute("pca", compute, {"n_train": n, "data_seed": seed, "method": "eigh-f64"})


def pca_reconstruct(x: torch.Tensor, k: int, pca: dict | None = None) -> torch.Tensor:
    """Project images (N, 784) onto the top-``k`` principal subspace and back."""
    training.check_images(x, "x", 784)
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= 784:
        raise ValueError(f"k must be an integer in 1..784, got {k!r}")
    p = pca_fit() if pca is None else pca
    mean = torch.as_tensor(p["mean"]).to(x)
    v = torch.as_tensor(p["components"][:, :k]).to(x)
    return (x - mean) @ v @ v.T + mean


def pca_mse(x: torch.Tensor, k: int, pca: dict | None = None, batch_size: int = 5000) -> float:
    """Mean squared error per pixel of :func:`pca_reconstruct` on images (N, 784), computed batch
    by batch (sums in float64), so that 60 000 images need no full-size temporaries."""
    training.check_images(x, "x", 784)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    p = pca_fit() if pca is None else pca
    total = 0.0
    for i in range(0, len(x), batch_size):
        xb = x[i:i + batch_size]
        total += float(((pca_reconstruct(xb, k, p) - xb) ** 2).sum(dtype=torch.float64))
    return total / x.numel()


def latent_curve(sizes=None) -> dict:
    """Test error (MSE per pixel) against code size for the autoencoder family and for PCA:
    ``{"sizes", "ae_test_mse", "pca_test_mse"}`` as arrays. Uses (or trains once) the family."""
    sizes = _check_code_sizes(sizes)
    infos = [latent_model(k)[1] for k in sizes]
    ae = [info["test_mse"][-1] for info in infos]
    cfg = {"sizes": list(sizes), "n_train": config.size("mnist_train"),
           "n_test": config.size("mnist_test"), "data_seed": 0}

    def compute():
        xt, _ = mnist_test()
        p = pca_fit()
        return {"pca_test_mse": np.array([pca_mse(xt, k, p) for k in sizes])}

    pca = checkpoints.load_or_compute("pca_curve", compute, cfg)
    return {"sizes": np.array(sizes), "ae_test_mse": np.array(ae), "pca_test_mse": pca["pca_test_mse"]}


# --- notebook 05: stacked autoencoder ---------------------------------------------------------

# --- notebook 06: denoising autoencoder (noise widget) -----------------------------------------

#: The seminar's corruption: input = image + 0.3·N(0, 1) (not clipped), target = the clean image.
DAE_SIGMA: float = 0.3
#: Masking level of the DAE trained on masking noise (each pixel set to 0 with this probability).
DAE_MASKING: float = 0.5
#: The seminar's batch size and the seed of every noisy test copy.
DAE_BATCH: int = 300
DAE_EVAL_SEED: int = 1
#: The repair, one change per row, each row keeping every change above it:
#: ``name -> (label, Autoencoder settings, Adam learning rate)``. Row 0 is the seminar exactly.
DAE_STEPS: dict[str, tuple[str, dict, float]] = {
    "seminar": ("seminar: N(0,1) init, sigmoid, Adam 0.01",
                dict(hidden_activation="sigmoid", code_activation="sigmoid", init="normal"), 0.01),
    "xavier": ("+ Xavier initialisation",
               dict(hidden_activation="sigmoid", code_activation="sigmoid", init="xavier"), 0.01),
    "relu": ("+ ReLU hidden activations",
             dict(hidden_activation="relu", code_activation="relu", init="xavier"), 0.01),
    "lr": ("+ learning rate 0.003",
           dict(hidden_activation="relu", code_activation="relu", init="xavier"), 0.003),
}
#: The row whose model is "the fixed DAE" of notebook 06, its widget and the benchmarks.
DAE_FIXED: str = "lr"


def _dae_noise_spec(kind: str, level: float) -> dict:
    _choice(kind, data.NOISE_KINDS, "noise kind")
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 <= level <= 1:
        raise ValueError(f"noise level must be a number in [0, 1], got {level!r}")
    return {"kind": kind, "level": float(level)}


def dae_config(step: str = "seminar", kind: str = "gaussian", level: float = DAE_SIGMA) -> dict:
    """The full configuration of the notebook-06 DAE of row ``step`` of DAE_STEPS, trained on
    ``kind`` noise at ``level`` (784-512-256-512-784, sigmoid output, MSE, batch 300)."""
    _choice(step, tuple(DAE_STEPS), "step")
    _, arch, lr = DAE_STEPS[step]
    return {"model": "seminar_dae_shape", "sizes": [784, 512, 256], **arch,
            "output_activation": "sigmoid", "init_seed": 0, "loss": "mse", "optimizer": "adam",
            "lr": lr, "batch_size": DAE_BATCH, "noise": _dae_noise_spec(kind, level),
            "epochs": config.size("dae_epochs"), "n_train": config.size("mnist_train"),
            "n_test": config.size("mnist_test"), "data_seed": 0, "seed": 0}


def dae_model(step: str = "seminar", kind: str = "gaussian", level: float = DAE_SIGMA,
              progress: bool = False):
    """``(model, info)``: the DAE of :func:`dae_config`, trained once, then loaded from the cache
    (on the CPU, in eval mode). ``info`` is the training History as a dict (``test_mse`` per epoch,
    ``samples_per_sec``, ``seconds``) plus ``cached``."""
    cfg = dae_config(step, kind, level)

    def build():
        torch.manual_seed(cfg["init_seed"])
        return models.Autoencoder(cfg["sizes"], hidden_activation=cfg["hidden_activation"],
                                  code_activation=cfg["code_activation"],
                                  output_activation=cfg["output_activation"], init=cfg["init"])

    def train(model):
        x, xt = _split_images(cfg["data_seed"])
        return training.fit(model, x, epochs=cfg["epochs"], batch_size=cfg["batch_size"], lr=cfg["lr"],
                            noise=cfg["noise"], x_test=xt, seed=cfg["seed"], progress=progress)

    model, info = checkpoints.load_or_train(f"dae_{step}", build, train, cfg)
    return model.cpu().eval(), info


def dae_steps() -> dict:
    """``{step: (model, info)}`` for every row of DAE_STEPS (Gaussian noise, σ = DAE_SIGMA)."""
    return {step: dae_model(step) for step in DAE_STEPS}


def noisy_test(kind: str = "gaussian", level: float = DAE_SIGMA, n: int | None = None) -> tuple:
    """``(clean, noisy)``: the first ``n`` (default all ``config.size("mnist_test")``) lesson test
    images and one fixed corrupted copy (seed DAE_EVAL_SEED) — every error of notebook 06 is
    measured on it, so all methods see the same noise."""
    spec = _dae_noise_spec(kind, level)
    xt, _ = mnist_test()
    if n is not None:
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= len(xt):
            raise ValueError(f"n must be an integer in 1..{len(xt)}, got {n!r}")
        xt = xt[:n]
    g = torch.Generator().manual_seed(DAE_EVAL_SEED)
    return xt, data.add_noise(xt, generator=g, **spec)


class PCADenoiser:
    """Project a (noisy) image on the top ``k`` principal components of clean training images,
    then clip to [0, 1]: the classical linear denoiser the DAE must beat."""

    def __init__(self, mean, components, k: int):
        self.mean = torch.as_tensor(np.asarray(mean), dtype=torch.float32)
        self.components = torch.as_tensor(np.asarray(components), dtype=torch.float32)
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= len(self.components):
            raise ValueError(f"k must be an integer in 1..{len(self.components)}, got {k!r}")
        self.k = int(k)

    def __call__(self, x: torch.Tensor, k: int | None = None) -> torch.Tensor:
        training.check_images(x, "x", 784)
        k = self.k if k is None else k
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= len(self.components):
            raise ValueError(f"k must be an integer in 1..{len(self.components)}, got {k!r}")
        v = self.components[:k]
        return ((x.float() - self.mean) @ v.T @ v + self.mean).clamp(0, 1)


#: Component counts tried when choosing PCA's k on held-out images.
PCA_DENOISE_KS: tuple[int, ...] = (5, 10, 15, 20, 25, 30, 40, 50, 60, 70, 80, 90, 100, 120, 140,
                                   160, 200, 250, 300)


def pca_denoiser(kind: str = "gaussian", level: float = DAE_SIGMA) -> PCADenoiser:
    """PCA denoising with the best k, chosen on held-out images: PCA is fitted on the clean
    training images minus the last ``config.size("dae_val")``; those are corrupted with ``kind``
    noise at ``level`` and k is the count (of PCA_DENOISE_KS) with the lowest error on them. The
    test images are never looked at. ``.val_mse`` holds the validation curve over PCA_DENOISE_KS."""
    spec = _dae_noise_spec(kind, level)
    n_val = config.size("dae_val")
    cfg = {"n_train": config.size("mnist_train"), "n_val": n_val, "data_seed": 0, "noise": spec,
           "val_seed": 2, "ks": list(PCA_DENOISE_KS), "clip": True}

    def compute():
        x = data.shared_images("train", n=config.size("mnist_train"), seed=cfg["data_seed"])
        fit_x, val = x[:-n_val], x[-n_val:]
        mean, axes = principal_axes(fit_x, max(PCA_DENOISE_KS))
        comps = axes.T.contiguous()  # PCADenoiser keeps components as rows
        den = PCADenoiser(mean, comps, 1)
        val_noisy = data.add_noise(val, generator=torch.Generator().manual_seed(cfg["val_seed"]), **spec)
        val_mse = np.array([float(((den(val_noisy, k) - val) ** 2).mean()) for k in PCA_DENOISE_KS])
        return {"mean": mean, "components": comps, "val_mse": val_mse,
                "k": int(PCA_DENOISE_KS[int(np.argmin(val_mse))])}

    r = checkpoints.load_or_compute("pca_denoiser", compute, cfg)
    den = PCADenoiser(r["mean"], r["components"], int(r["k"]))
    den.val_mse, den.ks = np.asarray(r["val_mse"]), np.array(PCA_DENOISE_KS)
    return den


def denoisers() -> dict:
    """The notebook-06 denoisers behind the noise widget and the benchmarks, trained or fitted
    once and cached: ``{"seminar": the seminar's DAE exactly, "fixed": the repaired DAE
    (row DAE_FIXED), "masking": the repaired DAE trained on masking noise (DAE_MASKING),
    "pca": PCADenoiser with k chosen on held-out images at σ = DAE_SIGMA}``."""
    return {"seminar": dae_model("seminar")[0], "fixed": dae_model(DAE_FIXED)[0],
            "masking": dae_model(DAE_FIXED, "masking", DAE_MASKING)[0], "pca": pca_denoiser()}


# --- notebook 07: applications ---------------------------------------------------------------

#: Bits per code value of the quantized autoencoders (the notebook-07 slider moves over these).
COMPRESSION_BITS: tuple[int, ...] = config.pick((1, 2, 3, 4, 6, 8), (1, 2, 4, 8))
#: Architecture and training of every quantized autoencoder (notebook 07).
COMPRESSION_LATENT: int = 32
COMPRESSION_HIDDEN: tuple[int, ...] = (256,)
COMPRESSION_LR: float = 5e-3
COMPRESSION_BATCH: int = 32
#: Baselines of the rate–distortion comparison: PCA (components × bits) and JPEG qualities.
PCA_COMPONENTS: tuple[int, ...] = (2, 4, 8, 16, 32, 64, 128)
PCA_BITS: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 8)
JPEG_QUALITIES: tuple[int, ...] = (1, 3, 5, 10, 20, 30, 50, 75, 95)
#: Labelled-image counts of the linear probe (notebook 07) and the probe's features.
PROBE_LABELS: tuple[int, ...] = config.pick((10, 30, 100, 300, 1000), (10, 100, 1000))
PROBE_FEATURES: tuple[str, ...] = ("pixels", "PCA", "autoencoder")
PROBE_CODE_SIZE: int = 32


def _check_bits(bits) -> int:
    if isinstance(bits, bool) or bits not in COMPRESSION_BITS:
        raise ValueError(f"bits must be one of {COMPRESSION_BITS}, got {bits!r}")
    return int(bits)


def compression_config(bits: int) -> dict:
    """The full configuration of the quantized autoencoder with ``bits`` bits per code value."""
    bits = _check_bits(bits)
    return {
        "model": "quantized_autoencoder", "bits": bits, "latent": COMPRESSION_LATENT,
        "hidden": list(COMPRESSION_HIDDEN), "quantizer": "round-straight-through",
        "code_activation": "sigmoid", "init": "kaiming", "init_seed": 0, "loss": "mse",
        "optimizer": "adam", "lr": COMPRESSION_LR, "batch_size": COMPRESSION_BATCH,
        "epochs": config.size("compress_epochs"), "n_train": config.size("mnist_train"),
        "data_seed": 0, "seed": 0,
    }


def compression_model(bits: int, progress: bool = False):
    """``(model, info)``: the autoencoder 784-256-32-256-784 whose sigmoid code is rounded to
    ``bits`` bits per value during training (straight-through gradient) and use; cached."""
    from . import compression

    cfg = compression_config(bits)

    def build():
        torch.manual_seed(cfg["init_seed"])
        return compression.QuantizedAutoencoder(cfg["latent"], bits, hidden=COMPRESSION_HIDDEN)

    def train(model):
        x = data.shared_images("train", n=cfg["n_train"], seed=cfg["data_seed"])
        return training.fit(model, x, epochs=cfg["epochs"], batch_size=cfg["batch_size"],
                            lr=cfg["lr"], seed=cfg["seed"], progress=progress)

    model, info = checkpoints.load_or_train(f"quantized{bits}", build, train, cfg)
    return model.cpu().eval(), info


def compression_models(progress: bool = False) -> dict:
    """``{bits: QuantizedAutoencoder}`` for every bit depth of COMPRESSION_BITS."""
    return {b: compression_model(b, progress)[0] for b in COMPRESSION_BITS}


def compression_test_images():
    """The test digits every codec of notebook 07 is measured on (``config.size("compress_test")``)."""
    return data.load_mnist("test", n=config.size("compress_test"), seed=0)


def compression_curve() -> dict:
    """The rate–distortion comparison of notebook 07, computed once and cached.

    On the same ``compress_test`` digits: for each quantized autoencoder (``ae_*``, one entry per
    bit depth) the fixed length ``latent × bits``, the arithmetic-coder size with a table fitted on
    the training codes (``ae_rate``), the real lzma and zlib bytes of the symbol stream, and the
    MSE; PCA with quantized coefficients for every (components, bits) pair (``pca_*``); JPEG by
    Pillow at each quality (``jpeg_file_bits``: real files, ``jpeg_payload_bits``: without headers).
    Sizes are bits per image; MSE is per pixel on [0, 1] images.
    """
    from . import compression as C

    cfgs = [compression_config(b) for b in COMPRESSION_BITS]
    cfg = {"models": cfgs, "n_test": config.size("compress_test"), "test_seed": 0,
           "pca_components": list(PCA_COMPONENTS), "pca_bits": list(PCA_BITS),
           "jpeg_qualities": list(JPEG_QUALITIES), "rate": "train-table-arithmetic-v1"}

    def compute():
        x = data.shared_images("train", n=config.size("mnist_train"), seed=0)
        xt, _ = compression_test_images()
        out = {k: [] for k in ("ae_bits", "ae_fixed_bits", "ae_rate", "ae_lzma_bits",
                               "ae_zlib_bits", "ae_mse")}
        for b in COMPRESSION_BITS:
            m = compression_model(b)[0]
            s_tr, s_te = m.symbols(x), m.symbols(xt)
            rec = m.decode_symbols(s_te)
            out["ae_bits"].append(b)
            out["ae_fixed_bits"].append(m.latent_dim * b)
            out["ae_rate"].append(C.code_length_bits(s_tr, s_te, 2 ** b))
            out["ae_lzma_bits"].append(C.lzma_bits(s_te))
            out["ae_zlib_bits"].append(C.zlib_bits(s_te))
            out["ae_mse"].append(float(((rec - xt) ** 2).mean()))
        out = {k: np.asarray(v) for k, v in out.items()}
        pca = C.pca_rate_distortion(x, xt, PCA_COMPONENTS, PCA_BITS)
        out.update({f"pca_{k}": v for k, v in pca.items()})
        jpeg = C.jpeg_rate_distortion(xt, JPEG_QUALITIES, keep=10)
        out.update({"jpeg_quality": jpeg["quality"], "jpeg_file_bits": jpeg["file_bits"],
                    "jpeg_payload_bits": jpeg["payload_bits"], "jpeg_mse": jpeg["mse"],
                    "jpeg_decoded": jpeg["decoded"]})
        return out

    return checkpoints.load_or_compute("compression_curve", compute, cfg)


def _probe_features(n_unlabelled: int):
    """``(maps, stats)``: the probe's feature maps and their mean/std on the unlabelled training
    images. The PCA axes and the statistics are computed once and cached, so a kernel that finds
    them cached never loads the 60 000 training images for them."""
    ae = latent_model(PROBE_CODE_SIZE)[0]
    cfg = {"n_unlabelled": n_unlabelled, "data_seed": 0, "pca_components": PROBE_CODE_SIZE,
           "ae": latent_config(PROBE_CODE_SIZE), "std": "unbiased, clamped at 1e-6"}

    def pca_coefficients(z: torch.Tensor, mean, top, chunk: int = 10_000) -> torch.Tensor:
        return torch.cat([(z[i:i + chunk] - mean) @ top for i in range(0, len(z), chunk)])

    def compute():
        x = data.shared_images("train", n=n_unlabelled, seed=0)
        mean, top = principal_axes(x, PROBE_CODE_SIZE)
        out = {"pca_mean": mean, "pca_top": top}
        for name, fx in (("pca", pca_coefficients(x, mean, top)), ("ae", _encode(ae, x))):
            out[f"{name}_mu"], out[f"{name}_sd"] = fx.mean(0), fx.std(0).clamp_min(1e-6)
        return out

    s = {k: torch.as_tensor(np.asarray(v)) for k, v in checkpoints.load_or_compute("probe_stats", compute, cfg).items()}
    maps = {"PCA": lambda z: pca_coefficients(z, s["pca_mean"], s["pca_top"]),
            "autoencoder": lambda z: _encode(ae, z)}
    stats = {"PCA": (s["pca_mu"], s["pca_sd"]), "autoencoder": (s["ae_mu"], s["ae_sd"])}
    return maps, stats


@torch.no_grad()
def _encode(model, x, batch: int = 2000) -> torch.Tensor:
    model = model.cpu().eval()
    return torch.cat([model.encode(x[i:i + batch]) for i in range(0, len(x), batch)])


def probe_features(x: torch.Tensor, kind: str) -> torch.Tensor:
    """Features of images ``x`` (N, 784) for the linear probe: ``"pixels"`` (as they are),
    ``"PCA"`` (top-32 principal components) or ``"autoencoder"`` (the 32-number code of
    ``latent_model(32)``), the last two standardized with statistics of the unlabelled
    training images. Nothing here sees a label."""
    training.check_images(x, "x", 784)
    if kind not in PROBE_FEATURES:
        raise ValueError(f"kind must be one of {PROBE_FEATURES}, got {kind!r}")
    if kind == "pixels":
        return x
    key = config.size("mnist_train")
    if _PROBE_CACHE.get("n") != key:
        _PROBE_CACHE.clear()
        _PROBE_CACHE.update(n=key, maps=_probe_features(key))
    maps, stats = _PROBE_CACHE["maps"]
    mu, sd = stats[kind]
    return (maps[kind](x) - mu) / sd


_PROBE_CACHE: dict = {}


def probe_config() -> dict:
    """The full configuration of the notebook-07 linear-probe sweep (every setting it depends on)."""
    return {"labels": list(PROBE_LABELS), "features": list(PROBE_FEATURES),
            "draws": config.size("probe_draws"), "n_test": config.size("mnist_test"),
            "n_unlabelled": config.size("mnist_train"), "ae": latent_config(PROBE_CODE_SIZE),
            "classifier": "LogisticRegression(C=1.0, max_iter=1000, lbfgs)", "label_seeds": "1+draw"}


def probe_labelled(n: int, draw: int):
    """The ``draw``-th class-balanced set of ``n`` labelled training images of the probe."""
    return data.load_mnist("train", n=n, seed=1 + draw)


def probe_accuracy(n: int, draw: int, kind: str, x_test=None, y_test=None) -> float:
    """Test accuracy of a logistic-regression classifier trained on ``n`` labelled images (draw
    ``draw``) described by ``kind`` features (see :func:`probe_features`)."""
    from sklearn.linear_model import LogisticRegression

    if x_test is None:
        x_test, y_test = mnist_test()
    x, y = probe_labelled(n, draw)
    clf = LogisticRegression(C=1.0, max_iter=1000)
    clf.fit(probe_features(x, kind).numpy(), y.numpy())
    return float(clf.score(probe_features(x_test, kind).numpy(), y_test.numpy()))


def probe_sweep() -> dict:
    """Linear-probe test accuracy for every (feature kind, labelled count, draw), cached:
    ``{"labels" (L,), "accuracy" (features, L, draws)}`` with features in PROBE_FEATURES order."""
    cfg = probe_config()

    def compute():
        xt, yt = data.load_mnist("test", n=cfg["n_test"], seed=0)
        acc = np.zeros((len(PROBE_FEATURES), len(PROBE_LABELS), cfg["draws"]))
        for i, kind in enumerate(PROBE_FEATURES):
            for j, n in enumerate(PROBE_LABELS):
                for d in range(cfg["draws"]):
                    acc[i, j, d] = probe_accuracy(n, d, kind, xt, yt)
        return {"labels": np.asarray(PROBE_LABELS), "accuracy": acc}

    return checkpoints.load_or_compute("probe_sweep", compute, cfg)

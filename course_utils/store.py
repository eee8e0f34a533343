"""The model store: "give me the trained model for this recipe" — trained once, then cached.

:func:`trained` turns a :class:`course_utils.recipes.Recipe` into ``(model, info)``: it loads the
recipe's data, builds the model and trains it through
:func:`course_utils.checkpoints.load_or_train`, keyed by every field of the recipe, so a rerun, a
slider or ``python -m course_utils.prepare`` loads it in milliseconds. The named getters below are
what the notebooks, widgets and benchmarks ask for, with the course's fitted PCAs and the curves
derived from the cached models.
"""
from __future__ import annotations

import contextlib
import threading
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import Callable, Sequence

import numpy as np
import torch

from . import checkpoints, config, data, denoising_field, manifolds, pca, recipes, results, training
from .compression import code_length_bits, jpeg_rate_distortion, lzma_bits, pca_rate_distortion, zlib_bits
from .device import one_thread, pick_device, tune_threads
from .recipes import Recipe

__all__ = ["trained", "is_cached", "trained_all", "training_data", "swiss_roll_autoencoder", "latent_model",
           "latent_models", "linear_model", "tsne_of_codes", "pca_fit", "latent_curve", "dae_model", "dae_steps",
           "pca_denoiser",
           "denoisers", "compression_model", "compression_models", "compression_test_images",
           "compression_curve", "compression_point", "compression_baselines", "curve_dae", "curve_daes",
           "swiss_roll_reconstructor", "vae_model", "vae_models",
           "digit_classifier", "conv_model", "conv_models", "conv_baselines", "conv_dae_model", "conv_curve", "conv_compression_curve"]


def training_data(recipe: Recipe) -> tuple[torch.Tensor, torch.Tensor | None, dict]:
    """``(x_train (N, D), x_test (M, D) or None, info)`` for ``recipe``: the lessons' MNIST subsets
    (read-only, shared with the notebook: :func:`course_utils.data.shared_images`), or the
    standardised Swiss roll with its ``mean``/``std`` in ``info``, or notebook 08's ring data
    (:func:`course_utils.denoising_field.sample`; test points drawn with seed ``data_seed + 1``)."""
    if recipe.data == "curve2d":
        xt = denoising_field.sample(recipe.n_test, seed=recipe.data_seed + 1) if recipe.n_test else None
        return denoising_field.sample(recipe.n_train, seed=recipe.data_seed), xt, {}
    if recipe.data == "swiss_roll":
        x, _ = manifolds.swiss_roll(recipe.n_train, seed=recipe.data_seed)
        mean, std = x.mean(0), x.std(0)
        return (torch.as_tensor((x - mean) / std, dtype=torch.float32), None,
                {"mean": mean.tolist(), "std": std.tolist()})
    x = data.shared_images("train", n=recipe.n_train, seed=recipe.data_seed)
    xt = data.shared_images("test", n=recipe.n_test, seed=recipe.data_seed) if recipe.n_test else None
    return x, xt, {}


def trained(recipe: Recipe, progress: bool = False,
            pretrain: Callable[[torch.nn.Module, int], object] | None = None,
            penalty: Callable[[torch.nn.Module, torch.Tensor], torch.Tensor] | None = None,
            on_epoch: Callable | None = None) -> tuple[torch.nn.Module, dict]:
    """``(model, info)`` for ``recipe``, on the CPU in eval mode, trained once and then cached.

    ``info`` is the training History as a dict (``train_loss``/``test_mse`` per epoch, ``seconds``,
    ``samples_per_sec``) plus ``cached``. A recipe with ``pretrain="greedy"`` needs ``pretrain``,
    called as ``pretrain(model, recipe.pretrain_epochs)`` before ``fit`` (notebook 05 writes it);
    its model's test error after pretraining is ``info["pretrained_test_mse"]``. A recipe with
    ``contraction`` > 0 needs ``penalty(model, x_batch)`` (notebook 08 writes it; see :meth:`Recipe.fit`).
    ``on_epoch`` is passed to the training loop (:func:`trained_all` counts epochs with it).
    """
    if not isinstance(recipe, Recipe):
        raise ValueError(f"trained expects a course_utils.recipes.Recipe, got {type(recipe).__name__}")
    if (recipe.pretrain != "none") != (pretrain is not None):
        raise ValueError(f"recipe {recipe.name!r} has pretrain={recipe.pretrain!r}: pass a pretrain "
                         "function exactly when the recipe names one")
    if (recipe.contraction > 0) != (penalty is not None):
        raise ValueError(f"recipe {recipe.name!r} has contraction={recipe.contraction!r}: pass a penalty "
                         "function exactly when the contraction is above 0")

    @torch.enable_grad()  # trains even when first asked for inside a caller's torch.no_grad()
    def train(model: torch.nn.Module) -> dict:
        x, xt, extra = training_data(recipe)
        if pretrain is not None:
            pretrain(model, recipe.pretrain_epochs)
            extra["pretrained_test_mse"] = training.mse(model, xt)
        y = _one_hot_labels(recipe) if recipe.model == "classifier" else None
        side = getattr(_SIDE_BY_SIDE, "workers", 0)  # in trained_all's workers: already on one thread
        if side:
            extra["trained_side_by_side"] = side
        with one_thread() if recipe.threads == 1 and not side else contextlib.nullcontext():
            history = recipe.fit(model, x, xt, progress=progress, penalty=penalty, on_epoch=on_epoch, y_train=y)
        return {**history.as_dict(), **extra}

    def build() -> torch.nn.Module:
        with _BUILD_LOCK:  # build() seeds torch's global generator: one model at a time
            return recipe.build()

    model, info = checkpoints.load_or_train(recipe.name, build, train, recipe.key())
    return model.cpu().eval(), info


_BUILD_LOCK = threading.Lock()
_SIDE_BY_SIDE = threading.local()  # .workers in a trained_all worker thread


class _Stopped(Exception):
    """Raised at an epoch's end in a side-by-side worker once another one failed or was interrupted."""


def _side_by_side(recipe: Recipe) -> bool:
    """Whether ``recipe`` may train beside others: it trains on one thread (``threads=1``) on the CPU."""
    return recipe.threads == 1 and (recipe.device or pick_device().type) == "cpu"


def _train_side_by_side(todo: list[Recipe], workers: int, bar) -> None:
    """Train (and cache) ``todo``, ``workers`` models at a time in threads, PyTorch on one thread:
    the small networks of notebooks 04 and 07 gain nothing from a second thread per model, and two
    side by side train ~1.6-1.9x the images per second of one (2-core VM). The first failure (or
    an interrupt) stops the others at their next epoch's end and is raised here; nothing
    half-trained is cached."""
    stop, lock, epochs = threading.Event(), threading.Lock(), [0]

    def count(*_):
        if stop.is_set():
            raise _Stopped("stopped: another model of the family failed or training was interrupted")
        with lock:
            epochs[0] += 1

    def work(recipe: Recipe):
        _SIDE_BY_SIDE.workers = workers
        try:
            return trained(recipe, on_epoch=count)
        finally:
            _SIDE_BY_SIDE.workers = 0

    with one_thread(), ThreadPoolExecutor(workers, thread_name_prefix="course-train") as pool:
        futures = [pool.submit(work, r) for r in todo]
        pending = set(futures)
        try:
            while pending:
                done, pending = wait(pending, timeout=0.5, return_when=FIRST_EXCEPTION)
                if bar is not None:
                    bar.update(epochs[0] - bar.n)
                    ready = sum(f.done() for f in futures)
                    bar.set_postfix_str(f"{ready}/{len(todo)} trained, {workers} at a time", refresh=True)
                for f in done:
                    f.result()  # the first failure, raised in the caller's thread
        except BaseException:
            stop.set()
            for f in pending:
                f.cancel()
            raise


def is_cached(recipe: Recipe) -> bool:
    """Whether ``recipe``'s trained model is already on disk (then :func:`trained` only loads it)."""
    if not isinstance(recipe, Recipe):
        raise ValueError(f"is_cached expects a course_utils.recipes.Recipe, got {type(recipe).__name__}")
    return checkpoints.cache_path(recipe.name, recipe.key()).is_file()


def trained_all(family: dict, what: str, progress: bool = True) -> dict:
    """``{key: (model, info)}`` for a ``{key: Recipe}`` family, with ONE progress bar for the whole
    job: its total is the epochs still to train, its label the model training now. Shown only when
    something must be trained (all cached: no bar, milliseconds).

    One-thread CPU recipes (``threads=1``: notebook 04's and 07's families) still to train are
    trained side by side, one per CPU the course uses (:func:`course_utils.device.tune_threads`;
    ``COURSE_THREADS=1``: one at a time); their ``info["trained_side_by_side"]`` says how many at
    once, so their ``seconds`` are read as such. The rest train one after the other."""
    if not isinstance(family, dict) or not all(isinstance(r, Recipe) for r in family.values()):
        raise ValueError("trained_all expects a dict {key: course_utils.recipes.Recipe}")
    todo = list({checkpoints.cache_path(r.name, r.key()): r for r in family.values() if not is_cached(r)}.values())
    bar = None
    if progress and todo:
        from tqdm.auto import tqdm

        bar = tqdm(total=sum(r.epochs for r in todo), desc=what, unit="epoch", leave=True)
    # the shared MNIST subsets, loaded once, here, and held while the family trains: every model
    # (and every side-by-side worker) then reads one copy (data.shared_images keeps only weak
    # references: 188 MB per copy of the 60 000 training images, and a reload per model)
    held: list = []
    try:
        held.extend(training_data(r) for r in todo)
        side = [r for r in todo if _side_by_side(r)]
        workers = min(tune_threads()[0], len(side))
        if workers > 1:
            _train_side_by_side(side, workers, bar)
        out = {}
        for i, (key, recipe) in enumerate(family.items()):
            if bar is not None:
                bar.set_postfix_str(f"model {i + 1}/{len(family)}: {recipe.name}", refresh=True)
            out[key] = trained(recipe, on_epoch=None if bar is None else (lambda *_: bar.update(1)))
        if bar is not None:
            bar.set_postfix_str(f"{len(family)} models ready", refresh=True)
        return out
    finally:
        held.clear()
        if bar is not None:
            bar.close()


def _one_hot_labels(recipe: Recipe) -> torch.Tensor:
    """(N, classes) one-hot float labels of the training images of a classifier recipe (notebook 09)."""
    y = data.labels("train", n=recipe.n_train, seed=recipe.data_seed)
    return torch.nn.functional.one_hot(y, recipe.sizes[-1]).float()


# --- notebook 02 ----------------------------------------------------------------------------------

def swiss_roll_autoencoder(progress: bool = False):
    """``(model, info)``: :func:`course_utils.recipes.swiss_roll_ae` trained on the standardised
    Swiss roll; ``info["mean"]``/``info["std"]`` (3,) standardise new points."""
    return trained(recipes.swiss_roll_ae(), progress)


# --- notebook 04 ----------------------------------------------------------------------------------

def _code_sizes(sizes) -> tuple[int, ...]:
    if sizes is None:
        return recipes.LATENT_SIZES
    try:
        sizes = tuple(sizes)
    except TypeError:
        raise ValueError(f"sizes must be a sequence of code sizes from {recipes.LATENT_SIZES}, got {sizes!r}") from None
    if not sizes or any(isinstance(s, bool) or s not in recipes.LATENT_SIZES for s in sizes):
        raise ValueError(f"sizes must be a non-empty sequence of code sizes from {recipes.LATENT_SIZES}, "
                         f"got {sizes!r}")
    return sizes


def latent_model(code_size: int, progress: bool = False):
    """``(model, info)``: the latent-family autoencoder with ``code_size`` (:func:`recipes.latent`);
    ``info["test_mse"][-1]`` is its test error (MSE per pixel)."""
    return trained(recipes.latent(code_size), progress)


def latent_models(sizes: Sequence[int] | None = None, progress: bool = True) -> dict:
    """``{code size: trained Autoencoder}`` for ``sizes`` (default LATENT_SIZES): one progress bar
    over the whole family while anything trains."""
    fam = trained_all({k: recipes.latent(k) for k in _code_sizes(sizes)}, "latent models", progress)
    return {k: model for k, (model, _) in fam.items()}


def linear_model(code_size: int = 16, progress: bool = False):
    """``(model, info)``: the linear autoencoder of notebook 04 (:func:`recipes.linear`)."""
    return trained(recipes.linear(code_size), progress)


def tsne_of_codes(code_size: int = 32) -> dict:
    """Notebook 04: t-SNE of the ``code_size``-number codes (latent-family model) of the test images
    of notebook 03's maps (:func:`manifolds.mnist_tsne_images`), with the settings of 03's map
    :func:`manifolds.mnist_tsne` (perplexity 30, PCA start, seed 0, same iterations), cached:
    ``{"embedding" (n, 2), "labels" (n,), "kl_divergence", "trustworthiness" (against the codes),
    "knn_accuracy"}``."""
    recipe = recipes.latent(code_size)
    cfg = {"n": config.size("tsne_points"), "data_seed": 0, "perplexity": 30, "seed": 0, "init": "pca",
           "iterations": config.size("tsne_iterations"), "score_neighbours": manifolds.SCORE_NEIGHBOURS,
           "pca_start": manifolds.TSNE_PCA_START_VERSION, "encoder": recipe.key()}

    def compute():
        model, _ = trained(recipe)
        x, y = manifolds.mnist_tsne_images()
        with torch.no_grad():
            codes = model.encode(x).numpy()               # trained() serves models on the CPU
        ts = manifolds.run_tsne(codes, 30, 0, cfg["iterations"], "pca")
        return {"embedding": ts.embedding_, "labels": y.numpy(), "kl_divergence": float(ts.kl_divergence_),
                **manifolds.embedding_scores(codes, ts.embedding_, labels=y.numpy())}

    return results.load_or_compute("mnist_tsne_codes", compute, cfg)


def pca_fit(n_train: int | None = None, seed: int = 0) -> dict:
    """PCA of the training images, cached: ``{"mean" (784,), "components" (784, 784) columns sorted by
    variance, "eigenvalues" (784,)}`` (eigenvalues of the covariance, biased, 1/N)."""
    n = config.size("mnist_train") if n_train is None else n_train
    if isinstance(n, bool) or not isinstance(n, int) or not 1 < n <= 60_000:
        raise ValueError(f"n_train must be an integer in 2..60000, got {n_train!r}")

    def compute():
        mean, axes, variances = pca.principal_axes(data.shared_images("train", n=n, seed=seed),
                                                   with_variances=True)
        return {"mean": mean, "components": axes, "eigenvalues": variances}

    return results.load_or_compute("pca", compute, {"n_train": n, "data_seed": seed, "method": "eigh-f64"})


def latent_curve(sizes: Sequence[int] | None = None) -> dict:
    """Test error (MSE per pixel) against code size for the autoencoder family and for PCA:
    ``{"sizes", "ae_test_mse", "pca_test_mse"}`` as arrays. Uses (or trains once) the family."""
    sizes = _code_sizes(sizes)
    family = trained_all({k: recipes.latent(k) for k in sizes}, "latent models")  # one bar if training
    ae = [family[k][1]["test_mse"][-1] for k in sizes]
    cfg = {"sizes": list(sizes), "n_train": config.size("mnist_train"),
           "n_test": config.size("mnist_test"), "data_seed": 0}

    def compute():
        xt, _ = data.mnist_test()
        p = pca_fit()
        return {"pca_test_mse": np.array([pca.mse(xt, k, p) for k in sizes])}

    curve = results.load_or_compute("pca_curve", compute, cfg)
    return {"sizes": np.array(sizes), "ae_test_mse": np.array(ae), "pca_test_mse": curve["pca_test_mse"]}


# --- notebook 06 ----------------------------------------------------------------------------------

def dae_model(step: str = "seminar", kind: str = "gaussian", level: float = recipes.DAE_SIGMA,
              progress: bool = False):
    """``(model, info)``: the DAE of :func:`recipes.dae` (row ``step`` of DAE_STEPS, ``kind`` noise)."""
    return trained(recipes.dae(step, kind, level), progress)


def dae_steps(progress: bool = True) -> dict:
    """``{step: (model, info)}`` for every row of DAE_STEPS (Gaussian noise, σ = DAE_SIGMA): one
    progress bar over all rows while anything trains."""
    return trained_all({step: recipes.dae(step) for step in recipes.DAE_STEPS}, "repair steps", progress)


def pca_denoiser(kind: str = "gaussian", level: float = recipes.DAE_SIGMA) -> pca.PCADenoiser:
    """PCA denoising with the best k, chosen on held-out images (:func:`course_utils.pca.fit_denoiser`):
    fitted on the clean training images minus the last ``config.size("dae_val")``, which are
    corrupted and used to pick k. The test images are never looked at. ``.val_mse`` holds the
    validation curve over ``.ks``."""
    spec = data.noise_spec(kind, level)
    n_val = config.size("dae_val")
    cfg = {"n_train": config.size("mnist_train"), "n_val": n_val, "data_seed": 0, "noise": spec,
           "val_seed": 2, "ks": list(pca.DENOISE_KS), "clip": True}

    def compute():
        x = data.shared_images("train", n=cfg["n_train"], seed=cfg["data_seed"])
        return pca.fit_denoiser(x[:-n_val], x[-n_val:], spec, cfg["val_seed"], pca.DENOISE_KS)

    r = results.load_or_compute("pca_denoiser", compute, cfg)
    den = pca.PCADenoiser(r["mean"], r["components"], int(r["k"]))
    den.val_mse, den.ks = np.asarray(r["val_mse"]), np.array(pca.DENOISE_KS)
    return den


def denoisers() -> dict:
    """The notebook-06 denoisers behind the noise widget and the benchmarks: ``{"seminar": the
    seminar's DAE exactly, "fixed": the repaired DAE (row DAE_FIXED), "masking": the repaired DAE
    trained on masking noise (DAE_MASKING), "pca": PCADenoiser with k chosen at σ = DAE_SIGMA}``."""
    return {"seminar": dae_model("seminar")[0], "fixed": dae_model(recipes.DAE_FIXED)[0],
            "masking": dae_model(recipes.DAE_FIXED, "masking", recipes.DAE_MASKING)[0], "pca": pca_denoiser()}


# --- notebook 07 ----------------------------------------------------------------------------------

#: Baselines of the rate–distortion comparison: PCA (components × bits) and JPEG qualities.
PCA_COMPONENTS: tuple[int, ...] = (2, 4, 8, 16, 32, 64, 128)
PCA_BITS: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 8)
JPEG_QUALITIES: tuple[int, ...] = (1, 3, 5, 10, 20, 30, 50, 75, 95)


def compression_model(bits: int, progress: bool = False):
    """``(model, info)``: the quantized autoencoder with ``bits`` bits per code value (:func:`recipes.quantized`)."""
    return trained(recipes.quantized(bits), progress)


def compression_models(progress: bool = False) -> dict:
    """``{bits: QuantizedAutoencoder}`` for every bit depth of COMPRESSION_BITS (trained side by side
    where not cached: :func:`trained_all`)."""
    fam = trained_all({b: recipes.quantized(b) for b in recipes.COMPRESSION_BITS}, "compression models", progress)
    return {b: model for b, (model, _) in fam.items()}


def compression_test_images():
    """The test digits every codec of notebook 07 is measured on (``config.size("compress_test")``)."""
    return data.load_mnist("test", n=config.size("compress_test"), seed=0)


def compression_curve(bits: Sequence[int] | None = None) -> dict:
    """The rate–distortion comparison of notebook 07 (notebook 10 asks only for its own bit depths,
    ``bits``; default COMPRESSION_BITS), assembled from cached parts: one per quantized model
    (:func:`compression_point`) and the baselines (:func:`compression_baselines`).

    On the same ``compress_test`` digits: for each quantized autoencoder (``ae_*``, one entry per
    bit depth) the fixed length ``latent × bits``, the arithmetic-coder size with a table fitted on
    the training codes (``ae_rate``), the real lzma and zlib bytes of the symbol stream, and the
    MSE; PCA with quantized coefficients for every (components, bits) pair (``pca_*``); JPEG by
    Pillow at each quality (``jpeg_file_bits``: real files, ``jpeg_payload_bits``: without headers).
    Sizes are bits per image; MSE is per pixel on [0, 1] images.
    """
    if bits is None:
        bits = recipes.COMPRESSION_BITS
    if isinstance(bits, (str, bytes)) or not isinstance(bits, Sequence) or len(bits) == 0:
        raise ValueError(f"bits must be a non-empty sequence of bit depths from {recipes.COMPRESSION_BITS}, got {bits!r}")
    if len(set(bits)) != len(bits):
        raise ValueError(f"bits must not repeat a bit depth, got {bits!r}")
    missing = [b for b in bits if not results.is_cached("compression_point", _point_config(b))]
    if len(missing) > 1:  # their models, side by side where not cached
        trained_all({b: recipes.quantized(b) for b in missing}, "compression models")
    points = [compression_point(b) for b in bits]
    out = {k: np.concatenate([p[k] for p in points]) for k in points[0]}
    out.update(compression_baselines())
    return out


def compression_point(bits: int) -> dict:
    """Notebook 07's bit accounting of the quantized autoencoder with ``bits`` bits per value
    (:func:`recipes.quantized`), cached: the ``ae_*`` keys of :func:`compression_curve`, each an
    array of length 1."""
    cfg = _point_config(bits)

    def compute():
        return _codec_points({bits: compression_model(bits)[0]}, lambda: data.image_chunks("train", n=cfg["n_train"], seed=0),
                             compression_test_images()[0], "ae_")

    return results.load_or_compute("compression_point", compute, cfg)


def _point_config(bits: int) -> dict:
    return {"model": recipes.quantized(bits).key(), "n_train": config.size("mnist_train"),
            "n_test": config.size("compress_test"), "test_seed": 0, "rate": "train-table-arithmetic-v1"}


def compression_baselines() -> dict:
    """The baselines of notebook 07's rate–distortion comparison on the ``compress_test`` digits,
    cached: PCA with quantized coefficients for every (components, bits) pair (``pca_*``, fitted on
    the training images) and JPEG at each quality (``jpeg_*``)."""
    cfg = {"n_train": config.size("mnist_train"), "n_test": config.size("compress_test"), "test_seed": 0,
           "pca_components": list(PCA_COMPONENTS), "pca_bits": list(PCA_BITS),
           "jpeg_qualities": list(JPEG_QUALITIES), "rate": "train-table-arithmetic-v1"}

    def compute():
        xt, _ = compression_test_images()
        fit = pca_fit(cfg["n_train"], seed=0)    # the same training images' PCA, cached (04's)
        x = data.image_chunks("train", n=cfg["n_train"], seed=0)   # read once, 10 000 at a time
        out = {f"pca_{k}": v for k, v in pca_rate_distortion(x, xt, PCA_COMPONENTS, PCA_BITS,
                                                             fitted=(fit["mean"], fit["components"])).items()}
        jpeg = jpeg_rate_distortion(xt, JPEG_QUALITIES, keep=10)
        out.update({"jpeg_quality": jpeg["quality"], "jpeg_file_bits": jpeg["file_bits"],
                    "jpeg_payload_bits": jpeg["payload_bits"], "jpeg_mse": jpeg["mse"],
                    "jpeg_decoded": jpeg["decoded"]})
        return out

    return results.load_or_compute("compression_baselines", compute, cfg)


def _codec_points(quantized: dict, train_chunks: Callable, x_test: torch.Tensor, prefix: str) -> dict:
    """Notebook 07's bit accounting of quantized autoencoders ``{bits: model}``: arrays ``bits``,
    ``fixed_bits`` (latent × bits), ``rate`` (arithmetic-coded with a table fitted on the symbols of
    the training images, read chunk by chunk from ``train_chunks()``: :func:`data.image_chunks`),
    ``lzma_bits``, ``zlib_bits`` and ``mse`` (decoded ``x_test`` against ``x_test``), each key
    starting with ``prefix``."""
    out = {k: [] for k in ("bits", "fixed_bits", "rate", "lzma_bits", "zlib_bits", "mse")}
    for b, m in quantized.items():
        s_tr, s_te = np.concatenate([m.symbols(c) for c in train_chunks()]), m.symbols(x_test)
        out["bits"].append(b)
        out["fixed_bits"].append(m.latent_dim * b)
        out["rate"].append(code_length_bits(s_tr, s_te, 2 ** b))
        out["lzma_bits"].append(lzma_bits(s_te))
        out["zlib_bits"].append(zlib_bits(s_te))
        out["mse"].append(float(((m.decode_symbols(s_te) - x_test) ** 2).mean()))
    return {prefix + k: np.asarray(v) for k, v in out.items()}


# --- notebook 08 ----------------------------------------------------------------------------------

def curve_dae(sigma: float = recipes.CURVE_SIGMA, progress: bool = False):
    """``(model, info)``: the toy DAE on the 2-D ring trained at noise level ``sigma`` (:func:`recipes.curve_dae`)."""
    return trained(recipes.curve_dae(sigma), progress)


def curve_daes(progress: bool = False) -> dict:
    """``{sigma: model}`` for every noise level of CURVE_SIGMAS (the σ slider, annealed Langevin)."""
    return {s: curve_dae(s, progress)[0] for s in recipes.CURVE_SIGMAS}


def swiss_roll_reconstructor(kind: str = "denoising", penalty=None, progress: bool = False):
    """``(model, info)``: notebook 08's 3-D Swiss-roll model :func:`recipes.swiss_roll_reconstructor`
    of ``kind`` on the standardised roll (``info["mean"]``/``info["std"]`` (3,)); the contractive one
    needs notebook 08's ``penalty(model, x_batch)``."""
    return trained(recipes.swiss_roll_reconstructor(kind), progress, penalty=penalty)


# --- notebook 09 ----------------------------------------------------------------------------------

def vae_model(latent: int = 20, beta: float = 1.0, progress: bool = False):
    """``(model, info)``: the VAE of :func:`recipes.vae` (``info["train_loss"]``: negative ELBO per
    epoch, nats per binarised training image)."""
    return trained(recipes.vae(latent, beta), progress)


def vae_models(progress: bool = False) -> dict:
    """``{beta: VAE}``: the 2-D VAEs of every β of VAE_BETAS (the β slider), and the 20-D VAE is
    trained too (under key ``"latent20"``)."""
    out = {b: vae_model(2, b, progress)[0] for b in recipes.VAE_BETAS}
    out["latent20"] = vae_model(20, 1.0, progress)[0]
    return out


def digit_classifier(progress: bool = False):
    """``(model, info)``: the digit classifier of :func:`recipes.digit_classifier` (notebook 09)."""
    return trained(recipes.digit_classifier(), progress)


# --- notebook 10 ----------------------------------------------------------------------------------

def conv_model(code_size: int = 32, upsample: str = "resize", progress: bool = False):
    """``(model, info)``: the convolutional autoencoder of :func:`recipes.conv` (notebook 10)."""
    return trained(recipes.conv(code_size, upsample), progress)


def conv_models(progress: bool = False) -> dict:
    """``{code_size: ConvAutoencoder}`` for every code size of CONV_SIZES (resize-convolution decoders)."""
    return {k: conv_model(k, progress=progress)[0] for k in recipes.CONV_SIZES}


def conv_baselines(progress: bool = True) -> dict:
    """``{recipe name: (model, info)}``: what notebook 10 compares its convolutional models with,
    notebook 04's latent models at CONV_SIZES and notebook 07's quantized models at CONV_BITS.
    Cached after 04 and 07 have run; otherwise trained here as ONE family (:func:`trained_all`), so
    that two at a time leaves no CPU waiting beside a family's odd last model."""
    family = [recipes.latent(k) for k in recipes.CONV_SIZES] + [recipes.quantized(b) for b in recipes.CONV_BITS]
    return trained_all({r.name: r for r in family}, "models of notebooks 04 and 07", progress)


def conv_dae_model(progress: bool = False):
    """``(model, info)``: the convolutional denoising autoencoder of :func:`recipes.conv_dae`."""
    return trained(recipes.conv_dae(), progress)


def conv_curve() -> dict:
    """Test error (MSE per pixel, on ``data.mnist_test()``) against code size, cached:
    ``{"sizes", "conv_test_mse", "fc_test_mse"}`` for the convolutional family (CONV_SIZES) and
    notebook 04's fully connected models of the same code sizes (their recorded final test error)."""
    sizes = recipes.CONV_SIZES
    cfg = {"conv": [recipes.conv(k).key() for k in sizes], "fc": [recipes.latent(k).key() for k in sizes],
           "n_test": config.size("mnist_test"), "data_seed": 0}

    def compute():
        xt, _ = data.mnist_test()
        return {"sizes": np.array(sizes), "conv_test_mse": np.array([training.mse(conv_model(k)[0], xt) for k in sizes]),
                "fc_test_mse": np.array([latent_model(k)[1]["test_mse"][-1] for k in sizes])}

    return results.load_or_compute("conv_curve", compute, cfg)


def conv_compression_curve() -> dict:
    """The quantized convolutional autoencoders (CONV_BITS) with notebook 07's bit accounting on the
    same ``compress_test`` digits as :func:`compression_curve`: ``conv_bits``, ``conv_fixed_bits``,
    ``conv_rate``, ``conv_lzma_bits``, ``conv_zlib_bits``, ``conv_mse`` (tables fitted on the
    models' own training images). Cached."""
    rs = [recipes.conv_quantized(b) for b in recipes.CONV_BITS]
    cfg = {"models": [r.key() for r in rs], "n_test": config.size("compress_test"), "test_seed": 0,
           "rate": "train-table-arithmetic-v1"}

    def compute():
        return _codec_points({r.quantize_bits: trained(r)[0] for r in rs},
                             lambda: data.image_chunks("train", n=rs[0].n_train, seed=rs[0].data_seed),
                             compression_test_images()[0], "conv_")

    return results.load_or_compute("conv_compression_curve", compute, cfg)

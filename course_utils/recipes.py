"""One frozen recipe per cached model: the model, its training call and its cache key come from it.

A :class:`Recipe` names every setting that changes a trained model — architecture, initialisation,
data, noise, optimiser, schedule, epochs, seeds — and nothing else. :meth:`Recipe.build` passes
every architecture field to the model explicitly (no default of :mod:`course_utils.models` is
relied on), :meth:`Recipe.fit` passes every training field to :func:`course_utils.training.fit`,
and :meth:`Recipe.key` is all fields, so changing any of them trains a new model and a changed
default elsewhere can never serve a stale one. :mod:`course_utils.store` turns a recipe into a
trained, cached model.

The families below (sizes from :mod:`course_utils.config` at call time) are the course's shared
models: notebook 02's Swiss-roll autoencoder, 04's latent-size family and linear autoencoder,
05's deep/shallow/stacked models, 06's denoising autoencoders, 07's quantized autoencoders and
08's toy denoising autoencoders on the 2-D ring (:mod:`course_utils.denoising_field`), and 10's
convolutional autoencoders (:class:`ConvRecipe`: the same fields plus ``channels`` and ``upsample``).
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import torch

from . import config, training
from .compression import QuantizedAutoencoder, QuantizedConvAutoencoder
from .data import NOISE_KINDS, check_seed
from .models import ACTIVATIONS, INITS, UPSAMPLINGS, Autoencoder, ConvAutoencoder, TiedAutoencoder
from .vae import VAE, DigitClassifier, elbo_objective, soft_cross_entropy

__all__ = ["Recipe", "latent", "linear", "dae", "quantized", "swiss_roll_ae", "shallow30", "deep30",
           "sigmoid_stack", "modern_stack", "deep30_tied", "sparse", "SPARSE_L1", "LATENT_SIZES", "DAE_STEPS",
           "DAE_FIXED", "DAE_SIGMA", "DAE_MASKING", "COMPRESSION_BITS", "curve_dae", "CURVE_SIGMAS", "CURVE_SIGMA",
           "swiss_roll_reconstructor", "SWISS_KINDS", "SWISS_SIGMA", "vae", "digit_classifier", "VAE_BETAS",
           "VAE_LATENTS", "ConvRecipe", "conv", "conv_dae", "conv_quantized", "CONV_SIZES", "CONV_BITS",
           "CONV_CHANNELS"]

DATASETS = ("mnist", "swiss_roll", "curve2d")
PRETRAININGS = ("none", "greedy")
LOSSES = ("mse", "bce", "elbo", "cross_entropy")
MODELS = ("autoencoder", "vae", "classifier")
#: The loss each kind of model trains with (notebook 09: a VAE's ELBO, a classifier's cross-entropy).
MODEL_LOSSES = {"vae": ("elbo",), "classifier": ("cross_entropy",), "autoencoder": ("mse", "bce")}
OPTIMIZERS = ("adam", "sgd")
LR_SCHEDULES = ("constant", "cosine")
DEVICES = ("cpu", "cuda", "mps")


@dataclass(frozen=True)
class Recipe:
    """Everything that makes one trained model. Frozen: a changed setting is a new recipe.

    ``sizes`` are the encoder's layer sizes from input to code (the decoder mirrors them);
    ``quantize_bits`` makes a :class:`~course_utils.compression.QuantizedAutoencoder` (notebook 07)
    whose sigmoid code is rounded to that many bits. ``noise_kind``/``noise_level`` corrupt the
    input of a denoising autoencoder (notebook 06). ``pretrain`` names a procedure run before
    ``fit`` (``"greedy"``: notebook 05's layer-wise pretraining, written in that notebook and
    handed to :func:`course_utils.store.trained`). ``contraction`` > 0 adds that weight times a
    penalty on the model's Jacobian to the loss (notebook 08's contractive autoencoder: the penalty
    is written in the notebook and handed to :func:`course_utils.store.trained`). ``tied`` makes a
    :class:`~course_utils.models.TiedAutoencoder` (decoder = encoder transposed, notebook 05);
    ``code_l1`` adds ``code_l1 · mean |code|`` to the training loss (a sparse autoencoder,
    notebook 07).

    ``model`` (notebook 09) is ``"autoencoder"`` (the default), ``"vae"`` (a
    :class:`~course_utils.vae.VAE` with ``sizes`` from input to latent, trained on the negative ELBO
    with weight ``beta`` on its KL term: ``loss="elbo"``) or ``"classifier"`` (a
    :class:`~course_utils.vae.DigitClassifier` with ``sizes`` from input to classes, trained with
    ``loss="cross_entropy"`` on one-hot labels).

    ``threads=1`` trains on one PyTorch thread (``None``: PyTorch's choice): for networks that gain
    nothing from a second thread, and :func:`course_utils.store.trained_all` then trains such a
    family side by side, one model per CPU (notebooks 04 and 07; figures in benchmarks/README.md).
    """

    name: str
    sizes: tuple[int, ...]
    hidden_activation: str | None = "relu"
    code_activation: str | None = None
    output_activation: str | None = "sigmoid"
    init: str = "kaiming"
    quantize_bits: int | None = None
    init_seed: int = 0
    data: str = "mnist"
    n_train: int = 0
    n_test: int = 0
    data_seed: int = 0
    noise_kind: str | None = None
    noise_level: float = 0.0
    loss: str = "mse"
    optimizer: str = "adam"
    lr: float = 1e-3
    lr_schedule: str = "constant"
    batch_size: int = 128
    epochs: int = 1
    seed: int = 0
    device: str | None = None
    threads: int | None = None
    pretrain: str = "none"
    pretrain_epochs: int = 0
    contraction: float = 0.0
    tied: bool = False
    code_l1: float = 0.0
    model: str = "autoencoder"
    beta: float = 1.0

    #: Fields added after the first caches were written: left out of :meth:`key` at their default,
    #: so every recipe that does not use them keeps its cache key (and its cached model).
    _LATER_FIELDS = {"contraction": 0.0, "tied": False, "code_l1": 0.0, "model": "autoencoder", "beta": 1.0}

    def __post_init__(self) -> None:
        if isinstance(self.sizes, (str, bytes, dict)) or not hasattr(self.sizes, "__iter__"):
            raise ValueError(f"sizes must be a sequence of two or more positive integers, got {self.sizes!r}")
        object.__setattr__(self, "sizes", tuple(self.sizes))
        if not isinstance(self.name, str) or not self.name.replace("_", "").isalnum():
            raise ValueError(f"recipe name must be letters, digits or '_', got {self.name!r}")
        if len(self.sizes) < 2 or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0
                                          for s in self.sizes):
            raise ValueError(f"sizes must be two or more positive integers, got {self.sizes!r}")
        for field in ("hidden_activation", "code_activation", "output_activation"):
            value = getattr(self, field)
            if value is not None and value not in ACTIVATIONS:
                raise ValueError(f"{field} must be None or one of {ACTIVATIONS}, got {value!r}")
        _one_of(self.init, INITS, "init")
        _one_of(self.data, DATASETS, "data")
        _one_of(self.pretrain, PRETRAININGS, "pretrain")
        if self.noise_kind is not None:
            _one_of(self.noise_kind, NOISE_KINDS, "noise_kind")
        if self.quantize_bits is not None and (isinstance(self.quantize_bits, bool)
                                               or not isinstance(self.quantize_bits, int)
                                               or not 1 <= self.quantize_bits <= 16):
            raise ValueError(f"quantize_bits must be None or an integer in 1..16, got {self.quantize_bits!r}")
        if self.quantize_bits is not None and self.code_activation != "sigmoid":
            raise ValueError("a quantized code needs code_activation='sigmoid' (values in [0, 1])")
        if not isinstance(self.tied, bool):
            raise ValueError(f"tied must be True or False, got {self.tied!r}")
        if self.tied and self.quantize_bits is not None:
            raise ValueError("a quantized autoencoder cannot have tied weights (tied=True with quantize_bits)")
        l1 = self.code_l1
        if isinstance(l1, bool) or not isinstance(l1, (int, float)) or not math.isfinite(l1) or l1 < 0:
            raise ValueError(f"code_l1 must be a finite number >= 0, got {l1!r}")
        if l1 > 0 and isinstance(self.contraction, (int, float)) and self.contraction > 0:
            raise ValueError("a recipe has one extra loss term: code_l1 or contraction, not both")
        if self.threads not in (None, 1):
            raise ValueError(f"threads must be None (PyTorch's choice) or 1, got {self.threads!r}")
        for field in ("n_train", "batch_size", "epochs"):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{field} must be a positive integer, got {value!r}")
        for field in ("n_test", "pretrain_epochs"):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{field} must be an integer >= 0, got {value!r}")
        for field in ("init_seed", "data_seed", "seed"):
            check_seed(getattr(self, field), field)
        if (isinstance(self.lr, bool) or not isinstance(self.lr, (int, float)) or not math.isfinite(self.lr)
                or self.lr <= 0):
            raise ValueError(f"lr must be a finite number > 0, got {self.lr!r}")
        level = self.noise_level
        if isinstance(level, bool) or not isinstance(level, (int, float)) or not math.isfinite(level) or level < 0:
            raise ValueError(f"noise_level must be a finite number >= 0, got {level!r}")
        if self.noise_kind not in (None, "gaussian") and level > 1:
            raise ValueError(f"noise_level of {self.noise_kind} noise must be in [0, 1] (a probability), "
                             f"got {level!r}")
        c = self.contraction
        if isinstance(c, bool) or not isinstance(c, (int, float)) or not math.isfinite(c) or c < 0:
            raise ValueError(f"contraction must be a finite number >= 0 (the penalty's weight), got {c!r}")
        _one_of(self.loss, LOSSES, "loss")
        _one_of(self.model, MODELS, "model")
        if self.loss not in MODEL_LOSSES[self.model]:
            raise ValueError(f"a {self.model} recipe trains with loss {MODEL_LOSSES[self.model]}, got {self.loss!r}")
        if (isinstance(self.beta, bool) or not isinstance(self.beta, (int, float)) or not math.isfinite(self.beta)
                or not 0 <= self.beta <= 1000):
            raise ValueError(f"beta must be a number in [0, 1000], got {self.beta!r}")
        if self.model != "autoencoder" and (self.quantize_bits is not None or self.noise_kind is not None
                                            or self.pretrain != "none" or self.init != "default"
                                            or self.tied or self.code_l1 or self.contraction):
            raise ValueError(f"a {self.model} recipe has no quantizer, noise, pretraining, tied weights or "
                             "extra loss term, and PyTorch's default init (init='default')")
        if self.model == "vae" and len(self.sizes) < 3:
            raise ValueError(f"a vae recipe needs sizes (input, hidden…, latent), got {self.sizes!r}")
        if self.model == "classifier" and (len(self.sizes) < 3 or self.n_test != 0 or self.data != "mnist"):
            raise ValueError("a classifier recipe needs sizes (input, hidden…, classes), MNIST and n_test=0 "
                             "(its test score is not a reconstruction error)")
        _one_of(self.optimizer, OPTIMIZERS, "optimizer")
        _one_of(self.lr_schedule, LR_SCHEDULES, "lr_schedule")
        if self.device is not None and not (isinstance(self.device, str) and (
                self.device in DEVICES or (self.device.startswith("cuda:") and self.device[5:].isdigit()))):
            raise ValueError(f"device must be None or one of {DEVICES} (or 'cuda:N'), got {self.device!r}")

    def key(self) -> dict[str, Any]:
        """Every field, JSON-able: the cache key of the trained model (a field of ``_LATER_FIELDS``
        only when it differs from its default)."""
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(self).items()
                if not (k in self._LATER_FIELDS and v == self._LATER_FIELDS[k])}

    def replace(self, **changes) -> "Recipe":
        """A copy with some fields changed (checked like a new recipe)."""
        return dataclasses.replace(self, **changes)

    def build(self) -> torch.nn.Module:
        """A fresh, untrained model, its initialisation drawn with ``torch.manual_seed(init_seed)``."""
        torch.manual_seed(self.init_seed)
        if self.model == "vae":
            return VAE(self.sizes)
        if self.model == "classifier":
            return DigitClassifier(self.sizes)
        if self.quantize_bits is not None:
            return QuantizedAutoencoder(self.sizes[-1], self.quantize_bits, hidden=self.sizes[1:-1],
                                        input_dim=self.sizes[0], hidden_activation=self.hidden_activation,
                                        output_activation=self.output_activation, init=self.init)
        if self.tied:
            return TiedAutoencoder(self.sizes, hidden_activation=self.hidden_activation,
                                   code_activation=self.code_activation,
                                   output_activation=self.output_activation, init=self.init)
        return Autoencoder(self.sizes, decoder_sizes=None, hidden_activation=self.hidden_activation,
                           code_activation=self.code_activation,
                           output_activation=self.output_activation, init=self.init)

    def noise(self) -> dict | None:
        """The corruption spec for :func:`course_utils.training.fit` (``None``: a plain autoencoder)."""
        return None if self.noise_kind is None else {"kind": self.noise_kind, "level": self.noise_level}

    def fit(self, model: torch.nn.Module, x_train: torch.Tensor, x_test: torch.Tensor | None = None,
            progress: bool = False, penalty=None, on_epoch=None,
            y_train: torch.Tensor | None = None) -> training.History:
        """Train ``model`` on ``x_train`` (N, D) with this recipe's settings (``x_test`` (M, D) is scored
        after every epoch; ``on_epoch`` as in :func:`course_utils.training.fit`; ``y_train`` (N, C): a
        classifier's one-hot labels). The batch loss is the recipe's ``loss``, or, through
        ``fit(objective=…)``: the negative ELBO (``loss="elbo"``), the reconstruction plus
        ``code_l1 · mean |code|`` (``code_l1`` > 0), or the reconstruction plus ``contraction`` times
        ``penalty(model, x_batch)`` (a scalar tensor; needed exactly when ``contraction`` > 0)."""
        if (self.contraction > 0) != (penalty is not None):
            raise ValueError(f"recipe {self.name!r} has contraction={self.contraction!r}: pass a penalty "
                             "function exactly when the contraction is above 0")
        if (self.model == "classifier") != (y_train is not None):
            raise ValueError(f"recipe {self.name!r}: pass y_train (one-hot labels) exactly for a classifier")
        objective = None
        if self.loss == "elbo":
            objective = elbo_objective(self.beta)
        elif self.code_l1 > 0:
            objective = training.code_l1_objective(self.code_l1, self.loss)
        elif penalty is not None:
            objective = training.penalty_objective(penalty, self.contraction, self.loss)
        loss = soft_cross_entropy if self.loss == "cross_entropy" else self.loss
        return training.fit(model, x_train, epochs=self.epochs, batch_size=self.batch_size, lr=self.lr,
                            noise=self.noise(), x_test=x_test, seed=self.seed, progress=progress,
                            loss="mse" if objective else loss, optimizer=self.optimizer,
                            lr_schedule=self.lr_schedule, device=self.device, y_train=y_train,
                            on_epoch=on_epoch, objective=objective)


def _one_of(value, allowed, what: str):
    if isinstance(value, bool) or value not in allowed:
        raise ValueError(f"{what} must be one of {tuple(allowed)}, got {value!r}")
    return value


def _mnist(**fields) -> dict:
    """The data fields of a recipe trained on the lessons' MNIST subsets."""
    return {"data": "mnist", "n_train": config.size("mnist_train"), "n_test": config.size("mnist_test"),
            "data_seed": 0, **fields}


# --- notebook 02: the Swiss roll's autoencoder ---------------------------------------------------

def swiss_roll_ae() -> Recipe:
    """3-64-64-2-64-64-3 (tanh, linear code and output) on the standardised Swiss roll; trained on the
    CPU with one thread (a 9k-parameter network: one thread is fastest)."""
    return Recipe("swiss_ae", (3, 64, 64, 2), hidden_activation="tanh", code_activation=None,
                  output_activation=None, init="default", data="swiss_roll",
                  n_train=config.size("swiss_roll"), lr=3e-3, batch_size=100,
                  epochs=config.size("swiss_ae_epochs"), device="cpu", threads=1)


# --- notebook 04: the latent-size family and the linear autoencoder ------------------------------

#: Code sizes of the latent-size family (the notebook-04 slider moves over these).
LATENT_SIZES: tuple[int, ...] = (2, 4, 8, 16, 32, 64)


def latent(code_size: int) -> Recipe:
    """The ReLU autoencoder 784-256-``code_size``-256-784 of the latent-size family (notebook 04).

    One thread: batches of 128 through 784×256 layers train as fast on one thread as on two (2-core
    VM: 27.9k against 27.1k images/s), so :func:`course_utils.store.trained_all` trains the family
    side by side, one model per CPU (two at once: 44k images/s together)."""
    _one_of(code_size, LATENT_SIZES, "code size")
    return Recipe(f"latent{code_size}", (784, 256, int(code_size)), lr=2e-3, batch_size=128,
                  epochs=config.size("ae_epochs"), threads=1, **_mnist())


def linear(code_size: int = 16) -> Recipe:
    """784-``code_size``-784 with no activation at all, PyTorch's default init (notebook 04: it
    learns PCA's subspace)."""
    if isinstance(code_size, bool) or not isinstance(code_size, int) or not 1 <= code_size <= 784:
        raise ValueError(f"code_size must be an integer in 1..784, got {code_size!r}")
    return Recipe("linear_ae", (784, code_size), hidden_activation=None, code_activation=None,
                  output_activation=None, init="default", lr=3e-3, batch_size=128,
                  epochs=config.size("linear_ae_epochs"), **_mnist())


# --- notebook 05: deep vs shallow, and the stacked autoencoder ----------------------------------

def shallow30() -> Recipe:
    """784-30-784, linear code, sigmoid output, Kaiming init, Adam 1e-3 (notebook 05)."""
    return Recipe("shallow30", (784, 30), lr=1e-3, batch_size=128, epochs=config.size("stacked_epochs"),
                  **_mnist())


def deep30() -> Recipe:
    """784-512-256-128-30 (ReLU, linear code, sigmoid output), same training as :func:`shallow30`."""
    return Recipe("deep30", (784, 512, 256, 128, 30), lr=1e-3, batch_size=128,
                  epochs=config.size("stacked_epochs"), **_mnist())


def deep30_tied() -> Recipe:
    """:func:`deep30` with tied weights (decoder = encoder transposed, half the weights), same training."""
    return deep30().replace(name="deep30_tied", tied=True)


def sigmoid_stack(pretrain: str = "none") -> Recipe:
    """The 2006-style stack 784-256-64-30 (sigmoid hidden, linear code), weights N(0, 0.01²), Adam
    0.01, batch 64; ``pretrain="greedy"`` adds notebook 05's layer-wise pretraining first."""
    return Recipe("sigmoid_greedy" if pretrain == "greedy" else "sigmoid_e2e", (784, 256, 64, 30),
                  hidden_activation="sigmoid", init="small", lr=0.01, batch_size=64,
                  epochs=config.size("stacked_epochs"), pretrain=pretrain,
                  pretrain_epochs=config.size("pretrain_epochs") if pretrain == "greedy" else 0, **_mnist())


def modern_stack() -> Recipe:
    """The same 784-256-64-30 shape with ReLU, Kaiming init and Adam 1e-3, end to end (notebook 05)."""
    return sigmoid_stack().replace(name="modern_e2e", hidden_activation="relu", init="kaiming", lr=1e-3)


# --- notebook 06: the seminar's denoising autoencoder and its repair -----------------------------

#: The seminar's corruption: input = image + 0.3·N(0, 1) (not clipped), target = the clean image.
DAE_SIGMA: float = 0.3
#: Masking level of the DAE trained on masking noise (each pixel set to 0 with this probability).
DAE_MASKING: float = 0.5
#: The repair, one change per row, each row keeping every change above it:
#: ``name -> (label, activations and init, Adam learning rate)``. Row 0 is the seminar exactly.
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


def dae(step: str = "seminar", kind: str = "gaussian", level: float = DAE_SIGMA) -> Recipe:
    """The 784-512-256-512-784 DAE of row ``step`` of DAE_STEPS (sigmoid output, MSE, batch 300),
    trained on ``kind`` noise at ``level`` (notebook 06)."""
    _one_of(step, tuple(DAE_STEPS), "step")
    _one_of(kind, NOISE_KINDS, "noise kind")
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 <= level <= 1:
        raise ValueError(f"noise level must be a number in [0, 1], got {level!r}")
    _, arch, lr = DAE_STEPS[step]
    name = f"dae_{step}" if (kind, float(level)) == ("gaussian", DAE_SIGMA) else f"dae_{step}_{kind}"
    return Recipe(name, (784, 512, 256), output_activation="sigmoid", lr=lr, batch_size=300,
                  noise_kind=kind, noise_level=float(level), epochs=config.size("dae_epochs"),
                  **arch, **_mnist())


# --- notebook 07: quantized autoencoders, and the sparse code of the few-label probe -------------

#: Weight of the L1 penalty on the code of the sparse autoencoder (loss = MSE + SPARSE_L1 · mean |z|).
SPARSE_L1: float = 1e-2


def sparse(code_size: int = 32) -> Recipe:
    """:func:`latent` (784-256-``code_size``-256-784) with a ReLU code and an L1 penalty
    ``SPARSE_L1 · mean |code|`` on it: a sparse autoencoder (notebook 07's probe)."""
    return latent(code_size).replace(name=f"sparse{code_size}", code_activation="relu", code_l1=SPARSE_L1)


# ----------------------------------------------------------

#: Bits per code value of the quantized autoencoders (the notebook-07 slider moves over these).
COMPRESSION_BITS: tuple[int, ...] = config.pick((1, 2, 3, 4, 6, 8), (1, 2, 4, 8))


def quantized(bits: int) -> Recipe:
    """784-256-32-256-784 whose sigmoid code is rounded to ``bits`` bits per value during training
    (straight-through gradient) and use; Adam 5e-3, batch 32 (notebook 07). One thread, trained side
    by side as :func:`latent` (batches of 32: 11.6k images/s on one thread, 11.0k on two; two models
    at once 21k together)."""
    _one_of(bits, COMPRESSION_BITS, "bits")
    return Recipe(f"quantized{bits}", (784, 256, 32), code_activation="sigmoid", quantize_bits=int(bits),
                  lr=5e-3, batch_size=32, epochs=config.size("compress_epochs"), threads=1, **_mnist(n_test=0))


# --- notebook 08: toy denoising autoencoders on the 2-D ring -------------------------------------

#: Noise levels of the toy DAEs (largest last): the σ slider, annealed Langevin's levels.
CURVE_SIGMAS: tuple[float, ...] = (0.05, 0.1, 0.2, 0.4, 0.8)
#: The toy DAE drawn first and compared with Tweedie's formula.
CURVE_SIGMA: float = 0.2


def curve_dae(sigma: float = CURVE_SIGMA) -> Recipe:
    """2-64-64-64-2 (GELU everywhere but the linear output, PyTorch's default init) trained on the
    ring data (``data="curve2d"``) to undo x + σ·N(0, I); Adam 3e-3 with a cosine schedule, batch
    256, on the CPU with one thread (a 13k-parameter network)."""
    _one_of(sigma, CURVE_SIGMAS, "sigma")
    return Recipe(f"curve_dae_{round(sigma * 100):03d}", (2, 64, 64), hidden_activation="gelu",
                  code_activation="gelu", output_activation=None, init="default", data="curve2d",
                  n_train=config.size("curve_train"), noise_kind="gaussian", noise_level=float(sigma),
                  lr=3e-3, lr_schedule="cosine", batch_size=256, epochs=config.size("curve_dae_epochs"),
                  device="cpu", threads=1)


# --- notebook 08: the Swiss roll's reconstruction, plain, denoising and contractive ---------------

#: The three 3-D Swiss-roll models of notebook 08: a plain autoencoder, a DAE and a contractive one.
SWISS_KINDS: tuple[str, ...] = ("plain", "denoising", "contractive")
#: Noise level of the Swiss-roll DAE (standardised units); the contractive one's weight is its square.
SWISS_SIGMA: float = 0.2


def swiss_roll_reconstructor(kind: str = "denoising") -> Recipe:
    """3-64-64-64-3 (GELU everywhere but the linear output, PyTorch's default init, no bottleneck) on
    the standardised Swiss roll; Adam 3e-3 with a cosine schedule, batch 100, on the CPU with one
    thread. ``"plain"``: a plain reconstruction (it may learn the identity); ``"denoising"``: undo
    x + SWISS_SIGMA·N(0, I); ``"contractive"``: the clean reconstruction plus SWISS_SIGMA² times
    notebook 08's penalty on the Jacobian of the reconstruction (what a DAE at small σ amounts to,
    Alain & Bengio 2014)."""
    _one_of(kind, SWISS_KINDS, "kind")
    noise = dict(noise_kind="gaussian", noise_level=SWISS_SIGMA) if kind == "denoising" else {}
    return Recipe(f"swiss_{kind}", (3, 64, 64), hidden_activation="gelu", code_activation="gelu",
                  output_activation=None, init="default", data="swiss_roll", n_train=config.size("swiss_roll"),
                  lr=3e-3, lr_schedule="cosine", batch_size=100, epochs=config.size("swiss_field_epochs"),
                  device="cpu", threads=1, contraction=SWISS_SIGMA ** 2 if kind == "contractive" else 0.0,
                  **noise)


# --- notebook 09: variational autoencoders and the digit classifier that scores their samples ----

#: Latent sizes of notebook 09's VAEs: 2 (the manifold you can look at) and 20 (its nats).
VAE_LATENTS: tuple[int, ...] = (2, 20)
#: Weights β of the KL term of the 2-D VAEs behind the β slider (β = 1: the plain VAE).
VAE_BETAS: tuple[float, ...] = (0.25, 1.0, 4.0)


def vae(latent: int = 20, beta: float = 1.0) -> Recipe:
    """The VAE 784-400-``latent`` (ReLU, Bernoulli decoder back through 400) trained on the negative
    ELBO with weight ``beta`` on the KL term, on stochastically binarised MNIST (redrawn every
    batch); Adam (3e-3 for the 2-D VAEs, 1e-3 for the 20-D one), batch 128 (notebook 09). ``latent`` in VAE_LATENTS; ``beta`` in VAE_BETAS
    (any β for the 2-D VAE, β = 1 for the 20-D one)."""
    _one_of(latent, VAE_LATENTS, "latent")
    _one_of(beta, VAE_BETAS if latent == 2 else (1.0,), "beta")
    tag = f"{round(float(beta) * 100):03d}"
    return Recipe(f"vae{latent}_b{tag}", (784, 400, int(latent)), init="default", model="vae", loss="elbo",
                  beta=float(beta), lr=3e-3 if latent == 2 else 1e-3, batch_size=128,
                  epochs=config.size("vae20_epochs" if latent == 20 else "vae2_epochs"), **_mnist())


def digit_classifier() -> Recipe:
    """The MLP digit classifier 784-256-64-10 (ReLU) that scores samples in notebook 09: cross-entropy
    on one-hot labels, Adam 1e-3, batch 128."""
    return Recipe("digit_classifier", (784, 256, 64, 10), init="default", model="classifier",
                  loss="cross_entropy", lr=1e-3, batch_size=128, epochs=config.size("classifier_epochs"),
                  **_mnist(n_test=0))


# --- notebook 10: convolutional autoencoders --------------------------------------------------------

@dataclass(frozen=True)
class ConvRecipe(Recipe):
    """A :class:`Recipe` for a :class:`~course_utils.models.ConvAutoencoder` (notebook 10).

    ``sizes`` is ``(784, code size)``; ``channels`` are the feature maps of the 14×14 and 7×7 layers
    and ``upsample`` how the decoder doubles the resolution (``"resize"`` or ``"transposed"``).
    ``quantize_bits`` makes a :class:`~course_utils.compression.QuantizedConvAutoencoder`. The two
    extra fields are part of :meth:`key`; every other field means what it means in a Recipe.
    """

    channels: tuple[int, ...] = (16, 32)
    upsample: str = "resize"

    def __post_init__(self) -> None:
        super().__post_init__()
        if isinstance(self.channels, (str, bytes, dict)) or not hasattr(self.channels, "__iter__"):
            raise ValueError(f"channels must be two positive integers, got {self.channels!r}")
        object.__setattr__(self, "channels", tuple(self.channels))
        if len(self.channels) != 2 or not all(isinstance(c, int) and not isinstance(c, bool) and 1 <= c <= 1024
                                              for c in self.channels):
            raise ValueError(f"channels must be two integers from 1 to 1024, got {self.channels!r}")
        _one_of(self.upsample, UPSAMPLINGS, "upsample")
        if len(self.sizes) != 2 or self.sizes[0] != 784:
            raise ValueError(f"a ConvRecipe's sizes are (784, code size), got {self.sizes!r}")
        if self.data != "mnist":
            raise ValueError(f"a ConvRecipe trains on 28×28 images: data must be 'mnist', got {self.data!r}")
        _one_of(self.init, ("default", "kaiming"), "init of a ConvRecipe")
        if self.tied or self.model != "autoencoder":
            raise ValueError("a ConvRecipe builds a convolutional autoencoder: tied=False, model='autoencoder'")

    def build(self) -> torch.nn.Module:
        """A fresh, untrained ConvAutoencoder (or its quantized wrapper), seeded with ``init_seed``."""
        torch.manual_seed(self.init_seed)
        if self.quantize_bits is not None:
            return QuantizedConvAutoencoder(self.sizes[-1], self.quantize_bits, self.channels,
                                            upsample=self.upsample, hidden_activation=self.hidden_activation,
                                            output_activation=self.output_activation, init=self.init)
        return ConvAutoencoder(self.sizes[-1], self.channels, upsample=self.upsample,
                               hidden_activation=self.hidden_activation, code_activation=self.code_activation,
                               output_activation=self.output_activation, init=self.init)


#: Code sizes of the convolutional family (the notebook-10 slider; each also in LATENT_SIZES).
CONV_SIZES: tuple[int, ...] = (4, 16, 32)
#: Bits per code value of the quantized convolutional autoencoders (each also in COMPRESSION_BITS).
CONV_BITS: tuple[int, ...] = (1, 2, 4)
#: Feature maps of the 14×14 and 7×7 layers of every convolutional autoencoder of the course.
CONV_CHANNELS: tuple[int, int] = (16, 32)


def _conv_fields(**fields) -> dict:
    """Fields shared by notebook 10's models: a linear output (a sigmoid with the one bias a
    convolution shares over all 784 pixels saturates at 0 and training stalls there: notebook 10),
    MSE, Adam 2e-3, batch 64, ``conv_train`` images, ``conv_epochs`` epochs, test error measured once
    afterwards (``n_test=0``), PyTorch's init."""
    return {"channels": CONV_CHANNELS, "init": "default", "output_activation": None, "lr": 2e-3, "batch_size": 64,
            "epochs": config.size("conv_epochs"),
            **_mnist(n_train=config.size("conv_train"), n_test=0), **fields}


def conv(code_size: int = 32, upsample: str = "resize") -> ConvRecipe:
    """The convolutional autoencoder 1×28×28 → 16×14×14 → 32×7×7 → ``code_size`` and back, the decoder
    doubling the resolution by ``upsample`` (notebook 10)."""
    _one_of(code_size, CONV_SIZES, "code size")
    _one_of(upsample, UPSAMPLINGS, "upsample")
    name = f"conv{code_size}" + ("" if upsample == "resize" else f"_{upsample}")
    return ConvRecipe(name, (784, int(code_size)), upsample=upsample, **_conv_fields())


def conv_dae() -> ConvRecipe:
    """The convolutional denoising autoencoder with notebook 06's code size (256) and corruption
    (x + 0.3·N(0, 1), unclipped; target the clean image)."""
    return ConvRecipe("conv_dae", (784, 256), noise_kind="gaussian", noise_level=DAE_SIGMA, **_conv_fields())


def conv_quantized(bits: int) -> ConvRecipe:
    """The convolutional autoencoder with a sigmoid code of 32 values rounded to ``bits`` bits
    (straight-through, as :func:`quantized`; notebook 10's rate–distortion points)."""
    _one_of(bits, CONV_BITS, "bits")
    return ConvRecipe(f"conv_quantized{bits}", (784, 32), code_activation="sigmoid", quantize_bits=int(bits),
                      **_conv_fields())

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
from .models import ACTIVATIONS, INITS, UPSAMPLINGS, Autoencoder, ConvAutoencoder

__all__ = ["Recipe", "latent", "linear", "dae", "quantized", "swiss_roll_ae", "shallow30", "deep30",
           "sigmoid_stack", "modern_stack", "LATENT_SIZES", "DAE_STEPS", "DAE_FIXED", "DAE_SIGMA",
           "DAE_MASKING", "COMPRESSION_BITS", "curve_dae", "CURVE_SIGMAS", "CURVE_SIGMA",
           "ConvRecipe", "conv", "conv_dae", "conv_quantized", "CONV_SIZES", "CONV_BITS", "CONV_CHANNELS"]

DATASETS = ("mnist", "swiss_roll", "curve2d")
PRETRAININGS = ("none", "greedy")
LOSSES = ("mse", "bce")
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
    handed to :func:`course_utils.store.trained`).
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
        _one_of(self.loss, LOSSES, "loss")
        _one_of(self.optimizer, OPTIMIZERS, "optimizer")
        _one_of(self.lr_schedule, LR_SCHEDULES, "lr_schedule")
        if self.device is not None and not (isinstance(self.device, str) and (
                self.device in DEVICES or (self.device.startswith("cuda:") and self.device[5:].isdigit()))):
            raise ValueError(f"device must be None or one of {DEVICES} (or 'cuda:N'), got {self.device!r}")

    def key(self) -> dict[str, Any]:
        """Every field, JSON-able: the cache key of the trained model."""
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(self).items()}

    def replace(self, **changes) -> "Recipe":
        """A copy with some fields changed (checked like a new recipe)."""
        return dataclasses.replace(self, **changes)

    def build(self) -> torch.nn.Module:
        """A fresh, untrained model, its initialisation drawn with ``torch.manual_seed(init_seed)``."""
        torch.manual_seed(self.init_seed)
        if self.quantize_bits is not None:
            return QuantizedAutoencoder(self.sizes[-1], self.quantize_bits, hidden=self.sizes[1:-1],
                                        input_dim=self.sizes[0], hidden_activation=self.hidden_activation,
                                        output_activation=self.output_activation, init=self.init)
        return Autoencoder(self.sizes, decoder_sizes=None, hidden_activation=self.hidden_activation,
                           code_activation=self.code_activation,
                           output_activation=self.output_activation, init=self.init)

    def noise(self) -> dict | None:
        """The corruption spec for :func:`course_utils.training.fit` (``None``: a plain autoencoder)."""
        return None if self.noise_kind is None else {"kind": self.noise_kind, "level": self.noise_level}

    def fit(self, model: torch.nn.Module, x_train: torch.Tensor, x_test: torch.Tensor | None = None,
            progress: bool = False) -> training.History:
        """Train ``model`` on ``x_train`` (N, D) with this recipe's settings (``x_test`` (M, D) is scored
        after every epoch)."""
        return training.fit(model, x_train, epochs=self.epochs, batch_size=self.batch_size, lr=self.lr,
                            noise=self.noise(), x_test=x_test, seed=self.seed, progress=progress,
                            loss=self.loss, optimizer=self.optimizer, lr_schedule=self.lr_schedule,
                            device=self.device)


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
    """The ReLU autoencoder 784-256-``code_size``-256-784 of the latent-size family (notebook 04)."""
    _one_of(code_size, LATENT_SIZES, "code size")
    return Recipe(f"latent{code_size}", (784, 256, int(code_size)), lr=2e-3, batch_size=128,
                  epochs=config.size("ae_epochs"), **_mnist())


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


# --- notebook 07: quantized autoencoders ----------------------------------------------------------

#: Bits per code value of the quantized autoencoders (the notebook-07 slider moves over these).
COMPRESSION_BITS: tuple[int, ...] = config.pick((1, 2, 3, 4, 6, 8), (1, 2, 4, 8))


def quantized(bits: int) -> Recipe:
    """784-256-32-256-784 whose sigmoid code is rounded to ``bits`` bits per value during training
    (straight-through gradient) and use; Adam 5e-3, batch 32 (notebook 07)."""
    _one_of(bits, COMPRESSION_BITS, "bits")
    return Recipe(f"quantized{bits}", (784, 256, 32), code_activation="sigmoid", quantize_bits=int(bits),
                  lr=5e-3, batch_size=32, epochs=config.size("compress_epochs"), **_mnist(n_test=0))


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

"""Fully connected autoencoders, from the seminar's exact network to modern variants.

Imports nothing of ours. Every model maps images of shape (N, 784) to codes (N, latent) with
``encode`` and back with ``decode``; ``forward`` does both. :class:`ConvAutoencoder` (notebook 10)
too: it reshapes to (N, 1, 28, 28) inside, at its edges, so training, the data and the cache see
the same (N, 784) rows as for every other model.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

__all__ = [
    "ACTIVATIONS", "INITS", "Autoencoder", "TiedAutoencoder", "seminar_dae", "autoencoder", "linear_autoencoder",
    "count_parameters", "MAX_WIDTH", "MAX_WEIGHTS", "UPSAMPLINGS", "ConvAutoencoder",
]

ACTIVATIONS = ("sigmoid", "relu", "tanh", "leaky_relu", "elu", "gelu", "identity")
INITS = ("default", "normal", "small", "xavier", "kaiming")


def _activation(name: str | None) -> nn.Module:
    if name is not None and not isinstance(name, str):
        raise ValueError(f"activation must be a name, one of {ACTIVATIONS}, or None; got {name!r}")
    if name is None or name == "identity":
        return nn.Identity()
    table = {
        "sigmoid": nn.Sigmoid, "relu": nn.ReLU, "tanh": nn.Tanh, "leaky_relu": nn.LeakyReLU,
        "elu": nn.ELU, "gelu": nn.GELU,
    }
    if name not in table:
        raise ValueError(f"unknown activation {name!r}; expected one of {ACTIVATIONS} or None")
    return table[name]()


#: The widest layer a model may have (MNIST has 784 inputs): wider ones would only exhaust memory.
MAX_WIDTH: int = 65_536
#: The most weights a model may have (the seminar's DAE has about a million; 4 bytes each).
MAX_WEIGHTS: int = 100_000_000


def _check_sizes(sizes: Sequence[int], what: str, least: int = 2) -> list[int]:
    """``sizes`` as a list, or a ValueError unless it is a sequence of at least ``least`` integers
    from 1 to MAX_WIDTH."""
    if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__iter__"):
        raise ValueError(f"{what} sizes must be a sequence of positive integers, got {sizes!r}")
    sizes = list(sizes)
    if len(sizes) < least:
        raise ValueError(f"{what} needs at least two layer sizes (input and code), got {sizes}")
    for s in sizes:
        if isinstance(s, bool) or not isinstance(s, int) or not 1 <= s <= MAX_WIDTH:
            raise ValueError(f"{what} sizes must be positive integers up to {MAX_WIDTH}, got {sizes}")
    return sizes


class Autoencoder(nn.Module):
    """A fully connected autoencoder.

    Args:
        sizes: encoder layer sizes from input to code, e.g. ``(784, 512, 256)``: the code has
            ``sizes[-1]`` values. The decoder mirrors them (``256 → 512 → 784``) unless
            ``decoder_sizes`` is given (it must start at the code size and end at the input size).
        hidden_activation: after every hidden layer of encoder and decoder.
        code_activation: after the code layer (``None``: a linear code).
        output_activation: after the last layer (``"sigmoid"`` keeps outputs in [0, 1]).
        init: ``"default"`` (PyTorch's), ``"normal"`` (weights and biases from N(0, 1), as in the
            seminar), ``"small"`` (weights from N(0, 0.01²), biases zero: the 2000s' habit of
            notebook 05), ``"xavier"`` or ``"kaiming"`` (biases zero).
    """

    def __init__(
        self,
        sizes: Sequence[int],
        decoder_sizes: Sequence[int] | None = None,
        hidden_activation: str | None = "relu",
        code_activation: str | None = None,
        output_activation: str | None = "sigmoid",
        init: str = "default",
    ) -> None:
        super().__init__()
        enc = _check_sizes(sizes, "encoder")
        dec = _check_sizes(decoder_sizes, "decoder") if decoder_sizes is not None else enc[::-1]
        if dec[0] != enc[-1] or dec[-1] != enc[0]:
            raise ValueError(
                f"decoder sizes must go from the code size {enc[-1]} to the input size {enc[0]}, "
                f"got {dec}"
            )
        weights = sum(a * b for s in (enc, dec) for a, b in zip(s[:-1], s[1:]))
        if weights > MAX_WEIGHTS:
            raise ValueError(f"sizes {enc} / {dec} make {weights:,} weights; at most {MAX_WEIGHTS:,} "
                             "(MAX_WEIGHTS) fit a course kernel")
        if not isinstance(init, str) or init not in INITS:
            raise ValueError(f"unknown init {init!r}; expected one of {INITS}")
        for a in (hidden_activation, code_activation, output_activation):
            _activation(a)  # validates names up front
        self.sizes, self.decoder_sizes = enc, dec
        self.config = dict(
            sizes=enc, decoder_sizes=dec, hidden_activation=hidden_activation,
            code_activation=code_activation, output_activation=output_activation, init=init,
        )
        self.encoder = self._stack(enc, hidden_activation, code_activation)
        self.decoder = self._stack(dec, hidden_activation, output_activation)
        self.reset_parameters(init)

    @staticmethod
    def _stack(sizes: list[int], hidden: str | None, last: str | None) -> nn.Sequential:
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(nn.Linear(a, b))
            layers.append(_activation(last if i == len(sizes) - 2 else hidden))
        return nn.Sequential(*layers)

    def reset_parameters(self, init: str = "default") -> None:
        """Re-draw every weight and bias with the given scheme (see the class docstring)."""
        if not isinstance(init, str) or init not in INITS:
            raise ValueError(f"unknown init {init!r}; expected one of {INITS}")
        for m in self.modules():
            if not isinstance(m, nn.Linear):
                continue
            if init == "default":
                m.reset_parameters()
            elif init == "normal":
                nn.init.normal_(m.weight, 0.0, 1.0)
                nn.init.normal_(m.bias, 0.0, 1.0)
            elif init == "small":
                nn.init.normal_(m.weight, 0.0, 0.01)
                nn.init.zeros_(m.bias)
            elif init == "xavier":
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)
            else:
                nn.init.kaiming_uniform_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)

    @property
    def input_dim(self) -> int:
        return self.sizes[0]

    @property
    def latent_dim(self) -> int:
        return self.sizes[-1]

    def _check(self, x: torch.Tensor, n: int, what: str) -> torch.Tensor:
        """``x`` in the weights' dtype, or a ValueError: not a float tensor of shape (N, n); in eval
        mode also NaN / infinity, or images in 0..255 given to the encoder. In training mode only
        the shape and dtype are checked (``fit`` checks its data once, not in every step)."""
        if not isinstance(x, torch.Tensor):
            raise ValueError(f"{what} must be a torch.Tensor, got {type(x).__name__}")
        if x.dim() < 1 or x.shape[-1] != n or x.numel() == 0:
            raise ValueError(f"{what} must have shape (N, {n}), N >= 1, got {tuple(x.shape)}")
        if not x.is_floating_point():
            raise ValueError(f"{what} must be a floating-point tensor, got dtype {x.dtype}"
                             " — convert with x.float() / 255")
        if not self.training:
            _check_values(x, what, pixels=what == "encoder input")
        dtype = self.encoder[0].weight.dtype
        return x if x.dtype == dtype else x.to(dtype)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """(N, input_dim) → (N, latent_dim). Float16 / bfloat16 / float64 input is converted to the
        weights' dtype; integer tensors are refused, and in eval mode NaN / infinity and images in
        0..255 (non-negative with values above 1: divide by 255) too (ValueError)."""
        return self.encoder(self._check(x, self.input_dim, "encoder input"))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """(N, latent_dim) → (N, input_dim); ``z`` checked like :meth:`encode`'s input (any range)."""
        return self.decoder(self._check(z, self.latent_dim, "code"))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, input_dim) → reconstruction (N, input_dim); ``x`` checked as in :meth:`encode`."""
        return self.decode(self.encode(x))


class TiedAutoencoder(Autoencoder):
    """An autoencoder with **tied weights** (notebook 05): the decoder reuses every encoder weight,
    transposed, so only the encoder's weights are learned (half the weights of :class:`Autoencoder`).

    The encoder is :class:`Autoencoder`'s (``sizes`` from input to code, the same activations and
    ``init``); decoder layer ``i`` computes ``act(h @ W + c_i)`` with ``W`` the weight (b, a) of the
    mirrored encoder layer ``Linear(a, b)`` and its own bias ``c_i`` (a,), which starts at zero.
    State-dict keys: ``encoder.*`` and ``decoder_bias.0 …``.
    """

    def __init__(self, sizes: Sequence[int], hidden_activation: str | None = "relu",
                 code_activation: str | None = None, output_activation: str | None = "sigmoid",
                 init: str = "default") -> None:
        nn.Module.__init__(self)
        enc = _check_sizes(sizes, "encoder")
        if sum(a * b for a, b in zip(enc[:-1], enc[1:])) > MAX_WEIGHTS:
            raise ValueError(f"sizes {enc} make more than {MAX_WEIGHTS:,} weights (MAX_WEIGHTS)")
        if not isinstance(init, str) or init not in INITS:
            raise ValueError(f"unknown init {init!r}; expected one of {INITS}")
        self.sizes, self.decoder_sizes = enc, enc[::-1]
        self.config = dict(sizes=enc, tied=True, hidden_activation=hidden_activation,
                           code_activation=code_activation, output_activation=output_activation, init=init)
        self.encoder = self._stack(enc, hidden_activation, code_activation)
        n = len(enc) - 1
        self.decoder_activations = nn.ModuleList(
            [_activation(output_activation if i == n - 1 else hidden_activation) for i in range(n)])
        self.decoder_bias = nn.ParameterList([nn.Parameter(torch.zeros(a)) for a in enc[-2::-1]])
        self.reset_parameters(init)

    def reset_parameters(self, init: str = "default") -> None:
        """Re-draw the encoder as :meth:`Autoencoder.reset_parameters` does; decoder biases to zero."""
        super().reset_parameters(init)
        for c in getattr(self, "decoder_bias", []):
            nn.init.zeros_(c)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """(N, latent_dim) → (N, input_dim) through the transposed encoder weights."""
        h = self._check(z, self.latent_dim, "code")
        linears = [m for m in self.encoder if isinstance(m, nn.Linear)][::-1]
        for lin, c, act in zip(linears, self.decoder_bias, self.decoder_activations):
            h = act(nn.functional.linear(h, lin.weight.t(), c))
        return h


def _check_values(x: torch.Tensor, what: str, pixels: bool) -> None:
    """A ValueError if ``x`` holds NaN / infinity, or (``pixels``) looks like images in 0..255.
    One ``aminmax`` pass."""
    lo, hi = (float(v) for v in torch.aminmax(x.detach()))
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"{what} contains NaN or infinite values (expected finite numbers)")
    if pixels and lo >= 0 and hi > 1:
        raise ValueError(f"{what}: expected pixel values in [0, 1], got max {hi:g} — divide by 255")


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def seminar_dae(modern: bool = False) -> Autoencoder:
    """The seminar's denoising autoencoder: 784-512-256-512-784, 1,067,024 parameters.

    ``modern=False`` is the seminar exactly: sigmoid after every layer (the code too), weights and
    biases drawn from N(0, 1). ``modern=True`` keeps the shape but uses ReLU hidden layers, a linear
    code, Kaiming initialisation and a sigmoid output.
    """
    if modern:
        return Autoencoder((784, 512, 256), hidden_activation="relu", code_activation=None,
                           output_activation="sigmoid", init="kaiming")
    return Autoencoder((784, 512, 256), hidden_activation="sigmoid", code_activation="sigmoid",
                       output_activation="sigmoid", init="normal")


def autoencoder(latent_dim: int, hidden: Sequence[int] = (256,), input_dim: int = 784,
                **kwargs) -> Autoencoder:
    """A ReLU autoencoder ``input_dim → *hidden → latent_dim → reversed(hidden) → input_dim``.

    Extra keyword arguments go to :class:`Autoencoder` (activations, init). Sizes are integers from
    1 to MAX_WIDTH (``hidden`` may be empty).
    """
    _check_latent(latent_dim)
    hidden = _check_sizes(hidden, "hidden", least=0)
    kwargs.setdefault("init", "kaiming")
    return Autoencoder((input_dim, *hidden, latent_dim), **kwargs)


def _check_latent(latent_dim) -> None:
    if isinstance(latent_dim, bool) or not isinstance(latent_dim, int) or not 1 <= latent_dim <= MAX_WIDTH:
        raise ValueError(f"latent_dim must be a positive integer up to {MAX_WIDTH}, got {latent_dim!r}")


def linear_autoencoder(latent_dim: int, input_dim: int = 784) -> Autoencoder:
    """``input_dim → latent_dim → input_dim`` with no activation at all (it learns PCA's subspace)."""
    _check_latent(latent_dim)
    return Autoencoder((input_dim, latent_dim), hidden_activation=None, code_activation=None,
                       output_activation=None, init="default")


# --- notebook 10: the convolutional autoencoder -----------------------------------------------------

#: How a :class:`ConvAutoencoder`'s decoder doubles the resolution: ``"resize"`` = nearest-neighbour
#: upsampling then a 3×3 convolution (resize-convolution, Odena et al. 2016); ``"transposed"`` = a
#: 3×3 transposed convolution with stride 2 (uneven overlap: checkerboard artefacts).
UPSAMPLINGS = ("resize", "transposed")


class ConvAutoencoder(nn.Module):
    """A convolutional autoencoder for 28×28 images given as rows (N, 784) (notebook 10).

    Encoder: (N, 784) → (N, 1, 28, 28) → 3×3 conv, stride 2 → ``channels[0]`` × 14 × 14 → 3×3 conv,
    stride 2 → ``channels[1]`` × 7 × 7 → flatten → linear → code (N, ``latent_dim``). Decoder:
    linear → ``channels[1]`` × 7 × 7 → ×2 → ``channels[0]`` × 14 × 14 → ×2 → 1 × 28 × 28 → (N, 784),
    each ×2 being ``upsample`` (see UPSAMPLINGS). ``hidden_activation`` follows every layer but the
    code (``code_activation``) and the output (``output_activation``). ``init``: ``"default"``
    (PyTorch's) or ``"kaiming"`` (Kaiming-uniform weights, zero biases).

    The reshape lives inside the model (its first and last modules), so :func:`course_utils.training.fit`,
    the data module and the cache are the same as for the fully connected models.
    """

    def __init__(self, latent_dim: int, channels: Sequence[int] = (16, 32), upsample: str = "resize",
                 hidden_activation: str | None = "relu", code_activation: str | None = None,
                 output_activation: str | None = "sigmoid", init: str = "default") -> None:
        super().__init__()
        _check_latent(latent_dim)
        chans = list(channels) if isinstance(channels, (list, tuple)) else None
        if chans is None or len(chans) != 2 or not all(
                isinstance(c, int) and not isinstance(c, bool) and 1 <= c <= 1024 for c in chans):
            raise ValueError(f"channels must be two integers from 1 to 1024 (of the 14×14 and the 7×7 feature "
                             f"maps), got {channels!r}")
        if not isinstance(upsample, str) or upsample not in UPSAMPLINGS:
            raise ValueError(f"upsample must be one of {UPSAMPLINGS}, got {upsample!r}")
        if not isinstance(init, str) or init not in ("default", "kaiming"):
            raise ValueError(f"init of a ConvAutoencoder must be 'default' or 'kaiming', got {init!r}")
        c1, c2 = chans
        flat = c2 * 7 * 7
        if 2 * flat * latent_dim > MAX_WEIGHTS:
            raise ValueError(f"latent_dim {latent_dim} with {c2} channels makes {2 * flat * latent_dim:,} weights; "
                             f"at most {MAX_WEIGHTS:,} (MAX_WEIGHTS)")
        act = lambda: _activation(hidden_activation)  # noqa: E731 (a fresh module per use)
        self.config = dict(latent_dim=latent_dim, channels=[c1, c2], upsample=upsample,
                           hidden_activation=hidden_activation, code_activation=code_activation,
                           output_activation=output_activation, init=init)
        self.latent_dim, self.input_dim, self.channels, self.upsample = latent_dim, 784, (c1, c2), upsample
        self.encoder = nn.Sequential(
            nn.Unflatten(1, (1, 28, 28)),
            nn.Conv2d(1, c1, 3, stride=2, padding=1), act(),        # 28 → 14
            nn.Conv2d(c1, c2, 3, stride=2, padding=1), act(),       # 14 → 7
            nn.Flatten(), nn.Linear(flat, latent_dim), _activation(code_activation))
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, flat), act(), nn.Unflatten(1, (c2, 7, 7)),
            *self._up(c2, c1, upsample), act(),                      # 7 → 14
            *self._up(c1, 1, upsample), _activation(output_activation),  # 14 → 28
            nn.Flatten())
        if init != "default":  # the layers were just built with PyTorch's default initialisation
            self.reset_parameters(init)

    @staticmethod
    def _up(c_in: int, c_out: int, how: str) -> list[nn.Module]:
        if how == "transposed":
            return [nn.ConvTranspose2d(c_in, c_out, 3, stride=2, padding=1, output_padding=1)]
        return [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(c_in, c_out, 3, padding=1)]

    def reset_parameters(self, init: str = "default") -> None:
        """Re-draw every weight: ``"default"`` (PyTorch's) or ``"kaiming"`` (zero biases)."""
        if not isinstance(init, str) or init not in ("default", "kaiming"):
            raise ValueError(f"init of a ConvAutoencoder must be 'default' or 'kaiming', got {init!r}")
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
                if init == "default":
                    m.reset_parameters()
                else:
                    nn.init.kaiming_uniform_(m.weight, nonlinearity="relu")
                    nn.init.zeros_(m.bias)

    def _check(self, x: torch.Tensor, n: int, what: str) -> torch.Tensor:
        """As :meth:`Autoencoder._check`: a float tensor of shape (N, n), values checked in eval mode."""
        if not isinstance(x, torch.Tensor):
            raise ValueError(f"{what} must be a torch.Tensor, got {type(x).__name__}")
        if x.dim() != 2 or x.shape[-1] != n or x.numel() == 0:
            raise ValueError(f"{what} must have shape (N, {n}), N >= 1, got {tuple(x.shape)}"
                             + (" — flatten images with x.reshape(len(x), -1)" if n == 784 and x.dim() == 4 else ""))
        if not x.is_floating_point():
            raise ValueError(f"{what} must be a floating-point tensor, got dtype {x.dtype}"
                             " — convert with x.float() / 255")
        if not self.training:
            _check_values(x, what, pixels=what == "encoder input")
        dtype = self.encoder[1].weight.dtype
        return x if x.dtype == dtype else x.to(dtype)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 784) → (N, latent_dim); checked like :meth:`Autoencoder.encode`."""
        return self.encoder(self._check(x, 784, "encoder input"))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """(N, latent_dim) → (N, 784)."""
        return self.decoder(self._check(z, self.latent_dim, "code"))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 784) → reconstruction (N, 784)."""
        return self.decode(self.encode(x))

"""Lossy compression with autoencoders, and the baselines they are measured against.

Notebook 07 and its widgets use these pieces:

- :func:`quantize`: rounds a code in [0, 1] to ``2**bits`` levels with a *straight-through*
  gradient (the forward pass rounds, the backward pass pretends it did not), as in Theis et al.,
  "Lossy image compression with compressive autoencoders", ICLR 2017.
- :class:`QuantizedAutoencoder`: an autoencoder whose code passes through :func:`quantize`.
- Sizes in bits per image: :func:`code_length_bits` (what an arithmetic coder with a per-value
  probability table fitted on the training codes would write), :func:`entropy_bits`,
  :func:`lzma_bits` (real bytes of a general-purpose compressor) and the fixed length
  ``latent × bits``.
- Baselines on the same images: :func:`pca_rate_distortion` (PCA with quantized coefficients)
  and :func:`jpeg_rate_distortion` (Pillow's JPEG encoder, real encoded bytes).

Imports ``models`` only.
"""
from __future__ import annotations

import io
import lzma
import math
import zlib
from typing import Sequence

import numpy as np
import torch
from torch import nn

from . import models
from .data import check_images, check_ints
from .memory import heap_batch_size
from .pca import principal_axes

__all__ = [
    "MAX_BITS", "MAX_LEVELS", "quantize", "to_symbols", "from_symbols", "QuantizedAutoencoder",
    "QuantizedConvAutoencoder", "entropy_bits",
    "code_length_bits", "lzma_bits", "zlib_bits", "psnr", "pca_rate_distortion",
    "jpeg_rate_distortion", "jpeg_header_bytes", "pareto_front", "mse_at_rate",
]

#: Largest supported number of bits per code value (symbols are stored as uint16).
MAX_BITS = 16
#: Largest number of levels a symbol table may have (``2**MAX_BITS``): a table per value is built.
MAX_LEVELS = 2 ** MAX_BITS


def _check_bits(bits) -> int:
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or not 1 <= bits <= MAX_BITS:
        raise ValueError(f"bits must be an integer from 1 to {MAX_BITS}, got {bits!r}")
    return int(bits)


def quantize(z: torch.Tensor, bits: int) -> torch.Tensor:
    """Round ``z`` (values in [0, 1]) to the nearest of ``2**bits`` evenly spaced levels.

    Forward: ``round(z·(2^b − 1)) / (2^b − 1)``. Backward: the gradient passes through unchanged
    (straight-through estimator), because rounding's true gradient is zero almost everywhere.
    A ``z`` without gradient is refused if it holds NaN or infinity; inside training (``z``
    requires grad) it is not scanned: ``fit`` stops at a non-finite loss instead.
    """
    bits = _check_bits(bits)
    if not isinstance(z, torch.Tensor) or not z.is_floating_point():
        raise ValueError("quantize expects a floating-point tensor with values in [0, 1]")
    if not z.requires_grad:  # outside training (a trained code, a test): scan once for NaN
        check_images(z, "z", ndim=None)
    steps = 2 ** bits - 1
    q = torch.round(z.clamp(0, 1) * steps) / steps
    return z + (q - z).detach()


def to_symbols(z: torch.Tensor | np.ndarray, bits: int) -> np.ndarray:
    """The integer levels 0 … 2^b − 1 that :func:`quantize` rounds ``z`` (in [0, 1]) to, as uint16."""
    bits = _check_bits(bits)
    a = _finite_array(z, "z")
    return np.rint(np.clip(a, 0, 1) * (2 ** bits - 1)).astype(np.uint16)


def from_symbols(symbols: np.ndarray, bits: int) -> torch.Tensor:
    """Levels back to code values in [0, 1] (float32 tensor)."""
    bits = _check_bits(bits)
    s = np.asarray(symbols) if not isinstance(symbols, torch.Tensor) else symbols.numpy(force=True)
    if s.dtype.kind not in "iu" or s.ndim == 0:
        raise ValueError(f"symbols must be an integer array (levels 0..{2 ** bits - 1}), got {s.dtype} {s.shape}")
    if s.size and (s.min() < 0 or s.max() > 2 ** bits - 1):
        raise ValueError(f"symbols must lie in 0..{2 ** bits - 1} for {bits} bits")
    return torch.from_numpy(s.astype(np.float32) / (2 ** bits - 1))


class QuantizedAutoencoder(nn.Module):
    """An autoencoder ``784 → hidden → latent`` whose sigmoid code is rounded to ``bits`` bits.

    ``encode`` gives the continuous code in [0, 1]; ``forward`` quantizes it (straight-through
    during training) and decodes. ``symbols(x)`` gives the integers a file would store.
    """

    def __init__(self, latent_dim: int, bits: int, hidden: Sequence[int] = (256,),
                 input_dim: int = 784, *, hidden_activation: str | None = "relu",
                 output_activation: str | None = "sigmoid", init: str = "kaiming") -> None:
        super().__init__()
        self.bits = _check_bits(bits)
        self.ae = models.autoencoder(latent_dim, hidden=hidden, input_dim=input_dim, decoder_sizes=None,
                                     hidden_activation=hidden_activation, code_activation="sigmoid",
                                     output_activation=output_activation, init=init)
        self.latent_dim = self.ae.latent_dim

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.ae.encode(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.ae.decode(z)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(quantize(self.encode(x), self.bits))

    @torch.no_grad()
    def symbols(self, x: torch.Tensor, batch_size: int = 5000) -> np.ndarray:
        """Integer symbols (N, latent) of images (N, 784), encoded at most ``batch_size`` images at a
        time (fewer on the CPU where the layers are large: :func:`course_utils.memory.heap_batch_size`)."""
        check_images(x, "x", self.ae.input_dim, pixels=True)
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        dev = next(self.parameters()).device
        if len(x) > 1:  # fewer per batch where the layers are large (course_utils.memory: page faults)
            batch_size = heap_batch_size(self.encode, x[:1].to(dev), batch_size)
        return np.concatenate([to_symbols(self.encode(x[i:i + batch_size].to(dev)), self.bits)
                               for i in range(0, max(len(x), 1), batch_size)])

    @torch.no_grad()
    def decode_symbols(self, symbols: np.ndarray, batch_size: int = 1000) -> torch.Tensor:
        """Images (N, 784) decoded from integer symbols (N, latent), at most ``batch_size`` codes at a
        time (a convolutional decoder holds 16×28×28 values per image: 10 000 at once would need
        ~2 GB; on the CPU :func:`course_utils.memory.heap_batch_size` takes fewer, ~80)."""
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        dev = next(self.parameters()).device
        z = from_symbols(symbols, self.bits)
        if len(z) > 1:
            batch_size = heap_batch_size(self.decode, z[:1].to(dev), batch_size)
        return torch.cat([self.decode(z[i:i + batch_size].to(dev)).float().cpu()
                          for i in range(0, max(len(z), 1), batch_size)])


# --- sizes --------------------------------------------------------------------------------------

def _finite_array(values, name: str) -> np.ndarray:
    """``values`` (a tensor or array-like of numbers) as a float64 numpy array, or a ValueError
    unless they are finite numbers."""
    try:
        a = (values.detach().double().cpu().numpy() if isinstance(values, torch.Tensor)
             else np.asarray(values, dtype=float))
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be numbers (an array or a tensor), got {type(values).__name__}") from None
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be finite numbers, got NaN or infinity")
    return a


def entropy_bits(counts) -> float:
    """Shannon entropy in bits, ``−Σ p log2 p``, of a histogram of counts (zeros allowed)."""
    c = _finite_array(counts, "counts")
    if c.ndim != 1 or c.size == 0 or np.any(c < 0) or not np.all(np.isfinite(c)) or c.sum() <= 0:
        raise ValueError("counts must be a non-empty 1-D array of non-negative numbers with a positive sum")
    p = c[c > 0] / c.sum()
    return float(-(p * np.log2(p)).sum())


def _check_symbols(s, levels: int, name: str) -> np.ndarray:
    s = np.asarray(s)
    if s.ndim != 2 or s.shape[0] < 1 or not np.issubdtype(s.dtype, np.integer):
        raise ValueError(f"{name} must be a 2-D integer array (images, values), got {s.dtype} {s.shape}")
    if s.min() < 0 or s.max() >= levels:
        raise ValueError(f"{name} must lie in 0..{levels - 1}")
    return s


def code_length_bits(train_symbols, test_symbols, levels: int) -> float:
    """Mean bits per test image that an arithmetic coder would write, per value, with a probability
    table fitted on the *training* symbols (add-one smoothing so no symbol costs infinitely much).
    ``train_symbols`` (N, V) and ``test_symbols`` (M, V) are integers in 0..levels - 1; ``levels``
    is at most MAX_LEVELS (a larger table would only exhaust memory).

    This is an honest "real size": the table is learned without the test images, and an arithmetic
    coder gets within a couple of bits of this number for the whole file.
    """
    if isinstance(levels, bool) or not isinstance(levels, (int, np.integer)) or not 2 <= levels <= MAX_LEVELS:
        raise ValueError(f"levels must be an integer from 2 to {MAX_LEVELS} (2**MAX_BITS), got {levels!r}")
    tr = _check_symbols(train_symbols, levels, "train_symbols")
    te = _check_symbols(test_symbols, levels, "test_symbols")
    if tr.shape[1] != te.shape[1]:
        raise ValueError(f"train and test symbols need the same number of values, got {tr.shape[1]} and {te.shape[1]}")
    total = 0.0
    for j in range(tr.shape[1]):
        counts = np.bincount(tr[:, j].astype(np.int64), minlength=levels).astype(float) + 1.0
        logp = np.log2(counts / counts.sum())
        total += -logp[te[:, j].astype(np.int64)].sum()
    return float(total / te.shape[0])


def _stream(symbols) -> bytes:
    s = np.asarray(symbols)
    if s.ndim != 2 or not np.issubdtype(s.dtype, np.integer) or s.size == 0:
        raise ValueError(f"symbols must be a non-empty 2-D integer array, got {s.dtype} {s.shape}")
    dtype = np.uint8 if s.max() < 256 and s.min() >= 0 else np.uint16
    return np.ascontiguousarray(s.T.astype(dtype)).tobytes()  # value-major: alike bytes sit together


def lzma_bits(symbols) -> float:
    """Bits per image of the whole symbol stream (one byte per value) compressed by lzma (xz file)."""
    return 8.0 * len(lzma.compress(_stream(symbols), preset=9 | lzma.PRESET_EXTREME)) / len(symbols)


def zlib_bits(symbols) -> float:
    """Bits per image of the whole symbol stream (one byte per value) compressed by zlib level 9."""
    return 8.0 * len(zlib.compress(_stream(symbols), 9)) / len(symbols)


def psnr(mse: float, peak: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB, ``10 log10(peak² / mse)``."""
    for name, v in (("mse", mse), ("peak", peak)):
        if isinstance(v, bool) or not (isinstance(v, (int, float, np.floating)) and v > 0 and math.isfinite(v)):
            raise ValueError(f"{name} must be a positive finite number, got {v!r}")
    return float(10 * np.log10(peak ** 2 / mse))


# --- baselines ----------------------------------------------------------------------------------

def _as_images(x, name: str) -> np.ndarray:
    """Images (N, 784) in [0, 1] (a tensor or an array) as float32 numpy, checked as
    :func:`course_utils.data.check_images` with ``pixels`` (no 0..255, integer or NaN images)."""
    if not isinstance(x, torch.Tensor):
        a = np.asarray(x) if isinstance(x, np.ndarray) else None
        if a is None or a.dtype.kind not in "fiu":
            raise ValueError(f"{name} must be images of shape (N, 784) with values in [0, 1], got {type(x).__name__}")
        x = torch.from_numpy(a)
    check_images(x, name, 784, pixels=True)
    return x.detach().float().cpu().numpy()


def pca_rate_distortion(x_train, x_test, components: Sequence[int], bits: Sequence[int],
                        fitted: tuple | None = None) -> dict:
    """PCA with uniformly quantized coefficients, for every (components k, bits b) pair.

    Each coefficient is rounded to ``2**b`` levels spread over its range on the training images;
    the size is :func:`code_length_bits` (table fitted on training coefficients). Reconstructions
    are clipped to [0, 1]. Returns arrays ``components, bits, rate, mse`` (one entry per pair).

    ``fitted``: ``(mean (784,), axes (784, ≥ max k))`` of the PCA of these same training images
    (``store.pca_fit``); then ``x_train`` may also be an iterable of chunks of them
    (:func:`course_utils.data.image_chunks`), read once, so that the 60 000 training images are
    never in memory at once (notebook 10's peak).
    """
    xte = _as_images(x_test, "x_test")
    bs = check_ints(bits, "bits", 1, MAX_BITS)
    if fitted is None:
        xtr = _as_images(x_train, "x_train")
        ks = check_ints(components, "components", 1, min(784, len(xtr)))
        mu, axes = principal_axes(torch.from_numpy(xtr))
        chunks = (xtr[i:i + 10_000] for i in range(0, len(xtr), 10_000))
    else:
        if not isinstance(fitted, (tuple, list)) or len(fitted) != 2:
            raise ValueError(f"fitted must be (mean (784,), axes (784, k)) or None, got {type(fitted).__name__}")
        try:
            mu, axes = (torch.as_tensor(np.asarray(v, dtype=np.float32)) for v in fitted)
        except (TypeError, ValueError) as err:
            raise ValueError(f"fitted must be (mean (784,), axes (784, k)) of numbers: {err}") from None
        if tuple(mu.shape) != (784,) or axes.dim() != 2 or axes.shape[0] != 784 or axes.shape[1] < 1:
            raise ValueError(f"fitted must be (mean (784,), axes (784, k)), got shapes {tuple(mu.shape)} and {tuple(axes.shape)}")
        if not (torch.isfinite(mu).all() and torch.isfinite(axes).all()):
            raise ValueError("fitted must hold finite numbers (a mean and principal axes), got NaN or infinity")
        ks = check_ints(components, "components", 1, axes.shape[1])
        if isinstance(x_train, (torch.Tensor, np.ndarray)):
            x_train = [x_train]
        chunks = (_as_images(c, "x_train") for c in x_train)
    vt, mean = axes.T.numpy(), mu.numpy()
    # coefficients on the top max(ks) axes, 10 000 rows at a time; the first k columns are the
    # coefficients on the top k axes, so every k reuses them (no full-size centred copy of x_train)
    top = vt[:max(ks)]
    coef_tr = np.concatenate([(c - mean) @ top.T for c in chunks])
    coef_te = (xte - mean) @ top.T
    out = {"components": [], "bits": [], "rate": [], "mse": []}
    for k in ks:
        w = vt[:k]
        ctr, cte = coef_tr[:, :k], coef_te[:, :k]
        lo, hi = ctr.min(0), ctr.max(0)
        span = np.maximum(hi - lo, 1e-8)
        for b in bs:
            steps = 2 ** b - 1
            s_tr, s_te = _quantize(ctr, lo, span, steps), _quantize(cte, lo, span, steps)
            # decoded in float64 like before, 2 000 test images at a time (not one (N, 784) float64)
            sq = 0.0
            for i in range(0, len(xte), 2_000):
                rec = np.clip(mean + (lo + s_te[i:i + 2_000] / steps * span) @ w, 0, 1)
                sq += float(((rec - xte[i:i + 2_000]) ** 2).sum())
            out["components"].append(k); out["bits"].append(b)
            out["rate"].append(code_length_bits(s_tr, s_te, steps + 1))
            out["mse"].append(sq / xte.size)
    return {k: np.asarray(v) for k, v in out.items()}


def _quantize(c: np.ndarray, lo: np.ndarray, span: np.ndarray, steps: int) -> np.ndarray:
    """uint16 symbols ``rint(clip((c - lo) / span, 0, 1) * steps)`` (as :func:`to_symbols`), with one
    float temporary the size of ``c`` instead of one per operation."""
    t = c - lo
    t /= span
    np.clip(t, 0, 1, out=t)
    t *= steps
    return np.rint(t, out=t).astype(np.uint16)


def jpeg_header_bytes(data: bytes) -> int:
    """Bytes of a baseline JPEG file before its entropy-coded data (everything up to the end of
    the start-of-scan segment) plus the 2-byte end marker: what a custom format could leave out."""
    if not isinstance(data, (bytes, bytearray)):
        raise ValueError(f"data must be the bytes of a JPEG file, got {type(data).__name__}")
    pos = data.find(b"\xff\xda")
    if not data.startswith(b"\xff\xd8") or pos < 0:
        raise ValueError("not a baseline JPEG file")
    seg_len = int.from_bytes(data[pos + 2:pos + 4], "big")
    return pos + 2 + seg_len + 2


def jpeg_rate_distortion(x, qualities: Sequence[int], keep: int = 10) -> dict:
    """Encode every image of ``x`` (N, 784) as a 28×28 greyscale JPEG with Pillow at each quality.

    Returns arrays ``quality``, ``file_bits`` (mean real file size), ``payload_bits`` (file size
    without the headers, :func:`jpeg_header_bytes`; generous to JPEG), ``mse`` (decoded vs original),
    and ``decoded`` (quality, keep, 784): the first ``keep`` decoded images, for showing.
    """
    from PIL import Image

    a = _as_images(x, "x")
    qs = check_ints(qualities, "qualities", 1, 95)
    if isinstance(keep, bool) or not isinstance(keep, int) or keep < 0:
        raise ValueError(f"keep must be a non-negative integer, got {keep!r}")
    pixels = np.rint(np.clip(a, 0, 1) * 255).astype(np.uint8).reshape(-1, 28, 28)
    file_bits, payload_bits, mses, decoded = [], [], [], []
    for q in qs:
        total = payload = 0
        dec = np.empty_like(a)
        for i, img in enumerate(pixels):
            buf = io.BytesIO()
            Image.fromarray(img, mode="L").save(buf, format="JPEG", quality=q, optimize=True)
            data = buf.getvalue()
            total += len(data)
            payload += len(data) - jpeg_header_bytes(data)
            dec[i] = np.asarray(Image.open(io.BytesIO(data)), dtype=np.float32).reshape(-1) / 255.0
        file_bits.append(8.0 * total / len(a)); payload_bits.append(8.0 * payload / len(a))
        mses.append(float(((dec - a) ** 2).mean()))
        decoded.append(dec[:keep].copy())  # a copy: a view would keep all N decoded images alive
    return {"quality": np.asarray(qs), "file_bits": np.asarray(file_bits),
            "payload_bits": np.asarray(payload_bits), "mse": np.asarray(mses),
            "decoded": np.stack(decoded)}


def pareto_front(rate, mse) -> tuple[np.ndarray, np.ndarray]:
    """The points no other point beats on both size and error, sorted by size."""
    r, m = _finite_array(rate, "rate"), _finite_array(mse, "mse")
    if r.shape != m.shape or r.ndim != 1 or r.size == 0:
        raise ValueError("rate and mse must be 1-D arrays of the same non-zero length")
    order = np.lexsort((m, r))
    keep, best = [], np.inf
    for i in order:
        if m[i] < best:
            keep.append(i); best = m[i]
    return r[keep], m[keep]


def mse_at_rate(rate, mse, at: float) -> float:
    """Error of the best point of a rate–distortion cloud that uses at most ``at`` bits
    (``inf`` if every point is bigger): the fair "same size or smaller" comparison. ``at``: a
    number of bits > 0 (``inf`` allowed)."""
    if isinstance(at, bool) or not isinstance(at, (int, float, np.number)) or not at > 0:
        raise ValueError(f"at must be a positive number of bits, got {at!r}")
    r, m = pareto_front(rate, mse)
    ok = r <= at
    return float(m[ok].min()) if ok.any() else float("inf")


class QuantizedConvAutoencoder(QuantizedAutoencoder):
    """Notebook 10: :class:`QuantizedAutoencoder` around a :class:`course_utils.models.ConvAutoencoder`
    (sigmoid code of ``latent_dim`` values rounded to ``bits`` bits; images (N, 784) in and out), so
    ``symbols`` / ``decode_symbols`` and the bit accounting of notebook 07 apply unchanged."""

    def __init__(self, latent_dim: int, bits: int, channels: Sequence[int] = (16, 32), *,
                 upsample: str = "resize", hidden_activation: str | None = "relu",
                 output_activation: str | None = "sigmoid", init: str = "default") -> None:
        nn.Module.__init__(self)
        self.bits = _check_bits(bits)
        self.ae = models.ConvAutoencoder(latent_dim, channels, upsample=upsample,
                                         hidden_activation=hidden_activation, code_activation="sigmoid",
                                         output_activation=output_activation, init=init)
        self.latent_dim = self.ae.latent_dim

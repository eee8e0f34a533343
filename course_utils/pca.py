"""Principal component analysis, the linear baseline of every lesson (notebooks 02, 04–07).

One PCA for the whole course (:func:`principal_axes`), projection onto the top-``k`` subspace
(:func:`reconstruct`) and its error (:func:`mse`), and the PCA denoiser of notebook 06 with ``k``
chosen on held-out images (:func:`fit_denoiser`). The cached fits live in :mod:`course_utils.store`.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from .data import add_noise, check_images, check_ints, check_seed

__all__ = ["principal_axes", "reconstruct", "mse", "PCADenoiser", "fit_denoiser", "DENOISE_KS", "MAX_DIM"]


#: The most columns :func:`principal_axes` accepts (MNIST has 784): its covariance is (D, D) float64.
MAX_DIM: int = 4096


def principal_axes(x: torch.Tensor, k: int | None = None, chunk: int = 10_000,
                   with_variances: bool = False):
    """``(mean (D,), axes (D, k))``: the mean and the top-``k`` principal axes (columns, by falling
    variance) of the rows of ``x`` (N, D). The covariance is summed in float64, ``chunk`` rows at a
    time, so 60 000 MNIST images need only a few MB beyond the data. With ``with_variances``,
    also the variance along each axis (eigenvalues of the 1/N covariance, (k,), clamped at 0).
    ``x`` must be finite floats with D <= MAX_DIM. The course's one PCA: notebooks, the store and benchmarks all call it."""
    if not isinstance(x, torch.Tensor) or x.dim() != 2 or x.shape[0] < 2:
        raise ValueError(f"x must be a tensor of shape (N, D) with N >= 2, got {getattr(x, 'shape', type(x))}")
    d = x.shape[1]
    if d > MAX_DIM:
        raise ValueError(f"x has {d} columns; principal_axes supports at most D = {MAX_DIM} "
                         f"(its (D, D) float64 covariance would need {8 * d * d / 2**30:.1f} GiB)")
    check_images(x, "x")
    if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
        raise ValueError(f"chunk must be a positive integer, got {chunk!r}")
    k = d if k is None else k
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= d:
        raise ValueError(f"k must be an integer from 1 to {d}, got {k!r}")
    mean = x.double().mean(0) if x.shape[0] <= chunk else sum(
        x[i:i + chunk].double().sum(0) for i in range(0, len(x), chunk)) / len(x)
    cov = torch.zeros(d, d, dtype=torch.float64)
    for i in range(0, len(x), chunk):
        xc = x[i:i + chunk].double().sub_(mean)  # centred in the chunk's own float64 copy
        cov += xc.T @ xc
    evals, evecs = torch.linalg.eigh(cov / len(x))
    order = torch.argsort(evals, descending=True)[:k]
    if with_variances:
        return mean.float(), evecs[:, order].float(), evals[order].clamp_min(0).float()
    return mean.float(), evecs[:, order].float()


def _check_pca(pca) -> None:
    """A ValueError unless ``pca`` is ``{"mean" (784,), "components" (784, K)}``."""
    shapes = (np.shape(pca.get("mean")), np.shape(pca.get("components"))) if isinstance(pca, dict) else None
    if shapes is None or shapes[0] != (784,) or len(shapes[1]) != 2 or shapes[1][0] != 784:
        raise ValueError('pca must be a dict {"mean" (784,), "components" (784, K)} such as '
                         f"store.pca_fit(), got {type(pca).__name__} {shapes or ''}")


def _as_matrix(values, name: str, ndim: int) -> torch.Tensor:
    """``values`` (a tensor or an array) as a float32 tensor with ``ndim`` dimensions, finite."""
    if isinstance(values, np.ndarray) and values.dtype.kind in "fiu":
        values = torch.from_numpy(values)
    if not isinstance(values, torch.Tensor) or values.dim() != ndim:
        raise ValueError(f"{name} must be a {ndim}-D float tensor or array, got {type(values).__name__} "
                         f"{tuple(getattr(values, 'shape', ()))}")
    t = values.detach().float().cpu()
    check_images(t, name, ndim=None)
    return t


def _check_k(k, limit: int) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= limit:
        raise ValueError(f"k must be an integer in 1..{limit}, got {k!r}")
    return int(k)


def reconstruct(x: torch.Tensor, k: int, pca: dict) -> torch.Tensor:
    """Project images ``x`` (N, 784) onto the top-``k`` principal subspace of ``pca`` (``{"mean" (784,),
    "components" (784, K)}``, e.g. :func:`course_utils.store.pca_fit`) and back: (N, 784).
    ``x``: finite floats (negative values allowed: noisy images); integer tensors and images in
    0..255 are refused (ValueError)."""
    check_images(x, "x", 784, pixels=True)
    _check_pca(pca)
    k = _check_k(k, np.shape(pca["components"])[1])
    mean = torch.as_tensor(pca["mean"]).to(x)
    v = torch.as_tensor(pca["components"][:, :k]).to(x)
    return (x - mean) @ v @ v.T + mean


def mse(x: torch.Tensor, k: int, pca: dict, batch_size: int = 5000) -> float:
    """Mean squared error per pixel of :func:`reconstruct` on images (N, 784), computed batch by batch
    (sums in float64), so that 60 000 images need no full-size temporaries."""
    check_images(x, "x", 784, pixels=True)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    total = 0.0
    for i in range(0, len(x), batch_size):
        xb = x[i:i + batch_size]
        total += float(((reconstruct(xb, k, pca) - xb) ** 2).sum(dtype=torch.float64))
    return total / x.numel()


class PCADenoiser:
    """Project a (noisy) image on the top ``k`` principal components of clean training images,
    then clip to [0, 1]: the classical linear denoiser the DAE must beat (notebook 06)."""

    def __init__(self, mean, components, k: int):
        self.mean = _as_matrix(mean, "mean", 1)
        self.components = _as_matrix(components, "components", 2)
        if self.components.shape[1] != len(self.mean):
            raise ValueError(f"components must be (K, {len(self.mean)}) rows like the mean, "
                             f"got {tuple(self.components.shape)}")
        self.k = _check_k(k, len(self.components))

    def __call__(self, x: torch.Tensor, k: int | None = None) -> torch.Tensor:
        """Denoised images (N, 784) of ``x`` (N, 784), with ``k`` components (default ``self.k``);
        ``x`` is checked as in :func:`reconstruct`."""
        check_images(x, "x", 784, pixels=True)
        v = self.components[:_check_k(self.k if k is None else k, len(self.components))]
        return ((x.float() - self.mean) @ v.T @ v + self.mean).clamp(0, 1)


#: Component counts tried when choosing PCA's k on held-out images.
DENOISE_KS: tuple[int, ...] = (5, 10, 15, 20, 25, 30, 40, 50, 60, 70, 80, 90, 100, 120, 140,
                               160, 200, 250, 300)


def fit_denoiser(x_fit: torch.Tensor, x_val: torch.Tensor, noise: dict, val_seed: int = 2,
                 ks: Sequence[int] = DENOISE_KS) -> dict:
    """Fit PCA on clean images ``x_fit`` (N, 784), corrupt ``x_val`` (M, 784) with ``noise`` (a spec for
    :func:`course_utils.data.add_noise`, seeded with ``val_seed``) and pick the ``k`` of ``ks`` with the
    lowest error on them: ``{"mean", "components" (K, 784) rows, "val_mse" (len(ks),), "k"}``."""
    check_images(x_fit, "x_fit", 784, pixels=True)
    check_images(x_val, "x_val", 784, pixels=True)
    val_seed = check_seed(val_seed, "val_seed")
    ks = check_ints(ks, "ks", 1, min(784, len(x_fit)))
    mean, axes = principal_axes(x_fit, max(ks))
    comps = axes.T.contiguous()  # PCADenoiser keeps components as rows
    den = PCADenoiser(mean, comps, 1)
    val_noisy = add_noise(x_val, generator=torch.Generator().manual_seed(val_seed), **noise)
    val_mse = np.array([float(((den(val_noisy, k) - x_val) ** 2).mean()) for k in ks])
    return {"mean": mean, "components": comps, "val_mse": val_mse, "k": int(ks[int(np.argmin(val_mse))])}

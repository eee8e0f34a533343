"""Notebook 08's toy manifold in closed form: a ring of small Gaussians, its noisy density, score,
distance and tangent, and annealed Langevin dynamics. Plain math on tensors: no plotting, no training.

The data are a mixture of ``N_BUMPS`` isotropic Gaussians of standard deviation ``BUMP_STD`` whose
centres sit evenly on the circle of radius ``RADIUS``. Adding Gaussian noise of level σ to such a
point gives the same mixture with variance ``BUMP_STD² + σ²``, so the density of the data plus noise,
p_σ, and its score ∇ log p_σ are exact, and Tweedie's formula gives the best possible denoiser
E[x | x̃] = x̃ + σ² ∇ log p_σ(x̃). The distance of a point to the circle is ``| |x| − RADIUS |`` and
the tangent at the closest point is ``(−x₂, x₁) / |x|``.
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

import torch

__all__ = ["RADIUS", "N_BUMPS", "BUMP_STD", "centres", "sample", "log_density", "score", "tweedie",
           "distance_to_curve", "tangent", "grid", "langevin_step", "annealed_langevin", "share_within",
           "field_agreement", "walk"]

RADIUS: float = 1.0
N_BUMPS: int = 64
BUMP_STD: float = 0.05


def centres() -> torch.Tensor:
    """The (N_BUMPS, 2) centres of the mixture, evenly spaced on the circle (float64)."""
    t = torch.arange(N_BUMPS, dtype=torch.float64) * (2 * math.pi / N_BUMPS)
    return RADIUS * torch.stack([torch.cos(t), torch.sin(t)], 1)


def sample(n: int, seed: int = 0) -> torch.Tensor:
    """``n`` points (float32, (n, 2)) drawn from the mixture with ``torch.Generator`` seed ``seed``."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    g = torch.Generator().manual_seed(seed)
    k = torch.randint(N_BUMPS, (n,), generator=g)
    x = centres()[k] + BUMP_STD * torch.randn(n, 2, generator=g, dtype=torch.float64)
    return x.float()


def _sigma(sigma) -> float:
    if isinstance(sigma, bool) or not isinstance(sigma, (int, float)) or not math.isfinite(sigma) or sigma < 0:
        raise ValueError(f"sigma must be a finite number >= 0, got {sigma!r}")
    return float(sigma)


def _logits(x: torch.Tensor, sigma: float) -> tuple[torch.Tensor, float]:
    var = BUMP_STD ** 2 + _sigma(sigma) ** 2
    d2 = ((x.double()[:, None, :] - centres()[None]) ** 2).sum(-1)          # (n, K)
    return -d2 / (2 * var), var


def log_density(x: torch.Tensor, sigma: float = 0.0) -> torch.Tensor:
    """log p_σ(x) (float64, (n,)) of the data plus N(0, σ² I) noise; σ = 0: the data's own density."""
    logits, var = _logits(x, sigma)
    return torch.logsumexp(logits, 1) - math.log(N_BUMPS) - math.log(2 * math.pi * var)


def score(x: torch.Tensor, sigma: float = 0.0) -> torch.Tensor:
    """The exact score ∇ₓ log p_σ(x) (float64, (n, 2)): Σ_k w_k(x) (μ_k − x) / (s² + σ²), where w_k
    are the posterior weights of the components."""
    logits, var = _logits(x, sigma)
    w = torch.softmax(logits, 1)
    return (w @ centres() - x.double()) / var


def tweedie(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """The best denoiser for noise level σ, E[x | x̃] = x̃ + σ² ∇ log p_σ(x̃) (float64, (n, 2))."""
    return x.double() + _sigma(sigma) ** 2 * score(x, sigma)


def distance_to_curve(x: torch.Tensor) -> torch.Tensor:
    """Exact Euclidean distance of each point to the circle, ``| |x| − RADIUS |`` ((n,), float64)."""
    return (x.double().norm(dim=1) - RADIUS).abs()


def tangent(x: torch.Tensor) -> torch.Tensor:
    """Unit tangent of the circle at the point closest to each x: ``(−x₂, x₁) / |x|`` ((n, 2))."""
    x = x.double()
    return torch.stack([-x[:, 1], x[:, 0]], 1) / x.norm(dim=1, keepdim=True)


def grid(lim: float = 2.0, n: int = 21) -> torch.Tensor:
    """An n × n grid of points over [−lim, lim]² as (n², 2) float32, rows of constant y."""
    t = torch.linspace(-lim, lim, n)
    yy, xx = torch.meshgrid(t, t, indexing="ij")
    return torch.stack([xx.flatten(), yy.flatten()], 1)


def field_agreement(field: torch.Tensor, exact: torch.Tensor) -> dict:
    """How well one vector field matches another on the same points: mean cosine similarity and the
    relative error ‖field − exact‖ / ‖exact‖ (both norms summed over all points)."""
    f, e = field.double(), exact.double()
    cos = torch.nn.functional.cosine_similarity(f, e, dim=1, eps=1e-12)
    rel = float((f - e).norm() / e.norm())
    return {"cosine": float(cos.mean()), "relative_error": rel, "cosines": cos}


def walk(denoiser: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, steps: int) -> list[torch.Tensor]:
    """``[x, r(x), r(r(x)), …]``: ``steps`` repeated applications of ``denoiser`` (steps + 1 tensors)."""
    out = [x]
    for _ in range(steps):
        out.append(denoiser(out[-1]))
    return out


def langevin_step(x: torch.Tensor, score_x: torch.Tensor, step: float, noise: torch.Tensor) -> torch.Tensor:
    """One Langevin step: x + (step / 2)·score(x) + √step · z, with z ~ N(0, I) given as ``noise``."""
    return x + 0.5 * step * score_x + math.sqrt(step) * noise


def annealed_langevin(scores: Sequence[Callable[[torch.Tensor], torch.Tensor]], sigmas: Sequence[float], n: int,
                      steps: int = 50, eps: float = 0.1, seed: int = 0, start_std: float | None = None,
                      denoise: Callable[[torch.Tensor], torch.Tensor] | None = None) -> torch.Tensor:
    """Annealed Langevin dynamics (Song & Ermon 2019): start from N(0, start_std² I) (default the
    largest σ, at least 1), then for each noise level σᵢ from largest to smallest run ``steps``
    Langevin steps with the score ``scores[i]`` and step size ``eps · σᵢ²``. ``denoise``, if given,
    is applied once at the end (Tweedie's denoising of the last level). Returns (n, 2) float32."""
    if len(scores) != len(sigmas) or not len(sigmas):
        raise ValueError("give one score function per noise level")
    if list(sigmas) != sorted(sigmas, reverse=True):
        raise ValueError(f"sigmas must go from largest to smallest, got {list(sigmas)}")
    g = torch.Generator().manual_seed(seed)
    std = max(1.0, sigmas[0]) if start_std is None else start_std
    x = std * torch.randn(n, 2, generator=g)
    for s, sc in zip(sigmas, scores):
        a = eps * s ** 2
        for _ in range(steps):
            x = langevin_step(x, sc(x).float(), a, torch.randn(n, 2, generator=g))
    return (denoise(x) if denoise is not None else x).float()


def share_within(x: torch.Tensor, delta: float) -> float:
    """The share of points whose distance to the circle is below ``delta``."""
    return float((distance_to_curve(x) < delta).double().mean())

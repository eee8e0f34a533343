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

from .data import check_images, check_seed

__all__ = ["RADIUS", "N_BUMPS", "BUMP_STD", "centres", "sample", "log_density", "score", "tweedie",
           "distance_to_curve", "tangent", "grid", "langevin_step", "annealed_langevin", "share_within",
           "field_agreement", "walk"]

RADIUS: float = 1.0
N_BUMPS: int = 64
BUMP_STD: float = 0.05
#: The most points / steps / grid lines one call accepts (each is allocated or looped over in one piece).
MAX_POINTS: int = 1_000_000
MAX_STEPS: int = 10_000
MAX_GRID: int = 1_000


def _int_in(value, lo: int, hi: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ValueError(f"{name} must be an integer in {lo}..{hi}, got {value!r}")
    return int(value)


def _number(value, name: str, lo: float = 0.0, positive: bool = False) -> float:
    """``value`` as a float, or a ValueError unless it is a finite number >= lo (> lo if positive)."""
    if (isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value)
            or value < lo or (positive and value == lo)):
        raise ValueError(f"{name} must be a finite number {'>' if positive else '>='} {lo:g}, got {value!r}")
    return float(value)


def _points(x, name: str = "x") -> torch.Tensor:
    """``x`` checked: a finite floating-point tensor of shape (n, 2), n >= 1."""
    check_images(x, name, 2)
    return x


def centres() -> torch.Tensor:
    """The (N_BUMPS, 2) centres of the mixture, evenly spaced on the circle (float64)."""
    t = torch.arange(N_BUMPS, dtype=torch.float64) * (2 * math.pi / N_BUMPS)
    return RADIUS * torch.stack([torch.cos(t), torch.sin(t)], 1)


def sample(n: int, seed: int = 0) -> torch.Tensor:
    """``n`` points (float32, (n, 2)) drawn from the mixture with ``torch.Generator`` seed ``seed``."""
    n = _int_in(n, 1, MAX_POINTS, "n")
    g = torch.Generator().manual_seed(check_seed(seed))
    k = torch.randint(N_BUMPS, (n,), generator=g)
    x = centres()[k] + BUMP_STD * torch.randn(n, 2, generator=g, dtype=torch.float64)
    return x.float()


def _sigma(sigma) -> float:
    return _number(sigma, "sigma")


def _logits(x: torch.Tensor, sigma: float) -> tuple[torch.Tensor, float]:
    _points(x)
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
    return _points(x).double() + _sigma(sigma) ** 2 * score(x, sigma)


def distance_to_curve(x: torch.Tensor) -> torch.Tensor:
    """Exact Euclidean distance of each point to the circle, ``| |x| − RADIUS |`` ((n,), float64)."""
    return (_points(x).double().norm(dim=1) - RADIUS).abs()


def tangent(x: torch.Tensor) -> torch.Tensor:
    """Unit tangent of the circle at the point closest to each x: ``(−x₂, x₁) / |x|`` ((n, 2))."""
    x = _points(x).double()
    r = x.norm(dim=1, keepdim=True)
    if not bool((r > 0).all()):
        raise ValueError("x must not hold the origin (0, 0): every direction is equally close to the circle there")
    return torch.stack([-x[:, 1], x[:, 0]], 1) / r


def grid(lim: float = 2.0, n: int = 21) -> torch.Tensor:
    """An n × n grid of points over [−lim, lim]² as (n², 2) float32, rows of constant y."""
    lim = _number(lim, "lim", positive=True)
    n = _int_in(n, 2, MAX_GRID, "n")
    t = torch.linspace(-lim, lim, n)
    yy, xx = torch.meshgrid(t, t, indexing="ij")
    return torch.stack([xx.flatten(), yy.flatten()], 1)


def field_agreement(field: torch.Tensor, exact: torch.Tensor) -> dict:
    """How well one vector field matches another on the same points: mean cosine similarity and the
    relative error ‖field − exact‖ / ‖exact‖ (both norms summed over all points)."""
    _points(field, "field")
    _points(exact, "exact")
    if field.shape != exact.shape:
        raise ValueError(f"field and exact must have the same shape (n, 2), got {tuple(field.shape)} and "
                         f"{tuple(exact.shape)}")
    f, e = field.double(), exact.double()
    if not bool((e != 0).any()):
        raise ValueError("exact must hold at least one non-zero vector (the relative error divides by its norm)")
    cos = torch.nn.functional.cosine_similarity(f, e, dim=1, eps=1e-12)
    rel = float((f - e).norm() / e.norm())
    return {"cosine": float(cos.mean()), "relative_error": rel, "cosines": cos}


def walk(denoiser: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, steps: int) -> list[torch.Tensor]:
    """``[x, r(x), r(r(x)), …]``: ``steps`` repeated applications of ``denoiser`` (steps + 1 tensors)."""
    if not callable(denoiser):
        raise ValueError(f"denoiser must be a callable (a model or function) of x, got {type(denoiser).__name__}")
    check_images(x, "x")
    steps = _int_in(steps, 0, MAX_STEPS, "steps")
    out = [x]
    for i in range(steps):
        y = denoiser(out[-1])
        if not isinstance(y, torch.Tensor) or y.shape != x.shape:
            got = tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
            raise ValueError(f"denoiser must return a tensor of x's shape {tuple(x.shape)}, got {got}")
        if not bool(torch.isfinite(y).all()):
            raise ValueError(f"denoiser returned NaN or infinity at step {i + 1} (expected finite points)")
        out.append(y)
    return out


def langevin_step(x: torch.Tensor, score_x: torch.Tensor, step: float, noise: torch.Tensor) -> torch.Tensor:
    """One Langevin step: x + (step / 2)·score(x) + √step · z, with z ~ N(0, I) given as ``noise``."""
    _points(x)
    for name, t in (("score_x", score_x), ("noise", noise)):
        _points(t, name)
        if t.shape != x.shape:
            raise ValueError(f"{name} must have x's shape {tuple(x.shape)}, got {tuple(t.shape)}")
    step = _number(step, "step")
    return x + 0.5 * step * score_x + math.sqrt(step) * noise


def annealed_langevin(scores: Sequence[Callable[[torch.Tensor], torch.Tensor]], sigmas: Sequence[float], n: int,
                      steps: int = 50, eps: float = 0.1, seed: int = 0, start_std: float | None = None,
                      denoise: Callable[[torch.Tensor], torch.Tensor] | None = None) -> torch.Tensor:
    """Annealed Langevin dynamics (Song & Ermon 2019): start from N(0, start_std² I) (default the
    largest σ, at least 1), then for each noise level σᵢ from largest to smallest run ``steps``
    Langevin steps with the score ``scores[i]`` and step size ``eps · σᵢ²``. ``denoise``, if given,
    is applied once at the end (Tweedie's denoising of the last level). Returns (n, 2) float32."""
    if (isinstance(sigmas, (str, bytes, dict)) or not isinstance(sigmas, Sequence) or not len(sigmas)
            or not all(isinstance(s, (int, float)) and not isinstance(s, bool) and math.isfinite(s) and s > 0
                       for s in sigmas)):
        raise ValueError(f"sigmas must be a non-empty sequence of finite numbers > 0, got {sigmas!r}")
    if (isinstance(scores, (str, bytes, dict)) or not isinstance(scores, Sequence)
            or not all(callable(sc) for sc in scores)):
        raise ValueError(f"scores must be a sequence of score functions (callables), got {scores!r}")
    if len(scores) != len(sigmas):
        raise ValueError(f"scores must hold one score function per noise level: {len(scores)} for "
                         f"{len(sigmas)} sigmas")
    if list(sigmas) != sorted(sigmas, reverse=True):
        raise ValueError(f"sigmas must go from largest to smallest, got {list(sigmas)}")
    n = _int_in(n, 1, MAX_POINTS, "n")
    steps = _int_in(steps, 0, MAX_STEPS, "steps")
    eps = _number(eps, "eps", positive=True)
    g = torch.Generator().manual_seed(check_seed(seed))
    std = max(1.0, sigmas[0]) if start_std is None else _number(start_std, "start_std", positive=True)
    if denoise is not None and not callable(denoise):
        raise ValueError(f"denoise must be None or a callable of the samples, got {type(denoise).__name__}")
    x = std * torch.randn(n, 2, generator=g)
    for s, sc in zip(sigmas, scores):
        a = eps * s ** 2
        for _ in range(steps):
            sx = sc(x)
            if not isinstance(sx, torch.Tensor) or sx.shape != x.shape:
                got = tuple(sx.shape) if isinstance(sx, torch.Tensor) else type(sx).__name__
                raise ValueError(f"scores must return a tensor of shape {tuple(x.shape)}, got {got}")
            x = langevin_step(x, sx.float(), a, torch.randn(n, 2, generator=g))
            if not bool(torch.isfinite(x).all()):
                raise ValueError(f"the samples diverged to NaN or infinity at σ = {s:g}: eps ({eps:g}) must be "
                                 "smaller (or a score function returned NaN)")
    out = denoise(x) if denoise is not None else x
    if not isinstance(out, torch.Tensor) or out.shape != x.shape:
        raise ValueError(f"denoise must return a tensor of shape {tuple(x.shape)}")
    return out.float()


def share_within(x: torch.Tensor, delta: float) -> float:
    """The share of points whose distance to the circle is below ``delta``."""
    delta = _number(delta, "delta", positive=True)
    return float((distance_to_curve(x) < delta).double().mean())

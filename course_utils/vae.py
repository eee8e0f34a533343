"""Notebook 09: the variational autoencoder (변분 오토인코더), its loss, sampler and measurements.

Imports nothing of ours but :mod:`course_utils.data`'s checks. The notebook writes :class:`VAE`,
the reparameterisation, the Gaussian KL and the loss out in its cells and asserts they equal the
ones here, which the cache (:func:`course_utils.recipes.vae`), the widgets and ``prepare`` use.

* :class:`VAE` — an MLP encoder giving a mean and a log-variance per latent dimension, and an MLP
  decoder giving Bernoulli logits for every pixel (Kingma & Welling 2014).
* :func:`gaussian_kl`, :func:`bernoulli_nll`, :func:`negative_elbo` — the loss in nats per image:
  reconstruction (binary cross-entropy, summed over pixels) + β · KL(q(z|x) ‖ N(0, I)).
* :func:`elbo_objective` — that loss as a ``training.fit`` objective, on stochastically binarised
  batches (each pixel on with probability its grey level, drawn afresh for every batch).
* :func:`log_weights` / :func:`evaluate` — the ELBO and the importance-weighted estimate of
  log p(x) of Burda et al. (2016) from the same k draws (so the estimate is never below the ELBO).
* :class:`DigitClassifier`, :func:`digit_confidence`, :func:`frechet_distance` — a small MNIST
  classifier and the Fréchet distance between its features of two image sets (a stand-in for FID).
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .data import check_images, check_seed

__all__ = ["VAE", "reparameterize", "gaussian_kl", "bernoulli_nll", "negative_elbo", "elbo_objective",
           "binarize", "sample", "prior_grid", "log_weights", "evaluate", "DigitClassifier", "soft_cross_entropy",
           "digit_confidence", "classifier_features", "frechet_distance", "CONFIDENT"]

#: A classifier probability above this counts as "assigned with high confidence".
CONFIDENT: float = 0.9


def _positive_int(value, name: str, hi: int = 10**7) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 1 <= value <= hi:
        raise ValueError(f"{name} must be an integer in 1..{hi}, got {value!r}")
    return int(value)


def _check_layers(sizes, what: str) -> list[int]:
    if isinstance(sizes, (str, bytes, dict)) or not hasattr(sizes, "__iter__"):
        raise ValueError(f"{what} sizes must be a sequence of positive integers, got {sizes!r}")
    sizes = list(sizes)
    if len(sizes) < 2 or not all(isinstance(s, int) and not isinstance(s, bool) and 1 <= s <= 65_536
                                 for s in sizes):
        raise ValueError(f"{what} sizes must be two or more integers in 1..65536 (input … output), "
                         f"got {sizes!r}")
    return sizes


def _mlp(sizes: list[int]) -> nn.Sequential:
    """Linear layers with ReLU between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class VAE(nn.Module):
    """A variational autoencoder with MLP encoder and decoder (ReLU, PyTorch's default init).

    ``sizes`` run from the input to the latent, e.g. ``(784, 400, 20)``: the encoder maps (N, 784)
    through the hidden layers to a mean ``mu`` (N, 20) and a log-variance ``logvar`` (N, 20) (one
    linear layer each, on the last hidden layer); the decoder mirrors the hidden layers back to
    784 Bernoulli logits. :meth:`forward` is the deterministic reconstruction ``decode(mu)``
    (probabilities in [0, 1]); the loss lives in :func:`negative_elbo`.
    """

    def __init__(self, sizes: Sequence[int] = (784, 400, 20)) -> None:
        super().__init__()
        sizes = _check_layers(sizes, "VAE")
        if len(sizes) < 3:
            raise ValueError(f"VAE sizes need at least one hidden layer: (input, hidden…, latent), got {sizes!r}")
        self.sizes = sizes
        self.config = {"sizes": sizes}
        self.encoder = nn.Sequential(*_mlp(sizes[:-1]), nn.ReLU())
        self.to_mu = nn.Linear(sizes[-2], sizes[-1])
        self.to_logvar = nn.Linear(sizes[-2], sizes[-1])
        self.decoder = _mlp(sizes[::-1])

    @property
    def input_dim(self) -> int:
        return self.sizes[0]

    @property
    def latent_dim(self) -> int:
        return self.sizes[-1]

    def _check(self, x: torch.Tensor, n: int, what: str, pixels: bool) -> torch.Tensor:
        if not isinstance(x, torch.Tensor):
            raise ValueError(f"{what} must be a torch.Tensor of shape (N, {n}), got {type(x).__name__}")
        if self.training:  # fit checks its data once; here only shape and dtype
            if x.dim() != 2 or x.shape[1] != n or not x.is_floating_point():
                raise ValueError(f"{what} must be a float tensor of shape (N, {n}), got {x.dtype} {tuple(x.shape)}")
        else:
            check_images(x, what, n, pixels=pixels)
        dtype = self.to_mu.weight.dtype
        return x if x.dtype == dtype else x.to(dtype)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(N, input_dim) images in [0, 1] → ``(mu, logvar)``, each (N, latent_dim)."""
        h = self.encoder(self._check(x, self.input_dim, "encoder input", pixels=True))
        return self.to_mu(h), self.to_logvar(h)

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        """(N, latent_dim) codes → (N, input_dim) Bernoulli logits."""
        return self.decoder(self._check(z, self.latent_dim, "code", pixels=False))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """(N, latent_dim) codes → (N, input_dim) pixel probabilities (the decoder's mean image)."""
        return torch.sigmoid(self.decode_logits(z))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, input_dim) → the mean reconstruction ``decode(mu)`` (N, input_dim)."""
        return self.decode(self.encode(x)[0])


#: The largest log-variance accepted (exp(80) is near float32's limit; a trained encoder is far below).
MAX_LOGVAR: float = 80.0


def _finite(t: torch.Tensor, name: str, hi: float | None = None) -> None:
    lo_, hi_ = (float(v) for v in torch.aminmax(t.detach()))
    if not (math.isfinite(lo_) and math.isfinite(hi_)):
        raise ValueError(f"{name} contains NaN or infinite values (expected finite numbers)")
    if hi is not None and hi_ > hi:
        raise ValueError(f"{name} must be at most {hi:g} (a log-variance; exp of it is the variance), got {hi_:g}")


def _pair(mu: torch.Tensor, logvar: torch.Tensor) -> None:
    for name, t in (("mu", mu), ("logvar", logvar)):
        if not isinstance(t, torch.Tensor) or not t.is_floating_point() or t.dim() != 2 or t.numel() == 0:
            raise ValueError(f"{name} must be a float tensor of shape (N, latent), got "
                             f"{getattr(t, 'dtype', type(t).__name__)} {tuple(getattr(t, 'shape', ()))}")
    if mu.shape != logvar.shape:
        raise ValueError(f"mu {tuple(mu.shape)} and logvar {tuple(logvar.shape)} must have the same shape")
    _finite(mu, "mu")
    _finite(logvar, "logvar", MAX_LOGVAR)


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor, eps: torch.Tensor | None = None) -> torch.Tensor:
    """z = mu + exp(logvar / 2) · eps, eps ~ N(0, I) (drawn here unless given): (N, latent), with
    gradients flowing to ``mu`` and ``logvar`` (the reparameterisation trick, 재매개변수화)."""
    _pair(mu, logvar)
    if eps is None:
        eps = torch.randn_like(mu)
    elif not isinstance(eps, torch.Tensor) or eps.shape != mu.shape or not eps.is_floating_point():
        raise ValueError(f"eps must be a float tensor shaped like mu {tuple(mu.shape)}, got "
                         f"{tuple(getattr(eps, 'shape', ())) or type(eps).__name__}")
    else:
        _finite(eps, "eps")
    return mu + torch.exp(0.5 * logvar) * eps


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL( N(mu, diag exp(logvar)) ‖ N(0, I) ) per row, in nats: (N,).
    = ½ Σ_j (mu_j² + exp(logvar_j) − 1 − logvar_j)."""
    _pair(mu, logvar)
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(1)


def bernoulli_nll(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """−log p(x | z) of a Bernoulli decoder per row, in nats: binary cross-entropy with ``logits``
    (N, D) summed over the D pixels; ``x`` (N, D) in [0, 1] (binary or grey): (N,)."""
    if not isinstance(logits, torch.Tensor) or not logits.is_floating_point() or logits.dim() != 2:
        raise ValueError(f"logits must be a float tensor of shape (N, D), got {getattr(logits, 'shape', logits)!r}")
    if not isinstance(x, torch.Tensor) or x.shape != logits.shape or not x.is_floating_point():
        raise ValueError(f"x must be a float tensor shaped like logits {tuple(logits.shape)}, got "
                         f"{getattr(x, 'dtype', '')} {tuple(getattr(x, 'shape', ())) or type(x).__name__}")
    _finite(logits, "logits")
    check_images(x, "x", pixels=True)
    return F.binary_cross_entropy_with_logits(logits, x.to(logits.dtype), reduction="none").sum(1)


def negative_elbo(model: VAE, x: torch.Tensor, beta: float = 1.0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(loss, reconstruction, kl)``: reconstruction = −log p(x | z) at one reparameterised draw
    z ~ q(z | x) and kl = KL(q(z | x) ‖ N(0, I)), each (N,) in nats; loss = mean(reconstruction +
    beta · kl) (a scalar; with beta = 1 the negative ELBO (증거 하한) per image)."""
    if not isinstance(model, VAE):
        raise ValueError(f"model must be a course_utils.vae.VAE, got {type(model).__name__}")
    beta = _beta(beta)
    mu, logvar = (t.float() for t in model.encode(x))    # float32 even under bf16 autocast (CUDA)
    z = reparameterize(mu, logvar)
    rec = bernoulli_nll(model.decode_logits(z), x)
    kl = gaussian_kl(mu, logvar)
    return (rec + beta * kl).mean(), rec, kl


def _beta(beta) -> float:
    if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not 0 <= beta <= 1000 \
            or not math.isfinite(beta):
        raise ValueError(f"beta must be a number in [0, 1000], got {beta!r}")
    return float(beta)


def elbo_objective(beta: float = 1.0) -> Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]:
    """The batch loss for ``training.fit(..., objective=…)``: the target batch (grey images) is
    binarised afresh (each pixel on with probability its grey level), then ``negative_elbo`` with
    ``beta`` is taken on it. The draws use torch's global generator."""
    beta = _beta(beta)

    def objective(model: nn.Module, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return negative_elbo(model, torch.bernoulli(target), beta)[0]

    return objective


def binarize(x: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """A fixed stochastic binarisation of images ``x`` (N, D) in [0, 1]: each pixel is 1 with
    probability its grey level, drawn with ``seed`` (float32 0/1, same shape)."""
    check_images(x, "x", pixels=True)
    if float(x.min()) < 0:
        raise ValueError("x must hold grey levels in [0, 1] (probabilities), got negative values")
    return torch.bernoulli(x.float(), generator=torch.Generator().manual_seed(check_seed(seed)))


def _check_vae(model) -> VAE:
    if not isinstance(model, VAE):
        raise ValueError(f"model must be a course_utils.vae.VAE, got {type(model).__name__}")
    return model


@torch.no_grad()
def sample(model: VAE, n: int, seed: int = 0) -> torch.Tensor:
    """``n`` prior samples: z ~ N(0, I) (drawn with ``seed``) decoded to mean images (n, input_dim)."""
    model = _check_vae(model)
    n = _positive_int(n, "n", 100_000)
    w = model.to_mu.weight
    z = torch.randn(n, model.latent_dim, generator=torch.Generator().manual_seed(check_seed(seed)))
    was = model.training
    model.eval()
    try:
        return model.decode(z.to(w.device, w.dtype)).float().cpu()
    finally:
        model.train(was)


def prior_grid(steps: int = 15, edge: float = 0.05) -> torch.Tensor:
    """Codes (steps², 2) at the N(0, 1) quantiles of an even grid over [edge, 1 − edge]² (the figure
    of Kingma & Welling 2014): row by row from the top (z₂ largest), z₁ growing left to right."""
    steps = _positive_int(steps, "steps", 100)
    if isinstance(edge, bool) or not isinstance(edge, (int, float)) or not 0 < edge < 0.5:
        raise ValueError(f"edge must be a number in (0, 0.5), got {edge!r}")
    q = torch.special.ndtri(torch.linspace(edge, 1 - edge, steps, dtype=torch.float64)).float()
    z2, z1 = torch.meshgrid(q.flip(0), q, indexing="ij")
    return torch.stack([z1.reshape(-1), z2.reshape(-1)], 1)


@torch.no_grad()
def log_weights(model: VAE, x: torch.Tensor, k: int, seed: int = 0, batch_size: int = 500) -> torch.Tensor:
    """Importance log-weights log p(x, z_i) − log q(z_i | x) for k draws z_i ~ q(z | x) per image
    (Burda et al. 2016): (N, k) float64, in nats. Their mean over k is an estimate of the ELBO;
    logsumexp − log k is the importance-weighted estimate of log p(x) (see :func:`evaluate`). Images
    are taken ``batch_size`` at a time, fewer when k is large (at most 10 000 decoded images at once)."""
    model = _check_vae(model)
    check_images(x, "x", model.input_dim, pixels=True)
    k = _positive_int(k, "k", 10_000)
    batch_size = _positive_int(batch_size, "batch_size")
    gen = torch.Generator().manual_seed(check_seed(seed))
    batch_size = max(1, min(batch_size, 10_000 // k))     # bounds the (k, B, 784) logits in memory
    was = model.training
    model.eval()
    log2pi = math.log(2 * math.pi)
    out = []
    try:
        dev, dtype = model.to_mu.weight.device, model.to_mu.weight.dtype
        for i in range(0, len(x), batch_size):
            xb = x[i:i + batch_size].to(dev, dtype)
            mu, logvar = model.encode(xb)
            eps = torch.randn(k, *mu.shape, generator=gen).to(dev, dtype)              # (k, B, L)
            z = mu + torch.exp(0.5 * logvar) * eps
            log_q = -0.5 * (eps.pow(2) + logvar + log2pi).sum(-1)                       # log q(z | x)
            log_prior = -0.5 * (z.pow(2) + log2pi).sum(-1)                              # log N(z; 0, I)
            logits = model.decode_logits(z.reshape(-1, mu.shape[1])).reshape(k, len(xb), -1)
            log_lik = -F.binary_cross_entropy_with_logits(logits, xb.expand(k, -1, -1),
                                                          reduction="none").sum(-1)   # log p(x | z)
            out.append((log_lik + log_prior - log_q).double().T.cpu())
    finally:
        model.train(was)
    return torch.cat(out)


def evaluate(model: VAE, x: torch.Tensor, k: int = 100, seed: int = 0, batch_size: int = 500) -> dict:
    """Per-image estimates in nats from the same k draws: ``{"elbo": (N,), "log_px": (N,)}``, where
    elbo = mean_i log w_i and log_px = log (1/k) Σ_i w_i ≥ elbo (Jensen, image by image), plus
    ``"kl"`` (N,) the closed-form KL and ``"reconstruction"`` (N,) = −elbo − kl (the estimated
    −log p(x | z), so that −elbo = reconstruction + kl). float64 numpy arrays."""
    lw = log_weights(model, x, k, seed, batch_size)
    with torch.no_grad():
        was = model.training
        model.eval()
        try:
            w = model.to_mu.weight
            kl = torch.cat([gaussian_kl(*model.encode(x[i:i + batch_size].to(w.device, w.dtype))).double().cpu()
                            for i in range(0, len(x), batch_size)])
        finally:
            model.train(was)
    elbo = lw.mean(1)
    log_px = torch.logsumexp(lw, 1) - math.log(lw.shape[1])
    return {"elbo": elbo.numpy(), "log_px": log_px.numpy(), "kl": kl.numpy(), "reconstruction": (-elbo - kl).numpy()}


# --- the digit classifier and the Fréchet distance -------------------------------------------------

class DigitClassifier(nn.Module):
    """An MLP digit classifier ``sizes[0] → … → sizes[-1]`` (ReLU, PyTorch's default init), e.g.
    ``(784, 256, 64, 10)``. :meth:`features` is the last hidden layer (N, sizes[-2]) (what the
    Fréchet distance compares); :meth:`forward` gives the logits (N, sizes[-1])."""

    def __init__(self, sizes: Sequence[int] = (784, 256, 64, 10)) -> None:
        super().__init__()
        sizes = _check_layers(sizes, "classifier")
        if len(sizes) < 3:
            raise ValueError(f"classifier sizes need a hidden layer (its features), got {sizes!r}")
        self.sizes = sizes
        self.config = {"sizes": sizes}
        self.body = nn.Sequential(*_mlp(sizes[:-1]), nn.ReLU())
        self.head = nn.Linear(sizes[-2], sizes[-1])

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(N, sizes[0]) images in [0, 1] → (N, sizes[-2]) hidden features."""
        if self.training:
            if not isinstance(x, torch.Tensor) or x.dim() != 2 or x.shape[1] != self.sizes[0]:
                raise ValueError(f"x must be a tensor of shape (N, {self.sizes[0]}), got {getattr(x, 'shape', x)!r}")
        else:
            check_images(x, "x", self.sizes[0], pixels=True)
        return self.body(x.to(self.head.weight.dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, sizes[0]) → (N, classes) logits."""
        return self.head(self.features(x))


def soft_cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of ``logits`` (N, C) against one-hot (or soft) ``target`` (N, C): a scalar
    (the loss ``training.fit`` trains :class:`DigitClassifier` with; targets are one-hot rows)."""
    if not isinstance(logits, torch.Tensor) or not isinstance(target, torch.Tensor) \
            or logits.shape != target.shape or logits.dim() != 2 or not logits.is_floating_point() \
            or not target.is_floating_point():
        raise ValueError(f"logits and target must be float tensors of the same shape (N, C), got "
                         f"{getattr(logits, 'shape', logits)!r} and {getattr(target, 'shape', target)!r}")
    _finite(logits, "logits")
    _finite(target, "target")
    return F.cross_entropy(logits, target.to(logits.dtype))


def _check_classifier(model) -> DigitClassifier:
    if not isinstance(model, DigitClassifier):
        raise ValueError(f"classifier must be a course_utils.vae.DigitClassifier, got {type(model).__name__}")
    return model


@torch.no_grad()
def _run_classifier(classifier: DigitClassifier, x: torch.Tensor, what: str, batch_size: int = 2000) -> torch.Tensor:
    classifier = _check_classifier(classifier)
    check_images(x, "x", classifier.sizes[0], pixels=True)
    was = classifier.training
    classifier.eval()
    try:
        w = classifier.head.weight
        f = classifier.features if what == "features" else classifier
        return torch.cat([f(x[i:i + batch_size].to(w.device, w.dtype)).float().cpu()
                          for i in range(0, len(x), batch_size)])
    finally:
        classifier.train(was)


def digit_confidence(classifier: DigitClassifier, x: torch.Tensor) -> dict:
    """How digit-like images ``x`` (N, 784) look to ``classifier``: ``{"confidence": mean of the
    largest class probability, "confident_share": share of images whose largest probability is above
    CONFIDENT, "labels": (N,) predicted digits, "max_prob": (N,)}``."""
    p = torch.softmax(_run_classifier(classifier, x, "logits"), 1)
    top, labels = p.max(1)
    return {"confidence": float(top.mean()), "confident_share": float((top > CONFIDENT).float().mean()),
            "labels": labels.numpy(), "max_prob": top.numpy()}


def classifier_features(classifier: DigitClassifier, x: torch.Tensor) -> np.ndarray:
    """The classifier's hidden features of images ``x`` (N, 784): (N, F) float64."""
    return _run_classifier(classifier, x, "features").double().numpy()


def frechet_distance(features_a, features_b) -> float:
    """The Fréchet distance between Gaussians fitted to two feature sets (N, F) and (M, F):
    ‖m_a − m_b‖² + tr(C_a + C_b − 2 (C_a^½ C_b C_a^½)^½) (Heusel et al. 2017's FID, here on a small
    MNIST classifier's features). 0 for identical statistics; same units as squared features."""
    try:
        a, b = (np.asarray(v.detach().cpu() if isinstance(v, torch.Tensor) else v, dtype=np.float64)
                for v in (features_a, features_b))
    except (TypeError, ValueError):
        raise ValueError("features must be two numeric arrays (N, F) and (M, F)") from None
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or len(a) < 2 or len(b) < 2:
        raise ValueError(f"features must be two arrays (N, F) and (M, F), N, M >= 2, got {a.shape} and {b.shape}")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("features must be finite (expected numbers, got NaN or infinity)")
    ca, cb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    w, v = np.linalg.eigh(ca)
    root_a = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    middle = np.linalg.eigvalsh(root_a @ cb @ root_a)
    cross = float(np.sqrt(np.clip(middle, 0, None)).sum())
    return float(((a.mean(0) - b.mean(0)) ** 2).sum() + np.trace(ca) + np.trace(cb) - 2 * cross)

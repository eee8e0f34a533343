"""Sizes and switches of the course. Imports nothing of ours.

Fast mode (``COURSE_FAST=1``, used by CI and smoke runs) shrinks data sizes and epochs; it never
skips a cell or a check. Notebooks ask this module for sizes with :func:`size`; they never read the
environment themselves.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = ["FAST", "SIZES", "size", "pick", "data_dir", "cache_dir", "artifact_dir"]


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() not in ("", "0", "false", "no", "off")


#: True when ``COURSE_FAST=1``: CI and smoke runs use smaller data and fewer epochs.
FAST: bool = _truthy(os.environ.get("COURSE_FAST"))

#: Every size that fast mode shrinks, as ``name: (full, fast)``. A notebook asks ``size(name)``.
SIZES: dict[str, tuple[int, int]] = {
    # foundation / shared
    "mnist_train": (60_000, 6_000),      # training images used by the MNIST lessons
    "mnist_test": (10_000, 2_000),       # test images used to report errors
    "epochs": (10, 2),                   # default epochs of a lesson's training run
    "batch_size": (300, 300),            # the seminar's batch size (not shrunk)
    # notebooks 01-03
    "knn_train": (5_000, 2_000),         # k-NN labelled images (from the test split) + noise dimensions (01)
    "knn_test": (1_000, 500),            # k-NN held-out images, disjoint from those (01)
    "manifold_images": (5_000, 1_000),   # MNIST and noise images for PCA and intrinsic dimension (02)
    "swiss_roll": (1_500, 800),          # points on the Swiss roll (02)
    "swiss_ae_epochs": (300, 150),       # epochs of the small 2-D-code autoencoder on the Swiss roll (02)
    "tsne_iterations": (1_000, 500),     # t-SNE optimisation steps (02, 03)
    # notebooks 04-05
    "ae_epochs": (10, 6),                # epochs of each model of the latent-size family (04)
    "linear_ae_epochs": (20, 20),        # linear AE vs PCA (04); fast mode has 10x fewer steps per epoch
    "tsne_points": (2_000, 500),         # test points embedded by t-SNE (03, 04)
    "stacked_epochs": (10, 4),           # deep vs shallow, end-to-end training (05)
    "pretrain_epochs": (3, 2),           # greedy pretraining epochs per layer (05)
    # notebook 06
    "dae_epochs": (10, 8),               # epochs of each denoising autoencoder (seminar, each fix, masking)
    "dae_val": (5_000, 1_000),           # training images held out to choose PCA's k for denoising
    # notebook 07
    "compress_epochs": (5, 4),           # epochs of each quantized autoencoder (one per bit depth)
    "compress_test": (10_000, 1_000),    # test digits every codec (AE, PCA, JPEG) is measured on
    "probe_draws": (5, 1),               # random draws of the labelled images, averaged
    # notebook 08
    "curve_train": (20_000, 10_000),      # points of the 2-D ring data the toy DAEs train on
    "curve_dae_epochs": (20, 20),        # epochs of each toy DAE (one per noise level)
    "cae_steps": (1_500, 600),           # Adam steps of the contractive AE and its plain twin
    "swiss_field_epochs": (100, 100),    # epochs of the Swiss-roll plain / denoising / contractive models
    "langevin_samples": (2_000, 1_000),  # samples drawn by annealed Langevin dynamics
    "langevin_steps": (50, 50),          # Langevin steps per noise level
    "detector_eval": (1_000, 300),       # test digits and off-manifold images per kind (detector)
    "heldout_train": (20_000, 3_000),    # training images (all classes) behind the held-out-class models
    "heldout_epochs": (5, 3),            # epochs of the autoencoder trained without one class
    # notebook 09
    "vae2_epochs": (3, 8),               # epochs of each 2-D VAE (β = 0.25, 1, 4)
    "vae20_epochs": (5, 8),              # epochs of the 20-D VAE (its nats)
    "classifier_epochs": (2, 4),         # epochs of the digit classifier that scores samples
    "vae_eval": (2_000, 500),            # test digits the ELBO and log p(x) are estimated on
    "iwae_samples": (100, 50),           # importance samples per test digit for log p(x)
    "vae_samples": (2_000, 1_000),       # generated images scored by the classifier and Fréchet distance
    # notebook 10
    "conv_train": (12_000, 2_000),       # training images of every convolutional autoencoder
    "conv_epochs": (3, 2),               # epochs of each convolutional autoencoder
    "conv_race_s": (10, 6),              # seconds of training each model gets in the equal-time race
}


def size(name: str) -> int:
    """The size ``name`` in the current mode (full, or fast when ``COURSE_FAST=1``)."""
    try:
        full, fast = SIZES[name]
    except KeyError:
        known = ", ".join(sorted(SIZES))
        raise ValueError(f"unknown size {name!r}; expected one of: {known}") from None
    return fast if FAST else full


def pick(full, fast):
    """Return ``fast`` in fast mode and ``full`` otherwise (for values that are not in SIZES)."""
    return fast if FAST else full


def _find_base_dir() -> Path:
    """The repository root when this package sits in a checkout, else the current directory."""
    root = Path(__file__).resolve().parents[1]
    if (root / "pyproject.toml").is_file() and (root / "course_utils").is_dir():
        return root
    return Path.cwd().resolve()


#: The folder relative COURSE_*_DIR paths are resolved against (fixed at import time).
_BASE_DIR: Path = _find_base_dir()


def _env_path(var: str) -> Path | None:
    value = os.environ.get(var)
    if not value:
        return None
    return (_BASE_DIR / Path(value).expanduser()).resolve()


def _user_cache_root() -> Path:
    if os.name == "nt":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "autoencoder-course"


def data_dir() -> Path:
    """Folder holding ``MNIST/raw/``: ``COURSE_DATA_DIR``, else a per-user cache folder."""
    return _env_path("COURSE_DATA_DIR") or (_user_cache_root() / "data")


def cache_dir() -> Path:
    """Folder for trained models and cached results: ``COURSE_CACHE_DIR``, else a per-user one."""
    return _env_path("COURSE_CACHE_DIR") or (_user_cache_root() / "models")


def artifact_dir() -> Path:
    """Folder for generated artifacts (screenshots, static site): ``COURSE_ARTIFACT_DIR``, else
    ``build/`` in the repository root (the base folder of relative paths, see the module docstring)."""
    return _env_path("COURSE_ARTIFACT_DIR") or (_BASE_DIR / "build")

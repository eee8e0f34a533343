"""The trained models the course shares: notebooks, widgets, ``prepare`` and benchmarks.

Each function returns models through :func:`course_utils.checkpoints.load_or_train` with a full
configuration (sizes from :mod:`course_utils.config`), so they are trained once and then load in
milliseconds — in a rerun, behind a slider, or after ``python -m course_utils.prepare`` before a talk.
"""
from __future__ import annotations

from . import checkpoints, config, data, models, training  # noqa: F401


# --- notebook 04: autoencoder (latent-size widget) -------------------------------------------

# --- notebook 05: stacked autoencoder ---------------------------------------------------------

# --- notebook 06: denoising autoencoder (noise widget) -----------------------------------------

# --- notebook 07: applications ---------------------------------------------------------------

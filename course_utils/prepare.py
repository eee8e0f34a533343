"""Train and cache every model the widgets need, so that in the room every slider responds at once.

Usage (before a talk, on Binder's ``postBuild``, or after changing a model)::

    python -m course_utils.prepare            # full size: what learners and presenters get
    COURSE_FAST=1 python -m course_utils.prepare   # small sizes, a smoke run
    python -m course_utils.prepare --list     # only say what would be prepared
    python -m course_utils.prepare latent_models denoisers   # only these jobs

It first makes sure MNIST is on disk, then runs the jobs of :data:`JOBS` — an explicit list, so
adding a helper anywhere never changes what ``prepare`` does. Each goes through the model store
(:mod:`course_utils.store`) or a cached computation, so a second run loads everything from
``COURSE_CACHE_DIR`` in moments. It prints what it cached and how long it took.
"""
from __future__ import annotations

import argparse
import inspect
import sys
import time
from pathlib import Path
from typing import Any, Callable

from . import config, manifolds, probe, store
from .data import ensure_mnist

__all__ = ["JOBS", "jobs", "prepare", "main"]

#: What ``prepare`` runs, in this order: ``name -> function called with no arguments``. The widget
#: models and sweeps of notebooks 02-10 (notebook-only models train on first use, with a bar).
JOBS: dict[str, Callable[[], Any]] = {
    "swiss_roll_sweeps": manifolds.swiss_roll_sweeps,        # 02: Isomap / LLE neighbour slider
    "swiss_roll_tsne": manifolds.swiss_roll_tsne,            # 02: the t-SNE row of the table
    "swiss_roll_autoencoder": store.swiss_roll_autoencoder,  # 02: the autoencoder row
    "mnist_tsne_sweep": manifolds.mnist_tsne_sweep,          # 03: perplexity slider
    "latent_models": store.latent_models,                    # 04: code-size slider
    "pca_fit": store.pca_fit,                                # 04-05: PCA baseline
    "latent_curve": store.latent_curve,                      # 04: error against code size
    "dae_steps": store.dae_steps,                            # 06: the repair, row by row
    "denoisers": store.denoisers,                            # 06: noise slider
    "compression_models": store.compression_models,          # 07: bits slider
    "compression_curve": store.compression_curve,            # 07: rate-distortion curve
    "probe_sweep": probe.probe_sweep,                        # 07: labels slider
    "curve_daes": store.curve_daes,                          # 08: σ slider, Langevin sampling
    "digit_classifier": store.digit_classifier,              # 09: scores samples (β slider, latent walk)
    "vae_models": store.vae_models,                          # 09: β slider (2-D VAEs), the 20-D VAE
    "conv_models": store.conv_models,                        # 10: code-size slider (convolutional family)
    "conv_curve": store.conv_curve,                          # 10: error against code size, FC and conv
}


def jobs(only: list[str] | None = None) -> list[tuple[str, Callable[[], Any]]]:
    """The ``(name, function)`` pairs of :data:`JOBS` to run: all, or those named in ``only``."""
    if not only:
        return list(JOBS.items())
    unknown = sorted(set(only) - set(JOBS))
    if unknown:
        raise ValueError(f"unknown job(s) {unknown}; expected some of {list(JOBS)}")
    return [(n, f) for n, f in JOBS.items() if n in only]


def _describe(value: Any) -> str:
    """A short human description of what a job returned (models, arrays, numbers)."""
    import numpy as np
    import torch

    counts = {"models": 0, "parameters": 0, "arrays": 0}

    def walk(v, depth=0):
        if depth > 4:
            return
        if isinstance(v, torch.nn.Module):
            counts["models"] += 1
            counts["parameters"] += sum(p.numel() for p in v.parameters())
        elif isinstance(v, (np.ndarray, torch.Tensor)):
            counts["arrays"] += 1
        elif isinstance(v, dict):
            for x in v.values():
                walk(x, depth + 1)
        elif isinstance(v, (list, tuple)):
            for x in v:
                walk(x, depth + 1)

    walk(value)
    parts = []
    if counts["models"]:
        parts.append(f"{counts['models']} model(s), {counts['parameters']:,} parameters")
    if counts["arrays"]:
        parts.append(f"{counts['arrays']} array(s)")
    return ", ".join(parts) or type(value).__name__


def _cache_files(folder: Path) -> dict[Path, float]:
    if not folder.is_dir():
        return {}
    return {p: p.stat().st_mtime for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")}


def prepare(only: list[str] | None = None, progress: bool = True,
            download: bool = True) -> list[dict[str, Any]]:
    """Run the jobs of :data:`JOBS` (all, or those named in ``only``); return one report per job.

    Each report holds ``name``, ``seconds``, ``what`` (a description of the result) and ``files``
    (cache files written or refreshed by it; empty when everything came from the cache).
    """
    from tqdm.auto import tqdm

    funcs = jobs(only)
    if download:
        ensure_mnist()
    cache = config.cache_dir()
    reports = []
    bar = tqdm(funcs, desc="preparing", unit="model set", disable=not progress or not funcs)
    for name, f in bar:
        bar.set_postfix_str(name)
        before = _cache_files(cache)
        t0 = time.perf_counter()
        value = f()
        seconds = time.perf_counter() - t0
        after = _cache_files(cache)
        files = sorted(p for p, m in after.items() if before.get(p) != m)
        reports.append({"name": name, "seconds": seconds, "what": _describe(value), "files": files})
    bar.close()
    return reports


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m course_utils.prepare",
        description="Train and cache every model the course's widgets need (see course_utils.prepare.JOBS).")
    parser.add_argument("only", nargs="*", help="names of jobs to prepare (default: all; see --list)")
    parser.add_argument("--list", action="store_true", help="list the jobs and exit")
    args = parser.parse_args(argv)

    if args.list:
        for name, f in JOBS.items():
            doc = (inspect.getdoc(f) or "").split("\n")[0]
            print(f"{name:24s} {doc}")
        return 0
    mode = "fast (COURSE_FAST=1)" if config.FAST else "full"
    n_jobs = len(args.only) if args.only else len(JOBS)
    print(f"Preparing {n_jobs} model set(s) in {mode} mode into {config.cache_dir()}")
    t0 = time.perf_counter()
    try:
        reports = prepare(only=args.only or None)
    except (ValueError, RuntimeError) as err:  # RuntimeError: MNISTError (missing/corrupt, offline)
        print(f"error: {err}", file=sys.stderr)
        return 2
    total = time.perf_counter() - t0
    for r in reports:
        state = f"trained, {len(r['files'])} file(s) cached" if r["files"] else "ready, nothing new to cache"
        print(f"  {r['name']:28s} {r['seconds']:8.1f} s  {state}: {r['what']}")
        for p in r["files"]:
            print(f"      {p.name}  ({p.stat().st_size / 1e6:.1f} MB)")
    size = sum(p.stat().st_size for p in _cache_files(config.cache_dir())) / 1e6
    print(f"Done: {len(reports)} model set(s) in {total:.1f} s; cache {config.cache_dir()} holds {size:.1f} MB.")
    return 0


if __name__ == "__main__":
    sys.exit(main())

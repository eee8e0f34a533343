"""Part 1c: the seminar's sigmoid network against the same shapes with Xavier initialisation,
untrained and trained, in one run (issue 17, target 2).

The seminar's network (notebook 06: sigmoid after every layer, weights and biases from N(0, 1))
saturates; on Intel CPUs its denormal floats made training ~10x slower. ``fit`` now flushes them
(``device.flush_denormals``). Four models: seminar and Xavier (same shapes and activations,
Xavier-uniform weights, zero biases), each untrained and after ``train_epochs`` epochs of the
seminar's recipe (σ = 0.3 noise, Adam 0.01, batch 300). For each: ``fit`` samples/s over one
epoch (continuing on a copy), with denormals flushed (what ``fit`` does) and, for comparison, not
flushed (the benchmark swaps ``training._denormals_flushed`` for a no-op context), and
``reconstruct`` images/s both ways. Contenders interleaved over the repeats; best of each. With one
torch thread the times are this thread's CPU time (``time.thread_time``), which on a loaded
machine counts the work and not the other processes' turns; with more threads, wall time.
Target: seminar / Xavier ≥ 0.8, trained and untrained. The share of denormal values in the
seminar net's gradients after one step is printed beside (the cause, when it is slow).
"""
from __future__ import annotations

import contextlib
import copy
import time

import torch
from torch import nn

from .common import row

BATCH = 300


def xavier_like_seminar() -> nn.Module:
    from course_utils.models import seminar_dae

    m = seminar_dae()
    for layer in m.modules():
        if isinstance(layer, nn.Linear):
            nn.init.xavier_uniform_(layer.weight)
            nn.init.zeros_(layer.bias)
    return m


def denormal_share(model: nn.Module, x: torch.Tensor) -> float:
    """Share of the gradient values that are denormal floats after one step on ``x``."""
    m = copy.deepcopy(model)
    g = torch.Generator().manual_seed(0)
    out = m(x + 0.3 * torch.randn(x.shape, generator=g))
    nn.functional.mse_loss(out, x).backward()
    tiny = torch.finfo(torch.float32).tiny
    grads = torch.cat([p.grad.flatten() for p in m.parameters()])
    # computed with denormals kept, as the gradients would be without flushing
    return float(((grads != 0) & (grads.abs() < tiny)).float().mean())


def _clock():
    return time.thread_time if torch.get_num_threads() == 1 else time.perf_counter


def _fit_sps(model: nn.Module, x: torch.Tensor, flush: bool) -> float:
    from course_utils import training

    m = copy.deepcopy(model)
    saved = training._denormals_flushed
    if not flush:
        training._denormals_flushed = lambda device: contextlib.nullcontext()
    clock = _clock()
    try:
        t = clock()
        training.fit(m, x, epochs=1, batch_size=BATCH, lr=0.01, noise=0.3, progress=False, device="cpu")
        return len(x) / (clock() - t)
    finally:
        training._denormals_flushed = saved


def _reconstruct_ips(model: nn.Module, x: torch.Tensor, flush: bool) -> float:
    from course_utils import training

    saved = training._denormals_flushed
    if not flush:
        training._denormals_flushed = lambda device: contextlib.nullcontext()
    clock = _clock()
    try:
        t = clock()
        training.reconstruct(model, x)
        return len(x) / (clock() - t)
    finally:
        training._denormals_flushed = saved


def run(quick: bool = False, repeats: int | None = None, n_train: int | None = None,
        train_epochs: int | None = None, **_) -> dict:
    from course_utils.data import load_mnist
    from course_utils.device import flushes_denormals
    from course_utils.models import seminar_dae
    from course_utils.training import fit

    repeats = repeats or (1 if quick else 3)
    n = n_train or (1_500 if quick else 9_000)
    train_epochs = train_epochs or (1 if quick else 10)
    x, _ = load_mnist("train", n=n)
    xt, _ = load_mnist("test", n=min(n, 5_000))
    assert not flushes_denormals(), "the benchmark starts with denormals kept (torch's default)"
    torch.manual_seed(0)
    models = {"seminar untrained": seminar_dae()}
    torch.manual_seed(0)
    models["xavier untrained"] = xavier_like_seminar()
    t = time.perf_counter()
    for kind in ("seminar", "xavier"):
        m = copy.deepcopy(models[f"{kind} untrained"])
        fit(m, x, epochs=train_epochs, batch_size=BATCH, lr=0.01, noise=0.3, progress=False, device="cpu", seed=1)
        models[f"{kind} trained"] = m
    train_s = time.perf_counter() - t
    shares = {k: denormal_share(m, x[:BATCH]) for k, m in models.items()}
    fit_sps = {(k, f): [] for k in models for f in (True, False)}
    rec_ips = {(k, f): [] for k in models for f in (True, False)}
    for _ in range(repeats):
        for (k, f) in fit_sps:
            fit_sps[(k, f)].append(_fit_sps(models[k], x, f))
            rec_ips[(k, f)].append(_reconstruct_ips(models[k], xt, f))
    best = {key: max(v) for key, v in fit_sps.items()}
    best_rec = {key: max(v) for key, v in rec_ips.items()}
    res = {"clock": "thread CPU time" if _clock() is time.thread_time else "wall", "n_train": n, "train_epochs": train_epochs, "train_seconds": train_s, "repeats": repeats,
           "denormal_share_of_gradients": shares,
           "fit_samples_per_sec": {f"{k}, {'flushed' if f else 'kept'}": v for (k, f), v in fit_sps.items()},
           "reconstruct_images_per_sec": {f"{k}, {'flushed' if f else 'kept'}": v for (k, f), v in rec_ips.items()}}
    rows = [row("clock", res["clock"], "")]
    for state in ("untrained", "trained"):
        s, xv = best[(f"seminar {state}", True)], best[(f"xavier {state}", True)]
        ratio = s / xv
        res[f"seminar_over_xavier_{state}"] = ratio
        s_off, x_off = best[(f"seminar {state}", False)], best[(f"xavier {state}", False)]
        res[f"seminar_over_xavier_{state}_kept"] = s_off / x_off
        rows += [row(f"{state}: fit seminar / Xavier samples/s", f"{s:.0f} / {xv:.0f}", "samples/s"),
                 row(f"{state}: seminar / Xavier (fit, flushed)", round(ratio, 3), "", "≥ 0.8", ratio >= 0.8),
                 row(f"{state}: same, denormals kept", round(s_off / x_off, 3),
                     "", "", None),
                 row(f"{state}: seminar fit flushed / kept", round(s / s_off, 3), "×"),
                 row(f"{state}: reconstruct seminar flushed / kept",
                     round(best_rec[(f'seminar {state}', True)] / best_rec[(f'seminar {state}', False)], 3), "×"),
                 row(f"{state}: denormal share of seminar gradients", f"{shares[f'seminar {state}']:.2e}", "")]
    res["rows"] = rows
    return res

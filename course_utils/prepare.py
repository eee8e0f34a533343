"""Train and cache every model the widgets need, so that in the room every slider responds at once.

Usage (before a talk, on Binder's ``postBuild``, or after changing a model)::

    python -m course_utils.prepare            # full size: what learners and presenters get
    COURSE_FAST=1 python -m course_utils.prepare   # small sizes, a smoke run
    python -m course_utils.prepare --list     # only say what would be prepared

It first makes sure MNIST is on disk, then calls every *widget-model function* of
:mod:`course_utils.zoo` — ``zoo.PREPARE`` when the zoo defines that list, otherwise every public
function defined there (name not starting with ``_``) that needs no arguments, in source order. Each goes through
:func:`course_utils.checkpoints.load_or_train` / ``load_or_compute``, so a second run loads
everything from ``COURSE_CACHE_DIR`` in moments. It prints what it cached and how long it took.
"""
from __future__ import annotations

import argparse
import inspect
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

from . import config

__all__ = ["discover", "prepare", "main"]


def _required_args(f: Callable) -> list[str]:
    return [p.name for p in inspect.signature(f).parameters.values()
            if p.default is inspect.Parameter.empty
            and p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)]


def discover(module: ModuleType | None = None) -> tuple[list[tuple[str, Callable[[], Any]]], list[str]]:
    """``(functions, skipped)``: the widget-model functions of ``module`` (default
    :mod:`course_utils.zoo`) in source order, and the names of public functions left out.

    With ``module.PREPARE`` (a list of functions) exactly those are used, and each must be callable
    without arguments (ValueError otherwise). Without it: every public function defined in the
    module itself (imported helpers ignored) that needs no arguments; those needing arguments are
    returned in ``skipped``.
    """
    if module is None:
        from . import zoo as module
    if not isinstance(module, ModuleType):
        raise ValueError(f"discover expects a module, got {type(module).__name__}")
    listed = getattr(module, "PREPARE", None)
    if listed is not None:
        if isinstance(listed, (str, bytes)) or not all(callable(f) for f in listed):
            raise ValueError(f"{module.__name__}.PREPARE must be a list of functions, got {listed!r}")
        funcs = [(getattr(f, "__name__", repr(f)), f) for f in listed]
        for name, f in funcs:
            if _required_args(f):
                raise ValueError(
                    f"{module.__name__}.PREPARE lists {name}, which has required argument(s) "
                    f"{_required_args(f)}; prepare calls every listed function with no arguments")
        return funcs, []
    public = [(name, f) for name, f in vars(module).items()
              if inspect.isfunction(f) and not name.startswith("_") and f.__module__ == module.__name__]
    public.sort(key=lambda nf: nf[1].__code__.co_firstlineno)
    funcs = [(n, f) for n, f in public if not _required_args(f)]
    skipped = [n for n, f in public if _required_args(f)]
    return funcs, skipped


def _describe(value: Any) -> str:
    """A short human description of what a zoo function returned (models, arrays, numbers)."""
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


def prepare(module: ModuleType | None = None, only: list[str] | None = None, progress: bool = True,
            download: bool = True) -> list[dict[str, Any]]:
    """Call every widget-model function (see :func:`discover`); return one report per function.

    Each report holds ``name``, ``seconds``, ``what`` (a description of the result) and ``files``
    (cache files written or refreshed by it; empty when everything came from the cache).
    """
    from tqdm.auto import tqdm

    funcs, _ = discover(module)
    if only:
        known = [n for n, _ in funcs]
        unknown = sorted(set(only) - set(known))
        if unknown:
            raise ValueError(f"unknown zoo function(s) {unknown}; expected some of {known}")
        funcs = [(n, f) for n, f in funcs if n in only]
    if download:
        from .data import ensure_mnist
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
        description="Train and cache every model the course's widgets need (see course_utils.zoo).")
    parser.add_argument("only", nargs="*", help="names of zoo functions to prepare (default: all)")
    parser.add_argument("--list", action="store_true", help="list the zoo functions and exit")
    args = parser.parse_args(argv)

    try:
        funcs, skipped = discover()
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.list:
        for name, f in funcs:
            doc = (inspect.getdoc(f) or "").split("\n")[0]
            print(f"{name:28s} {doc}")
        if skipped:
            print(f"(skipped, they need arguments: {', '.join(skipped)})")
        return 0
    mode = "fast (COURSE_FAST=1)" if config.FAST else "full"
    print(f"Preparing {len(funcs)} model set(s) in {mode} mode into {config.cache_dir()}")
    if skipped:
        print(f"(skipped, they need arguments: {', '.join(skipped)})")
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

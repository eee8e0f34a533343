"""Automatic checks for the exercises: each says right or wrong, and why.

A notebook's exercise cell calls a check on the learner's answer; a check never raises on a wrong
answer (it prints why and returns False), so a learner can try again. The solution cell below it
runs ``assert check_...(solution)``, so CI proves every check accepts the right answer. An answer
left as ``None`` or ``...`` is reported as "not attempted yet".
"""
from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

__all__ = ["check_value", "check_function", "not_attempted"]


def not_attempted(answer: Any) -> bool:
    """True for an answer the learner has not filled in yet (``None`` or ``...``)."""
    return answer is None or answer is Ellipsis


def _say(ok: bool, name: str, why: str) -> bool:
    print(f"{'✅ correct' if ok else '❌ not yet'} — {name}: {why}")
    return ok


def check_value(name: str, answer: Any, expected: Any, *, rtol: float = 1e-3, atol: float = 0.0,
                hint: str = "") -> bool:
    """Compare a number (or array) with the expected one within tolerances; print a verdict."""
    if not_attempted(answer):
        print(f"⏳ {name}: not attempted yet. Fill in the answer, or reveal the solution below.")
        return False
    try:
        a = np.asarray(answer, dtype=float)
        e = np.asarray(expected, dtype=float)
    except (TypeError, ValueError):
        return _say(False, name, f"expected a number, got {type(answer).__name__}. {hint}".strip())
    if a.shape != e.shape:
        return _say(False, name, f"expected shape {e.shape}, got {a.shape}. {hint}".strip())
    if not np.all(np.isfinite(a)):
        return _say(False, name, f"the answer contains NaN or infinity. {hint}".strip())
    ok = bool(np.allclose(a, e, rtol=rtol, atol=atol))
    shown = f"{float(a):.6g}" if a.ndim == 0 else f"array of shape {a.shape}"
    want = f"{float(e):.6g}" if e.ndim == 0 else "the reference array"
    if ok:
        return _say(True, name, f"{shown} matches {want}.")
    return _say(False, name, f"{shown} differs from {want} (tolerance rtol={rtol}, atol={atol}). {hint}".strip())


def check_function(name: str, fn: Callable | None, reference: Callable, cases: list[tuple],
                   *, rtol: float = 1e-4, atol: float = 1e-6, hint: str = "") -> bool:
    """Call the learner's ``fn`` and ``reference`` on each argument tuple in ``cases`` and compare."""
    if not_attempted(fn):
        print(f"⏳ {name}: not attempted yet. Write the function, or reveal the solution below.")
        return False
    for args in cases:
        try:
            got = fn(*args)
        except NotImplementedError:
            print(f"⏳ {name}: not attempted yet (NotImplementedError). Reveal the solution below if stuck.")
            return False
        except Exception as err:  # the learner's code may raise anything
            return _say(False, name, f"raised {type(err).__name__}: {err}. {hint}".strip())
        if got is None or got is Ellipsis:
            print(f"⏳ {name}: not attempted yet (returned {got!r}).")
            return False
        want = reference(*args)
        g = np.asarray(_to_numpy(got), dtype=float)
        w = np.asarray(_to_numpy(want), dtype=float)
        if g.shape != w.shape or not np.allclose(g, w, rtol=rtol, atol=atol):
            detail = (f"shape {g.shape} instead of {w.shape}" if g.shape != w.shape
                      else f"max difference {np.max(np.abs(g - w)):.3g}")
            return _say(False, name, f"wrong result for a test input ({detail}). {hint}".strip())
    return _say(True, name, f"matches the reference on {len(cases)} test input(s).")


def _to_numpy(x):
    try:
        import torch
        if isinstance(x, torch.Tensor):
            return x.detach().cpu().numpy()
    except ImportError:  # pragma: no cover
        pass
    if isinstance(x, float) and math.isnan(x):
        return np.nan
    return x

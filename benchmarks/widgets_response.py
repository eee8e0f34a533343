"""Part 4: response time of the widget callbacks (noise level, latent size), models cached.

The callbacks are found in ``course_utils.widgets`` by name (a function whose name mentions
"noise", and one that mentions "latent"); a missing one is reported as "not available". Each is
called once first (that call may train or load the cached models: reported as ``first_call_s``),
then over its slider's values, twice. Two times are taken per call: the callback alone, and the
callback plus rendering its figure to PNG the way Jupyter's inline backend does (what a learner
waits for after releasing the slider). The target (median ≤ 150 ms) is judged on the latter.
"""
from __future__ import annotations

import inspect
import io
import statistics
import time

from .common import row

TARGET_MS = 150.0


def find_callbacks() -> dict[str, object]:
    """{"noise": fn or None, "latent": fn or None} from course_utils.widgets."""
    from course_utils import widgets

    found = {"noise": None, "latent": None}
    for name, fn in vars(widgets).items():
        if not inspect.isfunction(fn) or fn.__module__ != widgets.__name__ or name.startswith("_"):
            continue
        if name == "show_interactive":
            continue
        for key in found:
            if key in name.lower() and found[key] is None:
                found[key] = fn
    return found


def slider_values(kind: str, fn) -> tuple[str, list]:
    """(argument name, values the slider moves over) for a callback."""
    params = list(inspect.signature(fn).parameters.values())
    if not params:
        raise ValueError(f"{fn.__name__} takes no argument to sweep")
    arg = params[0].name
    if kind == "latent":
        try:
            from course_utils import recipes
            values = list(recipes.LATENT_SIZES)
        except (ImportError, AttributeError):
            values = [2, 4, 8, 16, 32, 64]
    else:
        values = [round(0.1 * i, 2) for i in range(11)]
    return arg, values


def _time_call(fn, kwargs) -> tuple[float, float] | None:
    import matplotlib.pyplot as plt

    t = time.perf_counter()
    try:
        out = fn(**kwargs)
    except ValueError:
        return None  # a value outside this slider's range
    t_cb = time.perf_counter() - t
    fig = out[0] if isinstance(out, tuple) else out
    if fig is not None:
        buf = io.BytesIO()
        fig.savefig(buf, format="png", bbox_inches="tight")
        plt.close(fig)
    return t_cb, time.perf_counter() - t


def run(quick: bool = False, rounds: int | None = None, **_) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    from course_utils import config

    rounds = rounds or (1 if quick else 2)
    saved = config.FAST
    config.FAST = saved or quick  # quick: the fast-mode models (seconds to train in a fresh cache)
    res, rows = {"fast_sizes": config.FAST, "cache_dir": str(config.cache_dir()), "callbacks": {}}, []
    try:
        for kind, fn in find_callbacks().items():
            label = {"noise": "noise-level", "latent": "latent-size"}[kind]
            if fn is None:
                res["callbacks"][kind] = {"available": False}
                rows.append(row(f"{label} callback", "not available", "", f"≤ {TARGET_MS:g} ms"))
                continue
            arg, values = slider_values(kind, fn)
            if quick:
                values = values[:3]
            t0 = time.perf_counter()
            first = None
            for v in values:  # the first accepted value: may train or load the cached models
                first = _time_call(fn, {arg: v})
                if first is not None:
                    break
            first_s = time.perf_counter() - t0
            cb, total, used = [], [], []
            for _ in range(rounds):
                for v in values:
                    t = _time_call(fn, {arg: v})
                    if t is not None:
                        cb.append(1e3 * t[0]); total.append(1e3 * t[1]); used.append(v)
            if not total:
                res["callbacks"][kind] = {"available": True, "name": fn.__name__,
                                          "error": "no slider value accepted"}
                rows.append(row(f"{label} ({fn.__name__})", "no value accepted", ""))
                continue
            entry = {"available": True, "name": fn.__name__, "argument": arg, "values": used,
                     "first_call_s": first_s, "calls": len(total),
                     "callback_ms_median": statistics.median(cb), "callback_ms_worst": max(cb),
                     "with_render_ms_median": statistics.median(total),
                     "with_render_ms_worst": max(total)}
            res["callbacks"][kind] = entry
            med = entry["with_render_ms_median"]
            rows += [
                row(f"{label} {fn.__name__}: median (+render)", round(med, 1), "ms",
                    f"≤ {TARGET_MS:g}", med <= TARGET_MS),
                row(f"{label}: worst (+render)", round(entry["with_render_ms_worst"], 1), "ms"),
                row(f"{label}: callback alone median / worst",
                    f"{entry['callback_ms_median']:.0f} / {entry['callback_ms_worst']:.0f}", "ms"),
                row(f"{label}: first call (train or load models)", round(first_s, 2), "s"),
            ]
    finally:
        config.FAST = saved
    res["rows"] = rows
    return res

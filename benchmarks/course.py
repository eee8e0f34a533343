"""Part 5: wall time and peak memory of every notebook, in fast mode and in full mode.

Each notebook runs top to bottom in a fresh kernel started by nbclient, from the notebooks folder,
with ``COURSE_FAST=1`` (fast) or without it (full). Each mode gets one fresh, empty model cache
shared by that mode's notebooks in order (as CI does), so trained models are paid for once. The
third mode, ``full-cached``, runs the full-size notebooks again on the full run's cache: what a
Binder user (whose image ran ``python -m course_utils.prepare``) or a returning learner gets.

Peak memory: after the notebook's last cell, the benchmark runs one more cell in the same kernel
(appended to the in-memory copy only) that reads the kernel process's own high-water mark of
resident memory: ``VmHWM`` from ``/proc/self/status`` on Linux, else ``ru_maxrss`` from
``resource.getrusage`` (same quantity), and on Linux the resident memory at that moment (``VmRSS``:
what the kernel keeps holding after Run All). The largest peak among the kernel's finished child
processes (``RUSAGE_CHILDREN``) is reported beside it. Wall time includes starting the kernel.
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

from .common import REPO, row

TARGET_FAST_S, TARGET_FULL_S = 240.0, 1200.0
#: issue 17, target 5: two kernels in Binder's 2 GB: each notebook's peak ≤ 1.2 GB (it was 1.5 GB
#: before) and the kernel's resident memory after Run All ≤ 700 MB (MB here are MiB, as /proc says)
TARGET_PEAK_MB, TARGET_AFTER_MB = 1.2 * 1024, 700.0
#: fast and full: each with a fresh, empty model cache (models are trained in the notebooks);
#: full-cached: full sizes again, reusing the full run's cache, as on Binder after ``postBuild``
#: (``python -m course_utils.prepare``) or on a learner's second visit: models are loaded.
MODES = ("fast", "full", "full-cached")

PROBE = r'''
import json as _j, resource as _r, sys as _s
_m = {"self_maxrss_mb": _r.getrusage(_r.RUSAGE_SELF).ru_maxrss / (1024 * 1024 if _s.platform == "darwin" else 1024),
      "children_maxrss_mb": _r.getrusage(_r.RUSAGE_CHILDREN).ru_maxrss / (1024 * 1024 if _s.platform == "darwin" else 1024)}
try:
    for _l in open("/proc/self/status"):
        if _l.startswith("VmHWM:"):
            _m["vmhwm_mb"] = int(_l.split()[1]) / 1024
        elif _l.startswith("VmRSS:"):  # resident now, after Run All: what the kernel keeps holding
            _m["vmrss_mb"] = int(_l.split()[1]) / 1024
except OSError:
    pass
print("__PEAK__" + _j.dumps(_m))
'''


def run_notebook(path: Path, fast: bool, cache_dir: str, timeout: int | None = None, probe: str = "") -> dict:
    """Run one notebook in a fresh kernel; ``timeout`` is the seconds one cell may run (default the
    static site's: 600 at full size, 180 in fast mode), so a hung cell fails in minutes. ``probe``:
    more code for the measuring cell appended after the last one (what it prints: ``probe_text``)."""
    import nbformat
    from nbclient.exceptions import CellTimeoutError

    from course_utils.headless import HeadlessClient
    from course_utils.site import CELL_TIMEOUT_S

    timeout = CELL_TIMEOUT_S[1 if fast else 0] if timeout is None else timeout

    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(PROBE + probe))
    env_keys = ("COURSE_FAST", "COURSE_CACHE_DIR", "MPLBACKEND")
    saved = {k: os.environ.get(k) for k in env_keys}
    os.environ["COURSE_CACHE_DIR"] = cache_dir
    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    if fast:
        os.environ["COURSE_FAST"] = "1"
    else:
        os.environ.pop("COURSE_FAST", None)
    t = time.perf_counter()
    error = None
    try:  # the kernel inherits this environment when it starts
        client = HeadlessClient(nb, timeout=timeout, kernel_name="python3",
                                resources={"metadata": {"path": str(path.parent)}})
        client.execute()
    except CellTimeoutError:
        error = f"a cell ran longer than the {timeout} s allowed per cell (hung?)"
    except Exception as err:  # a failing cell: report it, keep the figures of the others
        error = f"{type(err).__name__}: {str(err).strip().splitlines()[-1][:200] if str(err).strip() else ''}"
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    wall = time.perf_counter() - t
    peak = {}
    text = "".join(out.get("text", "") for out in nb.cells[-1].get("outputs", []))
    if "__PEAK__" in text:
        peak = json.loads(text.split("__PEAK__", 1)[1].strip().splitlines()[0])
    peak_mb = peak.get("vmhwm_mb", peak.get("self_maxrss_mb"))
    return {"wall_s": wall, "peak_mb": peak_mb, "after_mb": peak.get("vmrss_mb"), "peak": peak, "error": error,
            "probe_text": text}


class _Kept:
    """A model cache folder that outlives the run (``--keep-cache``): new or empty, never emptied."""

    def __init__(self, path):
        self.name = str(Path(path).resolve())
        Path(self.name).mkdir(parents=True, exist_ok=True)
        if any(Path(self.name).iterdir()):
            raise ValueError(f"keep_cache must be a new or empty folder (the full run starts from an empty "
                             f"cache), got {self.name}, which holds files")

    def cleanup(self) -> None:
        pass


def run(quick: bool = False, modes=None, notebooks=None, keep_cache=None, **_) -> dict:
    nb_dir = REPO / "notebooks"
    paths = sorted(nb_dir.glob("[0-9]*.ipynb"))
    if notebooks:
        wanted = set(notebooks)
        paths = [p for p in paths if p.name in wanted or p.stem in wanted]
    elif quick:
        paths = paths[:1]
    modes = list(modes or (["fast"] if quick else ["fast", "full", "full-cached"]))
    bad = [m for m in modes if m not in MODES]
    if bad:
        raise ValueError(f"modes must be among {MODES}, got {bad}")
    if "full-cached" in modes and "full" not in modes:
        modes.insert(modes.index("full-cached"), "full")  # the cached run needs the full run's cache
    res = {"measured_by": "nbclient, fresh kernel per notebook; peak = kernel VmHWM (/proc/self/status) "
                          "or ru_maxrss, read by an appended cell; wall includes kernel start",
           "notebooks": [p.name for p in paths], "modes": {}}
    rows = []
    caches = {"fast": tempfile.TemporaryDirectory(prefix="course-bench-fast-"),
              "full": _Kept(keep_cache) if keep_cache else tempfile.TemporaryDirectory(prefix="course-bench-full-")}
    caches["full-cached"] = caches["full"]  # every model and result already there, as on Binder
    try:
        for mode in modes:
            per = {}
            for p in paths:  # one line per notebook as it ends, so a stopped run still shows its figures
                per[p.name] = v = run_notebook(p, mode == "fast", caches[mode].name)
                print(f"  course {mode}: {p.name}: {v['wall_s']:.1f} s, peak {v['peak_mb']} MB, "
                      f"after {v['after_mb']} MB" + (f", FAILED: {v['error']}" if v["error"] else ""),
                      file=sys.stderr, flush=True)
            total = sum(v["wall_s"] for v in per.values())
            peaks = [v["peak_mb"] for v in per.values() if v["peak_mb"] is not None]
            failed = [k for k, v in per.items() if v["error"]]
            afters = [v["after_mb"] for v in per.values() if v.get("after_mb") is not None]
            res["modes"][mode] = {"notebooks": per, "total_wall_s": total,
                                  "max_peak_mb": max(peaks) if peaks else None,
                                  "max_after_mb": max(afters) if afters else None, "failed": failed}
            target_s = TARGET_FAST_S if mode == "fast" else TARGET_FULL_S
            complete = not quick and not notebooks
            for name, v in per.items():
                rows.append(row(f"{mode}: {name[:32]}", round(v["wall_s"], 1) if not v["error"] else "FAILED",
                                "s", "", None if not v["error"] else False))
                rows.append(row(f"{mode}: {name[:32]} peak", None if v["peak_mb"] is None else round(v["peak_mb"]),
                                "MB", f"≤ {TARGET_PEAK_MB:g}",
                                None if v["peak_mb"] is None else v["peak_mb"] <= TARGET_PEAK_MB))
                if v.get("after_mb") is not None:
                    rows.append(row(f"{mode}: {name[:32]} resident after", round(v["after_mb"]), "MB",
                                    f"≤ {TARGET_AFTER_MB:g}", v["after_mb"] <= TARGET_AFTER_MB))
            rows.append(row(f"{mode}: whole course ({len(per)} notebooks)", round(total, 1), "s",
                            f"≤ {target_s:g}", (total <= target_s and not failed) if complete else None))
    finally:
        caches["fast"].cleanup()
        caches["full"].cleanup()
    res["rows"] = rows
    return res

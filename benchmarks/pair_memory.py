"""Part 5b: two notebooks' kernels side by side under a memory limit (issue 17, target 5).

A learner on Binder keeps earlier kernels running, and Binder gives 2 GB. This part runs two
notebooks (default 04 and 06) at the same time, each in a fresh kernel, from a prepared cache
(``--cache DIR``; without one it first runs both notebooks once, one after the other, into a
fresh cache, as ``python -m course_utils.prepare`` would have), and reports whether both finished
and the peak memory of the pair.

The limit: on Linux as root, a child memory cgroup of this process's own cgroup (so every limit
above still applies) with ``memory.max`` (v2) or ``memory.limit_in_bytes`` (v1) = ``limit_mb``;
each kernel joins it before it starts (a kernelspec whose command writes its pid to the cgroup and
then execs ipykernel). The pair's peak is the cgroup's own high-water mark (v2 ``memory.peak``, v1
``memory.max_usage_in_bytes``; page cache included) beside the sum of the two kernels' ``VmHWM``
(each kernel's peak resident memory; their sum bounds the pair's simultaneous peak from above).
Where no cgroup can be made, the report says the limit could not be set and gives the sums.
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

from .common import REPO, row
from .course import PROBE

LIMIT_MB = 2048


def _own_memory_cgroup() -> tuple[Path | None, str]:
    """(a fresh child of this process's memory cgroup, "v1"/"v2") or (None, why not)."""
    if not sys.platform.startswith("linux"):
        return None, "not Linux"
    if os.geteuid() != 0:
        return None, "not root"
    v1 = v2 = None
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, ctl, path = line.split(":", 2)
        if ctl == "":
            v2 = path
        elif "memory" in ctl.split(","):
            v1 = path
    name = f"course_pair_{os.getpid()}"
    if v1 is not None and Path("/sys/fs/cgroup/memory").is_dir():
        return Path("/sys/fs/cgroup/memory") / v1.strip("/") / name, "v1"
    for mount in (Path("/sys/fs/cgroup"), Path("/sys/fs/cgroup/unified")):
        try:
            if "memory" in (mount / "cgroup.controllers").read_text().split():
                return mount / (v2 or "/").strip("/") / name, "v2"
        except OSError:
            continue
    return None, "no memory controller"


def make_limit(limit_mb: int) -> tuple[Path | None, str, str]:
    folder, kind = _own_memory_cgroup()
    if folder is None:
        return None, "", f"the limit could not be set ({kind})"
    try:
        folder.mkdir()
        if kind == "v1":
            (folder / "memory.limit_in_bytes").write_text(str(limit_mb << 20))
            try:  # swap too, where the kernel accounts it
                (folder / "memory.memsw.limit_in_bytes").write_text(str(limit_mb << 20))
            except OSError:
                pass
        else:
            (folder / "memory.max").write_text(str(limit_mb << 20))
            try:
                (folder / "memory.swap.max").write_text("0")
            except OSError:
                pass
    except OSError as err:
        return None, "", f"the limit could not be set ({err})"
    return folder, kind, f"cgroup {kind} {folder}: {limit_mb} MB"


def _peak_mb(folder: Path, kind: str) -> float | None:
    name = "memory.max_usage_in_bytes" if kind == "v1" else "memory.peak"
    try:
        return int((folder / name).read_text()) / (1 << 20)
    except (OSError, ValueError):
        return None


def _kernelspec(root: Path, cgroup: Path | None) -> str:
    """A kernelspec under ``root`` whose kernel joins ``cgroup`` (if any) before ipykernel starts."""
    spec = root / "kernels" / "course-limited"
    spec.mkdir(parents=True)
    launch = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    if cgroup is not None:
        argv = ["/bin/sh", "-c", f'echo $$ > "{cgroup}/cgroup.procs" && exec "$0" "$@"', *launch]
    else:
        argv = launch
    (spec / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "course (limited)",
                                                  "language": "python"}))
    return "course-limited"


def _run(path: Path, kernel: str, timeout: int, out: dict) -> None:
    import nbformat

    from course_utils.headless import HeadlessClient

    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(PROBE))
    t = time.perf_counter()
    try:
        HeadlessClient(nb, timeout=timeout, kernel_name=kernel,
                       resources={"metadata": {"path": str(path.parent)}}).execute()
        out["error"] = None
    except Exception as err:  # a dead (killed) kernel or a failing cell
        out["error"] = f"{type(err).__name__}: {str(err).strip().splitlines()[-1][:200] if str(err).strip() else ''}"
    out["wall_s"] = time.perf_counter() - t
    for o in nb.cells[-1].get("outputs", []):
        if "__PEAK__" in o.get("text", ""):
            peak = json.loads(o["text"].split("__PEAK__", 1)[1].strip().splitlines()[0])
            out["peak_mb"] = peak.get("vmhwm_mb", peak.get("self_maxrss_mb"))


def run(quick: bool = False, notebooks=None, cache: str | None = None, fast: bool | None = None,
        limit_mb: int = LIMIT_MB, **_) -> dict:
    from course_utils.site import CELL_TIMEOUT_S

    fast = quick if fast is None else fast
    names = list(notebooks or ["04_autoencoder.ipynb", "06_denoising_autoencoder.ipynb"])[:2]
    paths = [REPO / "notebooks" / n for n in names]
    tmp = tempfile.TemporaryDirectory(prefix="course-pair-")
    saved = {k: os.environ.get(k) for k in ("COURSE_FAST", "COURSE_CACHE_DIR", "MPLBACKEND", "JUPYTER_PATH")}
    cache_dir = cache or str(Path(tmp.name) / "cache")
    os.environ["COURSE_CACHE_DIR"] = cache_dir
    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    os.environ["COURSE_FAST"] = "1" if fast else ""
    if not fast:
        os.environ.pop("COURSE_FAST", None)
    timeout = CELL_TIMEOUT_S[1 if fast else 0]
    folder, kind, how = make_limit(limit_mb)
    res = {"notebooks": names, "fast": fast, "cache": cache or "prepared here", "limit": how,
           "limit_set": folder is not None,
           "map_images": os.environ.get("COURSE_MAP_IMAGES", "1").strip() != "0"}  # False: each kernel its own copy
    try:
        os.environ["JUPYTER_PATH"] = str(Path(tmp.name) / "jupyter") + (
            os.pathsep + saved["JUPYTER_PATH"] if saved["JUPYTER_PATH"] else "")
        if cache is None:  # prepare: each notebook once, alone and unlimited, into the fresh cache
            plain = _kernelspec(Path(tmp.name) / "jupyter_plain", None)
            os.environ["JUPYTER_PATH"] = str(Path(tmp.name) / "jupyter_plain")
            prep = {}
            for p in paths:
                prep[p.name] = {}
                _run(p, plain, timeout, prep[p.name])
            res["prepare"] = prep
            os.environ["JUPYTER_PATH"] = str(Path(tmp.name) / "jupyter")
        kernel = _kernelspec(Path(tmp.name) / "jupyter", folder)
        per = {p.name: {} for p in paths}
        threads = [threading.Thread(target=_run, args=(p, kernel, timeout, per[p.name])) for p in paths]
        t = time.perf_counter()
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        res["wall_s"] = time.perf_counter() - t
        res["kernels"] = per
        res["both_finished"] = all(v.get("error") is None for v in per.values())
        peaks = [v.get("peak_mb") for v in per.values()]
        res["sum_of_kernel_peaks_mb"] = sum(peaks) if all(p is not None for p in peaks) else None
        res["cgroup_peak_mb"] = _peak_mb(folder, kind) if folder is not None else None
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        if folder is not None:
            try:
                folder.rmdir()
            except OSError:
                pass
        tmp.cleanup()
    rows = [row("memory limit", how if folder is not None else "not set: " + how, ""),
            row(f"both finished ({' + '.join(n[:2] for n in names)}, {'fast' if fast else 'full'})",
                res["both_finished"], "", "yes", res["both_finished"]),
            row("pair peak: cgroup high-water mark (page cache incl.)",
                None if res["cgroup_peak_mb"] is None else round(res["cgroup_peak_mb"]), "MB",
                f"≤ {limit_mb}"),
            row("pair: sum of the kernels' VmHWM", None if res["sum_of_kernel_peaks_mb"] is None
                else round(res["sum_of_kernel_peaks_mb"]), "MB")]
    for name, v in res["kernels"].items():
        rows.append(row(f"{name[:32]}: peak / wall", f"{v.get('peak_mb') or 0:.0f} MB / {v.get('wall_s', 0):.0f} s"
                        + (f" ({v['error'][:60]})" if v.get("error") else ""), ""))
    res["rows"] = rows
    return res
